//! The patch file: a versioned TOML description of every track, validated
//! with messages that name the file, the line, the key and what is allowed.
//!
//! The full format is documented in `docs/patch-format.md`; the ranges come
//! from [`Param::spec`], so the engine, this reader and that document agree.

pub(crate) mod reader;
pub mod sync_table;

use std::fmt::Write as _;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::atomic_file::write_atomically;
use crate::engine::params::{DEFAULT_MAX_LENGTH_S, DEFAULT_UNDO_MB, UNDO_MB_RANGE};
use crate::engine::{
    EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackConfig, MAX_TRACKS,
};
use crate::file_error::FileError;
use reader::{fields, float_f32, float_f64, string_literal, unknown_key, Field, Source};

/// The patch format version this build reads and writes.
pub const PATCH_VERSION: u32 = 1;

/// Allowed `sample_rate` values in Hz.
pub const SAMPLE_RATE_RANGE: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// Keys allowed at the top of a patch.
pub const TOP_KEYS: [&str; 11] = [
    "version",
    "name",
    "seed",
    "sample_rate",
    "quality",
    "master_db",
    "monitor_db",
    "track",
    "midi",
    "osc",
    "sync",
];

/// Keys of a `[[track]]` table that are not [`Param`]s.
pub const TRACK_EXTRA_KEYS: [&str; 7] =
    ["name", "max_length", "undo_mb", "saturation", "tone", "mute", "solo"];

/// `master_db` and `monitor_db` share the range of a track's `level_db`: silent (-120) to +6 dB.
const MASTER_DB: Param = Param::LevelDb;

/// A loaded, validated patch.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// Format version; always [`PATCH_VERSION`] once loaded.
    pub version: u32,
    /// Shown on the screen and in take names. Defaults to the file name.
    pub name: String,
    /// Seeds every random process; same seed, same render.
    pub seed: u64,
    /// Preferred sample rate in Hz; `None` lets the audio device decide.
    pub sample_rate: Option<u32>,
    pub quality: Quality,
    /// Master output level in dB, before the limiter.
    pub master_db: f32,
    /// Level of the live input passed straight to the output, in dB; -120 = off.
    pub monitor_db: f32,
    pub tracks: Vec<TrackConfig>,
    /// Raw `[[midi]]` tables, validated by the MIDI map and written back unchanged.
    pub midi: Vec<toml::Table>,
    /// The `[osc]` table (see `crate::osc`): present, the OSC server runs.
    pub osc: Option<crate::osc::OscTable>,
    /// The `[sync]` table: the time grid and MIDI clock out.
    pub sync: sync_table::SyncTable,
}

impl Default for Patch {
    fn default() -> Self {
        Patch {
            version: PATCH_VERSION,
            name: String::new(),
            seed: 0,
            sample_rate: None,
            quality: Quality::default(),
            master_db: 0.0,
            monitor_db: -120.0,
            tracks: vec![TrackConfig::default()],
            midi: Vec::new(),
            osc: None,
            sync: sync_table::SyncTable::default(),
        }
    }
}

impl Patch {
    /// Read and validate a patch file.
    pub fn load(path: &Path) -> Result<Patch, FileError> {
        let text = std::fs::read_to_string(path).map_err(|err| FileError::cannot_read(path, &err))?;
        Patch::parse(&text, path)
    }

