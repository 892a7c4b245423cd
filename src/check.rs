//! `ferrotape check`: validate a patch or events file and say what it holds.

use crate::events::EventList;
use crate::file_error::FileError;
use crate::patch::Patch;
use std::path::Path;

/// What kind of file a path holds, judged by its name and contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Patch,
    Events,
}

impl FileKind {
    /// Events files are named `*.events.toml` or consist of `[[event]]` tables;
    /// anything else is read as a patch.
    pub fn of(path: &Path, text: &str) -> FileKind {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let has_events = text.lines().any(|l| l.trim_start().starts_with("[[event]]"));
        let has_tracks = text.lines().any(|l| l.trim_start().starts_with("[[track]]"));
        if name.ends_with(".events.toml") || (has_events && !has_tracks) {
            FileKind::Events
        } else {
            FileKind::Patch
        }
    }
}

/// Validate a file; on success, a one-line summary of what it holds.
pub fn check_file(path: &Path) -> Result<String, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError::cannot_read(path, &e))?;
    match FileKind::of(path, &text) {
        FileKind::Patch => {
            let patch = Patch::parse(&text, path)?;
            Ok(format!(
                "{}: patch \"{}\" is valid: {} track{}, seed {}",
                path.display(),
                patch.name,
                patch.tracks.len(),
                if patch.tracks.len() == 1 { "" } else { "s" },
                patch.seed
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
