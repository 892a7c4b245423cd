//! Example patches, the malformed-file corpus and scratch folders.

use std::path::{Path, PathBuf};

pub const BAD_DIR: &str = "tests/fixtures/bad";

/// `(file name, expected message)` for every row of the bad-fixture README.
pub fn documented_bad_fixtures() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(Path::new(BAD_DIR).join("README.md")).expect("fixture README");
    readme
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let file = cells[0].trim_matches('`').to_string();
            let message = cells[cells.len() - 1];
            let message = message
                .strip_prefix("`` ")
                .and_then(|m| m.strip_suffix(" ``"))
                .unwrap_or_else(|| panic!("message of {file} is not in a `` code span ``"));
            (file, message.to_string())
        })
        .collect()
}

/// Every file in the bad-fixture folder except the README.
pub fn bad_fixture_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(BAD_DIR)
        .expect("fixture dir")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "README.md")
        .collect();
    names.sort();
    names
}

/// The example patches in `patches/`, without their events files.
pub fn example_patches() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("patches")
        .expect("patches dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path.to_string_lossy();
            name.ends_with(".toml") && !name.ends_with(".events.toml")
        })
        .collect();
    paths.sort();
    paths
}

/// `patches/x.toml` -> `patches/x.events.toml`.
pub fn events_for(patch: &Path) -> PathBuf {
    patch.with_extension("events.toml")
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrotape-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
