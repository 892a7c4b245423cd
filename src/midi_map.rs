//! MIDI in, engine commands out: pure, no I/O.
//!
//! - [`message`]: the byte parser ([`MidiParser`] → [`MidiMessage`]).
//! - [`binding`]: [`MidiBinding`] — a control, a mode and a target, as data.
//! - [`MidiMap`] (here): bindings read from `[[midi]]` tables in a map file
//!   or a patch, with `file:line:` errors, and written back.
//! - [`router`]: [`MidiRouter`], the MIDI thread's state: bindings, toggles,
//!   the selected track, the last message for the screen, MIDI learn.
//! - [`learn`]: [`LearnRequest`] and saving learned bindings.
//! - `conflict`: which bindings on one control play together (one knob on
//!   two tracks) and which fight over one setting (refused).
//!
//! The format is documented in `docs/midi.md`.

pub mod binding;
mod conflict;
pub mod feedback;
pub mod learn;
pub mod message;
pub mod router;
mod toml_format;

use std::path::Path;

use toml::de::DeValue;

pub use binding::{
    BindingMode, BindingTarget, ChannelFilter, Control, Curve, Encoding, MidiBinding, SelectTrack,
    TrackTarget,
};
pub use feedback::{Feedback, FeedbackTable, FEEDBACK_KEYS};
pub use learn::{save_learned, save_learned_binding, LearnRequest};
pub use message::{MidiMessage, MidiParser};
pub use router::{
    learn_channel, ActivityKind, ActivityMonitor, ClockMonitor, LearnControl, LearnEndpoint, LearnedBinding,
    MidiActivity, MidiRouter, SelectedTrack, MAX_BINDINGS,
};
pub use toml_format::{binding_table, BINDING_KEYS};

use crate::atomic_file::write_atomically;
use crate::file_error::FileError;
use crate::patch::reader::{fields, string_literal, unknown_key, Field, Source};

/// The map file format version this build reads and writes.
pub const MIDI_MAP_VERSION: u32 = 1;

/// Keys allowed at the top of a map file.
pub const MAP_TOP_KEYS: [&str; 5] = ["version", "name", "description", "feedback", "midi"];

/// A set of bindings: a controller profile, a user's learned map, or the
/// `[[midi]]` tables of a patch.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MidiMap {
    /// Shown when the map is loaded. Defaults to the file name.
    pub name: String,
    /// What the map is for (a controller, a layout); may be empty.
    pub description: String,
    /// In file order; at most [`MAX_BINDINGS`].
    pub bindings: Vec<MidiBinding>,
    /// How the controller's LEDs light (a `[feedback]` table), if they do.
    pub feedback: Option<FeedbackTable>,
}

impl MidiMap {
    /// Read and validate a map file.
    pub fn load(path: &Path) -> Result<MidiMap, FileError> {
        let text = std::fs::read_to_string(path).map_err(|err| FileError::cannot_read(path, &err))?;
        MidiMap::parse(&text, path)
    }

