//! Sessions: a patch saved together with the audio on its tapes, so
//! reopening it gives the loops back exactly.
//!
//! ```text
//! mypatch.toml
//! mypatch.tapes/track-01.wav …    32-bit float mono, one loop each
//! .autosave/mypatch.1718000000123/ patch.toml + tapes/, the newest two kept
//! ```
//!
//! A free track's loop length is the length of its WAV file. Tapes recorded
//! at another sample rate are resampled on load. Every file is written under
//! a temporary name, flushed to disk and renamed, so a crash never leaves a
//! half-written patch or tape under the real name.

mod live_state;
mod mirror;

pub use live_state::live_patch;
pub use mirror::{tape_mirror, LiveTapes, TapeCopier, TapeCopy, TapeCopyHandle, DEFAULT_COPY_BUDGET};

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use hound::{SampleFormat, WavSpec, WavWriter};

use crate::engine::Engine;
use crate::patch::Patch;

/// Autosaves kept beside a patch; older ones are removed.
pub const AUTOSAVES_KEPT: usize = 2;
/// Default seconds between autosaves.
pub const AUTOSAVE_INTERVAL: Duration = Duration::from_secs(60);

/// File name of a track's tape: `track-01.wav` for the first track.
pub fn tape_file(track: usize) -> String {
    format!("track-{:02}.wav", track + 1)
}

/// The folder holding a patch's tapes: `mypatch.toml` → `mypatch.tapes`.
pub fn tapes_dir(patch_path: &Path) -> PathBuf {
    let stem = patch_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    patch_path.with_file_name(format!("{stem}.tapes"))
}

