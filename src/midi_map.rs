//! MIDI in, engine commands out: pure, no I/O.
//!
//! - [`message`]: the byte parser ([`MidiParser`] → [`MidiMessage`]).
//! - [`binding`]: [`MidiBinding`] — a control, a mode and a target, as data.
//! - [`MidiMap`] (here): bindings read from `[[midi]]` tables in a map file
//!   or a patch, with `file:line:` errors, and written back.
//! - [`router`]: [`MidiRouter`], the MIDI thread's state: bindings, toggles,
//!   the selected track, the last message for the screen, MIDI learn.
//! - [`learn`]: [`LearnRequest`] and saving learned bindings.
//!
//! The format is documented in `docs/midi.md`.

pub mod binding;
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
pub use learn::{save_learned, LearnRequest};
pub use message::{MidiMessage, MidiParser};
pub use router::{
    learn_channel, ActivityKind, ActivityMonitor, LearnControl, LearnEndpoint, LearnedBinding, MidiActivity,
    MidiRouter, SelectedTrack, MAX_BINDINGS,
};
pub use toml_format::{binding_table, BINDING_KEYS};

use crate::atomic_file::write_atomically;
use crate::file_error::FileError;
use crate::patch::reader::{fields, string_literal, unknown_key, Field, Source};

/// The map file format version this build reads and writes.
pub const MIDI_MAP_VERSION: u32 = 1;

/// Keys allowed at the top of a map file.
pub const MAP_TOP_KEYS: [&str; 4] = ["version", "name", "description", "midi"];

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
                "midi" => map.bindings = read_bindings(&source, &field)?,
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
                    Some(field) => read_bindings(&source, field)?,
                    None => Vec::new(),
                };
                return Ok(MidiMap { name, description: String::new(), bindings });
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
            Some(field) => read_bindings(&source, field).map_err(|e| FileError { line: None, ..e })?,
            None => Vec::new(),
        };
        Ok(MidiMap { name, description: String::new(), bindings })
    }

    /// The map as a map file that [`MidiMap::parse`] reads back equal.
    pub fn to_toml(&self) -> String {
        let mut out = format!("version = {MIDI_MAP_VERSION}\nname = {}\n", string_literal(&self.name));
        if !self.description.is_empty() {
            out.push_str(&format!("description = {}\n", string_literal(&self.description)));
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
            self.bindings.retain(|old| !overlaps(old, new));
            self.bindings.push(*new);
        }
        before - self.bindings.len()
    }
}

/// Two bindings hear the same control on at least one channel.
fn overlaps(a: &MidiBinding, b: &MidiBinding) -> bool {
    a.control == b.control
        && match (a.channel, b.channel) {
            (ChannelFilter::Only(x), ChannelFilter::Only(y)) => x == y,
            _ => true,
        }
}

fn read_bindings(source: &Source<'_>, field: &Field<'_, '_>) -> Result<Vec<MidiBinding>, FileError> {
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
    tables
        .iter()
        .enumerate()
        .map(|(index, (table, header))| toml_format::read_binding(source, table, header, index + 1))
        .collect()
}
