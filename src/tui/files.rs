//! Finding patches to open, and the list of recently used ones.

use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomically;
use crate::file_error::FileError;

/// How many recent files are remembered.
const RECENT_LIMIT: usize = 8;

/// One entry of the load picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchChoice {
    pub path: PathBuf,
    /// Whether it came from the recent list (shown first, marked).
    pub recent: bool,
}

/// Recent files first (those that still exist), then every patch in `dirs`,
/// sorted, without duplicates. Timed-event files (`*.events.toml`) and MIDI maps
/// (`*.midi.toml`) are not patches.
pub fn patch_choices(dirs: &[PathBuf], recent: &[PathBuf]) -> Vec<PatchChoice> {
    let mut choices: Vec<PatchChoice> = recent
        .iter()
        .filter(|p| p.is_file())
        .map(|p| PatchChoice { path: p.clone(), recent: true })
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.ends_with(".toml") && !name.ends_with(".events.toml") && !name.ends_with(".midi.toml")
            })
            .collect();
        found.sort();
        for path in found {
            if !choices.iter().any(|c| same_file(&c.path, &path)) {
                choices.push(PatchChoice { path, recent: false });
            }
        }
    }
    choices
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Read the recent list (one path a line); a missing or unreadable file is an empty list.
pub fn load_recent(file: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(file)
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// Put `path` first in `recent`, and keep the list in `file` if one is given.
pub fn remember_recent(recent: &mut Vec<PathBuf>, path: &Path, file: Option<&Path>) -> Result<(), FileError> {
    recent.retain(|p| !same_file(p, path));
    recent.insert(0, path.to_path_buf());
    recent.truncate(RECENT_LIMIT);
    let Some(file) = file else { return Ok(()) };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|err| FileError::cannot_write(file, &err))?;
    }
    let text: String = recent.iter().map(|p| format!("{}\n", p.display())).collect();
    write_atomically(file, text.as_bytes()).map_err(|err| FileError::cannot_write(file, &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_lists_patches_not_event_files() {
        let choices = patch_choices(&[PathBuf::from("patches")], &[]);
        let names: Vec<String> = choices.iter().map(|c| c.path.display().to_string()).collect();
        assert!(names.contains(&"patches/airports.toml".to_string()), "{names:?}");
        assert!(names.iter().all(|n| !n.ends_with(".events.toml")), "{names:?}");
    }

    #[test]
    fn recent_files_come_first_once() {
        let mut recent = Vec::new();
        remember_recent(&mut recent, Path::new("patches/free.toml"), None).expect("in memory");
        remember_recent(&mut recent, Path::new("patches/cassette.toml"), None).expect("in memory");
        remember_recent(&mut recent, Path::new("patches/free.toml"), None).expect("in memory");
        assert_eq!(recent, vec![PathBuf::from("patches/free.toml"), PathBuf::from("patches/cassette.toml")]);
        let choices = patch_choices(&[PathBuf::from("patches")], &recent);
        assert!(choices[0].recent && choices[1].recent && !choices[2].recent);
        assert_eq!(choices.iter().filter(|c| c.path.ends_with("free.toml")).count(), 1);
    }
}