    /// Validate patch text; `path` is only used to name the file in errors
    /// and to default the patch name.
    pub fn parse(text: &str, path: &Path) -> Result<Patch, FileError> {
        let source = Source::new(text, path);
        let root = source.parse()?;
        let root_fields = fields(root.get_ref());
        let err = |field: &Field<'_, '_>, message: String| source.error(&field.key_span, message);

        // The version is checked before anything else: a file from a newer
        // ferrotape may use keys this one has never heard of, and "unsupported
        // version" is the useful message then, not "unknown key".
        let Some(version_field) = root_fields.iter().find(|f| f.key == "version") else {
            return Err(FileError::new(
                path,
                None,
                format!(
                    "missing `version = {PATCH_VERSION}` (the patch format version) at the top of the file"
                ),
            ));
        };
        let version = version_field
            .integer(&source, &format!("the integer {PATCH_VERSION}"))
            .map_err(|m| err(version_field, m))?;
        if version != i128::from(PATCH_VERSION) {
            return Err(err(
                version_field,
                format!("unsupported patch version {version}; this ferrotape reads version {PATCH_VERSION}"),
            ));
        }

        let default_name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut patch = Patch { name: default_name, tracks: Vec::new(), ..Patch::default() };
        let mut saw_track = false;
        for field in &root_fields {
            match field.key {
                "version" => {}
                "name" => {
                    patch.name = field.string(&source, "a string").map_err(|m| err(field, m))?.to_string()
                }
                "seed" => {
                    let expected = format!("a whole number from 0 to {}", u64::MAX);
                    let seed = field.integer(&source, &expected).map_err(|m| err(field, m))?;
                    patch.seed = u64::try_from(seed).map_err(|_| {
                        err(field, format!("{} is out of range ({expected})", field.quoted(&source)))
                    })?;
                }
                "sample_rate" => {
                    let (lo, hi) = (SAMPLE_RATE_RANGE.start(), SAMPLE_RATE_RANGE.end());
                    let expected = format!("a whole number of Hz ({lo} to {hi})");
                    let rate = field.integer(&source, &expected).map_err(|m| err(field, m))?;
                    let rate = u32::try_from(rate)
                        .ok()
                        .filter(|r| SAMPLE_RATE_RANGE.contains(r))
                        .ok_or_else(|| {
                            err(field, format!("{} is out of range ({lo} to {hi} Hz)", field.quoted(&source)))
                        })?;
                    patch.sample_rate = Some(rate);
                }
                "quality" => {
                    let name = field.choice(&source, &Quality::NAMES).map_err(|m| err(field, m))?;
                    patch.quality = Quality::from_name(name).unwrap_or_default();
                }
                "master_db" => {
                    patch.master_db = field.param_value(&source, MASTER_DB).map_err(|m| err(field, m))?;
                }
                "monitor_db" => {
                    patch.monitor_db = field.param_value(&source, MASTER_DB).map_err(|m| err(field, m))?;
                }
                "track" => {
                    saw_track = true;
                    patch.tracks = read_tracks(&source, field)?;
                }
                "midi" => patch.midi = read_midi(&source, field)?,
                "osc" => patch.osc = Some(crate::osc::config::read_osc_table(&source, field)?),
                "sync" => patch.sync = sync_table::read_sync_table(&source, field)?,
                other => return Err(err(field, misplaced_or_unknown_top_key(other))),
            }
        }
        if !saw_track || patch.tracks.is_empty() {
            return Err(FileError::new(path, None, "a patch needs at least one [[track]]"));
        }
        if let Err(message) = sync_table::check_tracks(&patch.sync, patch.tracks.len()) {
            let line = root_fields.iter().find(|f| f.key == "sync").map(|f| source.line(&f.key_span));
            return Err(FileError::new(path, line, message));
        }
        Ok(patch)
    }

    /// What the engine is built from.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            seed: self.seed,
            quality: self.quality,
            master_db: self.master_db,
            monitor_db: self.monitor_db,
            sync: self.sync.config,
            tracks: self.tracks.clone(),
        }
    }

    /// The patch as TOML that [`Patch::parse`] reads back to an equal patch.
    /// Every parameter is written, so a saved patch shows all there is to edit.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // `write!` into a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(out, "version = {PATCH_VERSION}");
        let _ = writeln!(out, "name = {}", string_literal(&self.name));
        let _ = writeln!(out, "seed = {}", self.seed);
        if let Some(rate) = self.sample_rate {
            let _ = writeln!(out, "sample_rate = {rate}");
        }
        let _ = writeln!(out, "quality = \"{}\"", self.quality.name());
        let _ = writeln!(out, "master_db = {}", float_f32(self.master_db));
        let _ = writeln!(out, "monitor_db = {}", float_f32(self.monitor_db));
        for track in &self.tracks {
            out.push('\n');
            write_track(&mut out, track);
        }
        out.push_str(&self.sync.to_toml());
        if let Some(osc) = &self.osc {
            out.push_str(&osc.to_toml());
        }
        if !self.midi.is_empty() {
            let mut wrapper = toml::Table::new();
            let tables = self.midi.iter().cloned().map(toml::Value::Table).collect();
            wrapper.insert("midi".to_string(), toml::Value::Array(tables));
            // Serialising plain tables of TOML values cannot fail; if it ever
            // did, dropping the bindings is better than a panic mid-save.
            if let Ok(text) = toml::to_string(&wrapper) {
                out.push('\n');
                out.push_str(&text);
            }
        }
        out
    }

    /// Write the patch so that a failed save leaves the previous file intact.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        write_atomically(path, self.to_toml().as_bytes()).map_err(|err| FileError::cannot_write(path, &err))
    }
}

