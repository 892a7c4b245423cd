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

/// A 16-bit PCM WAV file whose header declares `sample_rate`, written byte
/// by byte so any rate can be declared (hound would refuse some).
pub fn write_wav_header_and_samples(path: &Path, sample_rate: u32, channels: u16, samples: &[i16]) {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    write_pcm_wav(path, sample_rate, channels, 16, &data);
}

/// A PCM WAV file of `bits` per sample with `data` as its sample bytes.
/// The header is consistent, so a reader can only object to its values.
pub fn write_pcm_wav(path: &Path, sample_rate: u32, channels: u16, bits: u16, data: &[u8]) {
    let block_align = channels * bits.div_ceil(8);
    let mut bytes = Vec::with_capacity(44 + data.len());
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&channels.to_le_bytes());
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    let byte_rate = sample_rate.checked_mul(block_align as u32).expect("byte rate fits the header");
    bytes.extend_from_slice(&byte_rate.to_le_bytes());
    bytes.extend_from_slice(&block_align.to_le_bytes());
    bytes.extend_from_slice(&bits.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).expect("write crafted WAV");
}