    /// Validate map-file text: optional `version = 1`, `name`, `description`,
    /// then `[[midi]]` tables. `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<MidiMap, FileError> {
        let source = Source::new(text, path);
        let root = source.parse()?;
        let default_name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut map = MidiMap { name: default_name, ..MidiMap::default() };
        for field in fields(root.get_ref()) {
            let err = |message: String| source.error(&field.key_span, message);
            match field.key {
                "version" => {
                    let expected = format!("the integer {MIDI_MAP_VERSION}");
                    let version = field.integer(&source, &expected).map_err(err)?;
                    if version != i128::from(MIDI_MAP_VERSION) {
                        return Err(err(format!(
                            "unsupported MIDI map version {version}; this ferrotape reads version {MIDI_MAP_VERSION}"
                        )));
                    }
                }
                "name" => map.name = field.string(&source, "a string").map_err(err)?.to_string(),
                "description" => {
                    map.description = field.string(&source, "a string").map_err(err)?.to_string()
                }
                "midi" => map.bindings = read_bindings(&source, &field, true)?,
                "feedback" => map.feedback = Some(read_feedback(&source, &field)?),
                key if BINDING_KEYS.contains(&key) => {
                    return Err(err(format!("`{key}` belongs to a binding; put it after a [[midi]] header")))
                }
                "track" => {
                    return Err(err(
                        "[[track]] tables belong in a patch; a MIDI map file holds only [[midi]] tables"
                            .into(),
                    ))
                }
                key => return Err(err(unknown_key(key, &MAP_TOP_KEYS))),
            }
        }
        Ok(map)
    }

    /// Validate a patch's `[[midi]]` tables ([`crate::patch::Patch::midi`]).
    /// Errors name the patch file; line numbers come from re-reading its
    /// text at `path`, and are left out if the file no longer holds these
    /// tables (e.g. it changed since it was loaded).
    pub fn from_patch_tables(tables: &[toml::Table], path: &Path) -> Result<MidiMap, FileError> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if tables.is_empty() {
            return Ok(MidiMap { name, ..MidiMap::default() });
        }
        if let Ok(text) = std::fs::read_to_string(path) {
            let same =
                text.parse::<toml::Table>().ok().and_then(|root| root.get("midi").cloned()).is_some_and(
                    |midi| {
                        midi == toml::Value::Array(tables.iter().cloned().map(toml::Value::Table).collect())
                    },
                );
            if same {
                let source = Source::new(&text, path);
                let root = source.parse()?;
                let bindings = match fields(root.get_ref()).iter().find(|f| f.key == "midi") {
                    Some(field) => read_bindings(&source, field, true)?,
                    None => Vec::new(),
                };
                return Ok(MidiMap { name, description: String::new(), bindings, feedback: None });
            }
        }
        // No matching text: read a rendering of the tables and drop its line numbers.
        let mut wrapper = toml::Table::new();
        wrapper.insert(
            "midi".into(),
            toml::Value::Array(tables.iter().cloned().map(toml::Value::Table).collect()),
        );
        let text = toml::to_string(&wrapper)
            .map_err(|e| FileError::new(path, None, format!("midi: cannot read the bindings: {e}")))?;
        let source = Source::new(&text, path);
        let root = source.parse().map_err(|e| FileError { line: None, ..e })?;
        let bindings = match fields(root.get_ref()).iter().find(|f| f.key == "midi") {
            Some(field) => read_bindings(&source, field, false).map_err(|e| FileError { line: None, ..e })?,
            None => Vec::new(),
        };
        Ok(MidiMap { name, description: String::new(), bindings, feedback: None })
    }

    /// The map as a map file that [`MidiMap::parse`] reads back equal.
    pub fn to_toml(&self) -> String {
        let mut out = format!("version = {MIDI_MAP_VERSION}\nname = {}\n", string_literal(&self.name));
        if !self.description.is_empty() {
            out.push_str(&format!("description = {}\n", string_literal(&self.description)));
        }
        if let Some(feedback) = &self.feedback {
            out.push('\n');
            out.push_str(&feedback.to_toml());
        }
        for binding in &self.bindings {
            out.push('\n');
            out.push_str(&binding_table(binding));
        }
        out
    }

    /// The bindings as plain tables, for [`crate::patch::Patch::midi`].
    pub fn to_tables(&self) -> Vec<toml::Table> {
        self.bindings
            .iter()
            .filter_map(|binding| binding_table(binding).parse::<toml::Table>().ok())
            .filter_map(|mut table| match table.remove("midi") {
                Some(toml::Value::Array(mut items)) => match items.pop() {
                    Some(toml::Value::Table(inner)) => Some(inner),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Save as a map file; a failed save leaves the previous file intact.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        write_atomically(path, self.to_toml().as_bytes()).map_err(|err| FileError::cannot_write(path, &err))
    }

    /// Add learned bindings the way the router does: each replaces the
    /// bindings that listened to the same control on its channel. Returns
    /// how many were replaced.
    pub fn learn(&mut self, learned: &[MidiBinding]) -> usize {
        let before = self.bindings.len() + learned.len();
        for new in learned {
            self.bindings.retain(|old| !conflict::share_a_control(old, new));
            self.bindings.push(*new);
        }
        before - self.bindings.len()
    }

    /// Add a map file's bindings to these (a patch's): the patch's bindings
    /// on a control the map uses go, and every binding of the map is kept
    /// (several may share a control). More than [`MAX_BINDINGS`] in all is
    /// an error at the map's first binding over the limit; `map_path` names
    /// the map file in it.
    pub fn add_map(&mut self, map: &MidiMap, map_path: &Path) -> Result<(), FileError> {
        self.bindings.retain(|old| !map.bindings.iter().any(|new| conflict::share_a_control(old, new)));
        let kept = self.bindings.len();
        let total = kept + map.bindings.len();
        if total > MAX_BINDINGS {
            let first_over = MAX_BINDINGS - kept;
            let line = binding_lines(map_path).and_then(|lines| lines.get(first_over).copied());
            return Err(FileError::new(
                map_path,
                line,
                format!(
                    "midi binding {}: too many bindings: {kept} from the patch and {} here make {total}, at most {MAX_BINDINGS} together",
                    first_over + 1,
                    map.bindings.len()
                ),
            ));
        }
        self.bindings.extend_from_slice(&map.bindings);
        Ok(())
    }
}

/// A `[feedback]` table: `status = "action"` and colour values 0-127.
fn read_feedback(source: &Source<'_>, field: &Field<'_, '_>) -> Result<FeedbackTable, FileError> {
    let DeValue::Table(table) = field.value else {
        return Err(source.error(&field.key_span, field.wrong_type(source, "a [feedback] table")));
    };
    let mut feedback = FeedbackTable::default();
    let mut waiting_set = [false; 3];
    for f in fields(table) {
        let err = |m: String| source.error(&f.key_span, format!("feedback: {m}"));
        match f.key {
            "status" => {
                let name = f.string(source, "an action name").map_err(err)?;
                let action = crate::engine::TrackAction::from_name(name)
                    .ok_or_else(|| err(format!("{} is not an action", f.quoted(source))))?;
                feedback.status = Some(action);
            }
            key if FEEDBACK_KEYS.contains(&key) => {
                let expected = "a MIDI value (0 to 127)";
                let value = f.integer(source, expected).map_err(err)?;
                let value = u8::try_from(value)
                    .ok()
                    .filter(|v| *v <= 127)
                    .ok_or_else(|| err(format!("{} is out of range (0 to 127)", f.quoted(source))))?;
                feedback.set(key, value);
                if let Some(i) =
                    ["play_waiting", "record_waiting", "dub_waiting"].iter().position(|k| *k == key)
                {
                    waiting_set[i] = true;
                }
            }
            key => return Err(err(unknown_key(key, &FEEDBACK_KEYS))),
        }
    }
    // Without blinking values, a waiting lamp lights steadily.
    if !waiting_set[0] {
        feedback.play_waiting = feedback.play;
    }
    if !waiting_set[1] {
        feedback.record_waiting = feedback.record;
    }
    if !waiting_set[2] {
        feedback.dub_waiting = feedback.dub;
    }
    Ok(feedback)
}

/// The line of each `[[midi]]` header in a file, if it still reads.
fn binding_lines(path: &Path) -> Option<Vec<usize>> {
    let text = std::fs::read_to_string(path).ok()?;
    let source = Source::new(&text, path);
    let root = source.parse().ok()?;
    let field = fields(root.get_ref()).into_iter().find(|f| f.key == "midi")?;
    let tables = crate::patch::array_of_tables(&source, &field).ok()?;
    Some(tables.iter().map(|(_, header)| source.line(header)).collect())
}

/// Read `[[midi]]` tables. `lines_known`: the source is the file itself (not
/// a rendering of its tables), so a message may name other lines in it.
fn read_bindings(
    source: &Source<'_>,
    field: &Field<'_, '_>,
    lines_known: bool,
) -> Result<Vec<MidiBinding>, FileError> {
    if !matches!(field.value, DeValue::Array(_) | DeValue::Table(_)) {
        return Err(source.error(
            &field.key_span,
            "`midi` must be a list of tables; write one [[midi]] header per binding",
        ));
    }
    let tables = crate::patch::array_of_tables(source, field)?;
    if tables.len() > MAX_BINDINGS {
        let (_, first_extra) = &tables[MAX_BINDINGS];
        return Err(source.error(
            first_extra,
            format!("too many bindings: {} [[midi]] tables, at most {MAX_BINDINGS}", tables.len()),
        ));
    }
    let bindings = tables
        .iter()
        .enumerate()
        .map(|(index, (table, header))| toml_format::read_binding(source, table, header, index + 1))
        .collect::<Result<Vec<_>, _>>()?;
    for (later, (_, header)) in tables.iter().enumerate() {
        for earlier in 0..later {
            if let Some(what) = conflict::conflict(&bindings[earlier], &bindings[later]) {
                let earlier_line = match lines_known {
                    true => format!(" (line {})", source.line(&tables[earlier].1)),
                    false => String::new(),
                };
                return Err(source.error(
                    header,
                    format!(
                        "midi binding {}: {what}: midi binding {}{earlier_line} already does; \
                         keep one, or move one to another control, channel or track",
                        later + 1,
                        earlier + 1
                    ),
                ));
            }
        }
    }
    Ok(bindings)
}