fn misplaced_or_unknown_top_key(key: &str) -> String {
    if Param::from_key(key).is_some() || TRACK_EXTRA_KEYS.contains(&key) {
        format!("`{key}` is a track setting; put it after a [[track]] header")
    } else {
        unknown_key(key, &TOP_KEYS)
    }
}

/// Every key a `[[track]]` table accepts, in documentation order.
pub fn track_keys() -> Vec<&'static str> {
    let mut keys = vec!["name"];
    for param in Param::ALL {
        keys.push(param.key());
        if param == Param::Length {
            keys.push("max_length");
        }
    }
    keys.extend(["saturation", "tone", "mute", "solo"]);
    keys
}

/// The tables of an array-of-tables key (`[[track]]`, `[[midi]]`, `[[event]]`),
/// each with the span of its header.
pub(crate) fn array_of_tables<'t, 'i>(
    source: &Source<'_>,
    field: &Field<'t, 'i>,
) -> Result<Vec<(&'t DeTable<'i>, std::ops::Range<usize>)>, FileError> {
    let key = field.key;
    let DeValue::Array(items) = field.value else {
        let hint = match field.value {
            DeValue::Table(_) => format!("write [[{key}]] with two brackets"),
            _ => format!("write one [[{key}]] header per {key}"),
        };
        return Err(source.error(&field.key_span, format!("`{key}` must be a list of tables; {hint}")));
    };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::Table(table) => Ok((table, item.span())),
            other => Err(source.error(
                &item.span(),
                format!("each `{key}` entry must be a table, not {}", reader::type_phrase(other)),
            )),
        })
        .collect()
}

fn read_tracks(source: &Source<'_>, field: &Field<'_, '_>) -> Result<Vec<TrackConfig>, FileError> {
    let tables = array_of_tables(source, field)?;
    if tables.len() > MAX_TRACKS {
        let (_, first_extra) = &tables[MAX_TRACKS];
        return Err(source.error(
            first_extra,
            format!("too many tracks: {} [[track]] tables, at most {MAX_TRACKS}", tables.len()),
        ));
    }
    tables.iter().enumerate().map(|(index, (table, _))| read_track(source, table, index + 1)).collect()
}

fn read_track(source: &Source<'_>, table: &DeTable<'_>, number: usize) -> Result<TrackConfig, FileError> {
    let err = |field: &Field<'_, '_>, message: String| {
        source.error(&field.key_span, format!("track {number}: {message}"))
    };
    let mut track = TrackConfig::default();
    let mut free = false;
    let mut max_length: Option<(f64, std::ops::Range<usize>)> = None;
    for field in fields(table) {
        match field.key {
            "name" => track.name = field.string(source, "a string").map_err(|m| err(&field, m))?.to_string(),
            "length" => {
                if let DeValue::String(text) = field.value {
                    if text.as_ref() != "free" {
                        let message = format!(
                            "{} is not allowed; expected {}",
                            field.quoted(source),
                            length_expected()
                        );
                        return Err(err(&field, message));
                    }
                    free = true;
                    continue;
                }
                let seconds =
                    seconds_of_tape(source, &field, &length_expected()).map_err(|m| err(&field, m))?;
                track.length = TapeLength::Fixed(seconds);
                track.params.set(Param::Length, seconds as f32);
            }
            "max_length" => {
                let spec = Param::Length.spec();
                let expected = format!("a number of seconds ({} to {})", spec.min, spec.max);
                let seconds = seconds_of_tape(source, &field, &expected).map_err(|m| err(&field, m))?;
                max_length = Some((seconds, field.key_span.clone()));
            }
            "undo_mb" => {
                let expected =
                    format!("a number of MiB ({} to {})", UNDO_MB_RANGE.start(), UNDO_MB_RANGE.end());
                let mb = field.number(source, &expected).map_err(|m| err(&field, m))?;
                if !UNDO_MB_RANGE.contains(&mb) {
                    let message = format!("{} is out of range; expected {expected}", field.quoted(source));
                    return Err(err(&field, message));
                }
                track.undo_mb = mb;
            }
            "saturation" => {
                let name = field.choice(source, &SaturationModel::NAMES).map_err(|m| err(&field, m))?;
                track.saturation = SaturationModel::from_name(name).unwrap_or_default();
            }
            "tone" => {
                let name = field.choice(source, &ToneModel::NAMES).map_err(|m| err(&field, m))?;
                track.tone = ToneModel::from_name(name).unwrap_or_default();
            }
            "mute" => track.mute = field.boolean(source).map_err(|m| err(&field, m))?,
            "solo" => track.solo = field.boolean(source).map_err(|m| err(&field, m))?,
            key => match Param::from_key(key) {
                Some(param) => {
                    let value = field.param_value(source, param).map_err(|m| err(&field, m))?;
                    track.params.set(param, value);
                }
                None => return Err(err(&field, unknown_key(key, &track_keys()))),
            },
        }
    }
    if free {
        let max_seconds = max_length.map(|(seconds, _)| seconds).unwrap_or(DEFAULT_MAX_LENGTH_S);
        track.length = TapeLength::Free { max_seconds };
    } else if let (Some((seconds, span)), TapeLength::Fixed(length)) = (max_length, track.length) {
        if seconds < length {
            return Err(source.error(
                &span,
                format!(
                    "track {number}: max_length = {} is shorter than length = {} (it is the most tape the loop can grow to)",
                    float_f64(seconds),
                    float_f64(length)
                ),
            ));
        }
        track.max_length = Some(seconds);
    }
    Ok(track)
}