/// Write one tape as a 32-bit float mono WAV, atomically.
pub fn write_tape(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let spec = WavSpec { channels: 1, sample_rate, bits_per_sample: 32, sample_format: SampleFormat::Float };
    let result = (|| {
        let mut writer = WavWriter::create(&temp, spec).map_err(|e| fail(&e))?;
        for &x in samples {
            writer.write_sample(x).map_err(|e| fail(&e))?;
        }
        writer.finalize().map_err(|e| fail(&e))?;
        File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| fail(&e))?;
        fs::rename(&temp, path).map_err(|e| fail(&e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Read a tape, resampled to `sample_rate` if it was saved at another rate.
pub fn read_tape(path: &Path, sample_rate: u32) -> Result<Vec<f32>, String> {
    crate::wav::read_mono(path, sample_rate)
}

/// A patch and the audio on its tapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub patch: Patch,
    /// One entry per track; `None` where no tape was saved (blank tape).
    pub tapes: Vec<Option<Vec<f32>>>,
}

impl Session {
    /// Put the tapes on a freshly built engine (before it processes).
    pub fn load_into(&self, engine: &mut Engine) {
        for (t, tape) in self.tapes.iter().enumerate() {
            if let Some(samples) = tape {
                engine.load_tape(t, samples);
            }
        }
    }
}

/// Save `patch` at `path` and the tapes in `path`'s `.tapes` folder. The
/// new tapes are complete on disk before they replace the old folder, and
/// the patch is replaced last.
pub fn save_session(path: &Path, patch: &Patch, tapes: &[Vec<f32>], sample_rate: u32) -> Result<(), String> {
    save_tapes_beside(path, tapes, sample_rate)?;
    patch.save(path).map_err(|e| e.to_string())
}

/// Write the tapes into the folder beside a patch (`mypatch.tapes/`),
/// replacing what was there only once the new folder is complete.
pub fn save_tapes_beside(path: &Path, tapes: &[Vec<f32>], sample_rate: u32) -> Result<(), String> {
    let dir = tapes_dir(path);
    let stem = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = dir.with_file_name(format!(".{stem}.{}.new", std::process::id()));
    let old = dir.with_file_name(format!(".{stem}.old"));
    let _ = fs::remove_dir_all(&staging);
    write_tapes(&staging, tapes, sample_rate)?;
    // Swap folders: a crash in between leaves `.old`, which `load_session` uses.
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(&dir, &old).map_err(|e| format!("cannot replace {}: {e}", dir.display()))?;
    }
    fs::rename(&staging, &dir).map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

fn write_tapes(dir: &Path, tapes: &[Vec<f32>], sample_rate: u32) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (t, samples) in tapes.iter().enumerate() {
        write_tape(&dir.join(tape_file(t)), samples, sample_rate)?;
    }
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Load a patch and whatever tapes were saved beside it, resampled to
/// `sample_rate` (the rate the engine will run at).
pub fn load_session(path: &Path, sample_rate: u32) -> Result<Session, String> {
    let patch = Patch::load(path).map_err(|e| e.to_string())?;
    let mut dir = tapes_dir(path);
    if !dir.is_dir() {
        // A save interrupted between swapping the folders left the old one.
        let stem = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        dir = dir.with_file_name(format!(".{stem}.old"));
    }
    let tapes = read_tapes(&dir, patch.tracks.len(), sample_rate)?;
    Ok(Session { patch, tapes })
}

fn read_tapes(dir: &Path, tracks: usize, sample_rate: u32) -> Result<Vec<Option<Vec<f32>>>, String> {
    (0..tracks)
        .map(|t| {
            let path = dir.join(tape_file(t));
            if path.is_file() {
                read_tape(&path, sample_rate).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect()
}

/// Autosaves of one patch, in `.autosave/` beside it.
#[derive(Clone, Debug)]
pub struct Autosave {
    dir: PathBuf,
    stem: String,
}

/// An autosave found newer than its patch: offer to recover it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// The autosave folder (`patch.toml` + `tapes/`).
    pub dir: PathBuf,
    /// When it was written.
    pub saved: SystemTime,
    /// When the patch itself was last written, if it exists.
    pub patch_saved: Option<SystemTime>,
}

impl Recovery {
    /// Load the recovered session (tapes resampled to `sample_rate`).
    pub fn load(&self, sample_rate: u32) -> Result<Session, String> {
        load_autosave(&self.dir, sample_rate)
    }
}

impl Autosave {
    /// Autosaves for the patch at `patch_path`.
    pub fn beside(patch_path: &Path) -> Autosave {
        let parent = match patch_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = patch_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Autosave { dir: parent.join(".autosave"), stem }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write a complete autosave folder, then remove all but the newest
    /// [`AUTOSAVES_KEPT`]. The folder appears under its final name only when
    /// every file in it is on disk, so the previous one is always whole.
    pub fn save(&self, patch: &Patch, tapes: &[Vec<f32>], sample_rate: u32) -> Result<PathBuf, String> {
        fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let millis =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        // Never reuse or go behind an existing name: order is by the number.
        let newest = self.list().last().map(|(n, _)| *n).unwrap_or(0);
        let number = millis.max(newest + 1);
        let staging = self.dir.join(format!(".{}.{number}.tmp", self.stem));
        let _ = fs::remove_dir_all(&staging);
        let mut patch = patch.clone();
        patch.sample_rate = Some(sample_rate);
        fs::create_dir_all(&staging).map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        let written = patch
            .save(&staging.join("patch.toml"))
            .map_err(|e| e.to_string())
            .and_then(|()| write_tapes(&staging.join("tapes"), tapes, sample_rate));
        let final_dir = self.dir.join(format!("{}.{number}", self.stem));
        let result = written.and_then(|()| {
            fs::rename(&staging, &final_dir).map_err(|e| format!("cannot write {}: {e}", final_dir.display()))
        });
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        if let Ok(handle) = File::open(&self.dir) {
            let _ = handle.sync_all();
        }
        let all = self.list();
        for (_, old) in all.iter().take(all.len().saturating_sub(AUTOSAVES_KEPT)) {
            let _ = fs::remove_dir_all(old);
        }
        Ok(final_dir)
    }

    /// Complete autosave folders, oldest first, with their numbers.
    pub fn list(&self) -> Vec<(u128, PathBuf)> {
        let prefix = format!("{}.", self.stem);
        let mut found: Vec<(u128, PathBuf)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let number = name.strip_prefix(&prefix)?.parse::<u128>().ok()?;
                let path = entry.path();
                path.join("patch.toml").is_file().then_some((number, path))
            })
            .collect();
        found.sort();
        found
    }

    /// The newest autosave, if it is newer than the patch file (or the
    /// patch is gone): what a crash may have left unsaved.
    pub fn find_recovery(&self, patch_path: &Path) -> Option<Recovery> {
        let (_, dir) = self.list().pop()?;
        let saved = fs::metadata(dir.join("patch.toml")).and_then(|m| m.modified()).ok()?;
        let patch_saved = fs::metadata(patch_path).and_then(|m| m.modified()).ok();
        match patch_saved {
            Some(patch_time) if patch_time >= saved => None,
            _ => Some(Recovery { dir, saved, patch_saved }),
        }
    }
}

/// Load an autosave folder.
pub fn load_autosave(dir: &Path, sample_rate: u32) -> Result<Session, String> {
    let patch = Patch::load(&dir.join("patch.toml")).map_err(|e| e.to_string())?;
    let tapes = read_tapes(&dir.join("tapes"), patch.tracks.len(), sample_rate)?;
    Ok(Session { patch, tapes })
}

/// When the next autosave is due.
#[derive(Clone, Debug)]
pub struct AutosaveClock {
    interval: Duration,
    last: Instant,
}

impl AutosaveClock {
    pub fn new(interval: Duration) -> AutosaveClock {
        AutosaveClock { interval, last: Instant::now() }
    }

    /// Whether an autosave is due at `now`; if so, the clock restarts.
    pub fn due(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last) >= self.interval {
            self.last = now;
            true
        } else {
            false
        }
    }
}
