//! `ferrotape check`: validate a patch, MIDI map or events file and say what it holds.

use crate::events::EventList;
use crate::file_error::FileError;
use crate::midi_map::MidiMap;
use crate::patch::Patch;
use std::path::Path;

/// What kind of file a path holds, judged by its name and contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Patch,
    Events,
    /// `[[midi]]` tables and no `[[track]]`: a controller profile or learned map.
    MidiMap,
}

impl FileKind {
    /// Events files are named `*.events.toml` or consist of `[[event]]` tables;
    /// MIDI maps consist of `[[midi]]` tables; anything else is read as a patch.
    pub fn of(path: &Path, text: &str) -> FileKind {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let has_tracks = has_tables(text, "track");
        if name.ends_with(".events.toml") || (has_tables(text, "event") && !has_tracks) {
            FileKind::Events
        } else if has_tables(text, "midi") && !has_tracks {
            FileKind::MidiMap
        } else {
            FileKind::Patch
        }
    }
}

/// Whether the text has a `[[name]]` header on a line of its own.
pub fn has_tables(text: &str, name: &str) -> bool {
    let header = format!("[[{name}]]");
    text.lines().any(|l| l.trim_start().starts_with(&header))
}

/// Validate a file; on success, a one-line summary of what it holds.
pub fn check_file(path: &Path) -> Result<String, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError::cannot_read(path, &e))?;
    match FileKind::of(path, &text) {
        FileKind::Patch => {
            let patch = Patch::parse(&text, path)?;
            // The patch keeps its [[midi]] tables raw; check them as bindings too.
            let map = MidiMap::from_patch_tables(&patch.midi, path)?;
            let bindings = match map.bindings.len() {
                0 => String::new(),
                1 => ", 1 MIDI binding".to_string(),
                n => format!(", {n} MIDI bindings"),
            };
            Ok(format!(
                "{}: patch \"{}\" is valid: {} track{}, seed {}{bindings}",
                path.display(),
                patch.name,
                patch.tracks.len(),
                if patch.tracks.len() == 1 { "" } else { "s" },
                patch.seed
            ))
        }
        FileKind::MidiMap => {
            let map = MidiMap::parse(&text, path)?;
            Ok(format!(
                "{}: MIDI map \"{}\" is valid: {} binding{}",
                path.display(),
                map.name,
                map.bindings.len(),
                if map.bindings.len() == 1 { "" } else { "s" }
            ))
        }
        FileKind::Events => {
            let events = EventList::parse(&text, path)?;
            let last = events.events.last().map_or(0.0, |e| e.at);
            Ok(format!(
                "{}: events file is valid: {} event{} over {last} s",
                path.display(),
                events.events.len(),
                if events.events.len() == 1 { "" } else { "s" }
            ))
        }
    }
}

/// Validate a patch and a MIDI map played together (`play PATCH --midi-map
/// MAP`): each on its own, then the bindings in force, which must fit in
/// [`MAX_BINDINGS`](crate::midi_map::MAX_BINDINGS) together.
pub fn check_patch_with_map(patch_path: &Path, map_path: &Path) -> Result<String, FileError> {
    let text = std::fs::read_to_string(patch_path).map_err(|e| FileError::cannot_read(patch_path, &e))?;
    if FileKind::of(patch_path, &text) != FileKind::Patch {
        return Err(FileError::new(patch_path, None, "is not a patch; --midi-map goes with a patch"));
    }
    let summary = check_file(patch_path)?;
    let patch = Patch::parse(&text, patch_path)?;
    let mut bindings = MidiMap::from_patch_tables(&patch.midi, patch_path)?;
    let map = MidiMap::load(map_path)?;
    bindings.add_map(&map, map_path)?;
    Ok(format!(
        "{summary}; with MIDI map \"{}\" ({}): {} MIDI binding{} in force",
        map.name,
        map_path.display(),
        bindings.bindings.len(),
        if bindings.bindings.len() == 1 { "" } else { "s" }
    ))
}