fn length_expected() -> String {
    let spec = Param::Length.spec();
    format!("a number of seconds ({} to {}) or \"free\"", spec.min, spec.max)
}

/// A tape length in seconds, range-checked like [`Param::Length`] but kept
/// as the exact `f64` written: it decides how much tape is allocated, and it
/// must read back unchanged when the patch is saved.
fn seconds_of_tape(source: &Source<'_>, field: &Field<'_, '_>, expected: &str) -> Result<f64, String> {
    let spec = Param::Length.spec();
    let seconds = field.number(source, expected)?;
    if Param::Length.contains(seconds as f32) {
        Ok(seconds)
    } else {
        Err(format!("{} is out of range ({} to {})", field.quoted(source), spec.min, spec.max))
    }
}

fn write_track(out: &mut String, track: &TrackConfig) {
    let _ = writeln!(out, "[[track]]");
    if !track.name.is_empty() {
        let _ = writeln!(out, "name = {}", string_literal(&track.name));
    }
    match track.length {
        TapeLength::Fixed(seconds) => {
            let _ = writeln!(out, "length = {}", float_f64(seconds));
            if let Some(max) = track.max_length.filter(|&max| max > seconds) {
                let _ = writeln!(out, "max_length = {}", float_f64(max));
            }
        }
        TapeLength::Free { max_seconds } => {
            let _ = writeln!(out, "length = \"free\"");
            let _ = writeln!(out, "max_length = {}", float_f64(max_seconds));
        }
    }
    for param in Param::ALL.into_iter().filter(|p| *p != Param::Length) {
        let _ = writeln!(out, "{} = {}", param.key(), float_f32(track.params.get(param)));
    }
    if track.undo_mb != DEFAULT_UNDO_MB {
        let _ = writeln!(out, "undo_mb = {}", float_f64(track.undo_mb));
    }
    let _ = writeln!(out, "saturation = \"{}\"", track.saturation.name());
    let _ = writeln!(out, "tone = \"{}\"", track.tone.name());
    let _ = writeln!(out, "mute = {}", track.mute);
    let _ = writeln!(out, "solo = {}", track.solo);
}

fn read_midi(source: &Source<'_>, field: &Field<'_, '_>) -> Result<Vec<toml::Table>, FileError> {
    array_of_tables(source, field)?
        .into_iter()
        .map(|(table, header)| {
            to_toml_table(table).map_err(|message| source.error(&header, format!("midi: {message}")))
        })
        .collect()
}

/// Convert a spanned table into a plain one, for sections this module keeps
/// but does not interpret.
fn to_toml_table(table: &DeTable<'_>) -> Result<toml::Table, String> {
    let mut out = toml::Table::new();
    for (key, value) in table.iter() {
        out.insert(key.get_ref().to_string(), to_toml_value(value.get_ref())?);
    }
    Ok(out)
}

fn to_toml_value(value: &DeValue<'_>) -> Result<toml::Value, String> {
    Ok(match value {
        DeValue::String(text) => toml::Value::String(text.to_string()),
        DeValue::Integer(int) => toml::Value::Integer(
            i64::from_str_radix(int.as_str(), int.radix())
                .map_err(|_| format!("integer {} is too large", int.as_str()))?,
        ),
        DeValue::Float(float) => toml::Value::Float(
            float.as_str().parse().map_err(|_| format!("invalid float {}", float.as_str()))?,
        ),
        DeValue::Boolean(flag) => toml::Value::Boolean(*flag),
        DeValue::Datetime(datetime) => toml::Value::Datetime(*datetime),
        DeValue::Array(items) => toml::Value::Array(
            items.iter().map(|item| to_toml_value(item.get_ref())).collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => toml::Value::Table(to_toml_table(table)?),
    })
}
