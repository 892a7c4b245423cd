//! Take and journal folders on disk, and re-rendering a take from them.
//!
//! ```text
//! takes/
//!   .journal/2025-05-01_2130-07_live/   everything since the engine started
//!     patch.toml  tapes/track-01.wav …  input.wav  events.toml
//!   2025-05-01_2134_live/               one take
//!     take.toml  mix.wav  track-01.wav …  input.wav  events.toml
//!     patch.toml  tapes/track-01.wav …
//! ```
//!
//! A stream too long for one WAV goes on in `mix.002.wav`, `input.002.wav`…
//! (see [`super::segment`]); everything here reads across them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::segment::{self, SegmentReader, SegmentedWav, StreamedInput, DEFAULT_SEGMENT_FRAMES};
use super::TakeConfig;
use crate::engine::{Engine, MODEL_REVISION};
use crate::events::EventList;
use crate::patch::Patch;
use crate::render::{render_engine, stem_name, RenderedBlock, DEFAULT_BLOCK};
use crate::session::{read_tape, tape_file, write_tape};

/// The file that marks a folder as a take.
pub const TAKE_FILE: &str = "take.toml";
/// Present in a journal that lost audio or commands (it cannot replay exactly).
const INEXACT_FILE: &str = "inexact";
/// Version of the take.toml format.
const TAKE_VERSION: u32 = 1;

/// What `take.toml` says about a take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TakeInfo {
    pub version: u32,
    /// The patch's name.
    pub name: String,
    /// Hz.
    pub sample_rate: u32,
    pub tracks: usize,
    /// The session journal, relative to the take folder when it is beside it.
    pub journal: Option<String>,
    /// Engine frame (counted from the journal's start) of the take's first frame.
    pub start_frame: u64,
    /// Length in frames; absent while the take is running (or if the
    /// process died: the length of `mix.wav` then counts).
    pub frames: Option<u64>,
    /// False when audio or commands were lost on the way to the disk.
    pub exact: bool,
    pub dropped_blocks: u64,
    pub dropped_events: u64,
    /// The ferrotape that recorded it.
    #[serde(default)]
    pub ferrotape_version: String,
    /// The sound model's revision that played it (`engine::MODEL_REVISION`);
    /// takes that do not say are from the first engine.
    #[serde(default = "first_revision")]
    pub model_revision: u32,
    /// Round-trip latency the record heads compensated when the take
    /// began, frames; every later change is in the control log.
    #[serde(default)]
    pub record_latency_frames: u32,
    /// Where that figure came from: stream-timestamps, command-line, no-input,
    /// port-latency (the native JACK client).
    #[serde(default)]
    pub latency_source: String,
    /// The 1-based input channel recorded; absent: the mix of all channels.
    #[serde(default)]
    pub input_channel: Option<u16>,
    /// The audio devices it was played on.
    #[serde(default)]
    pub devices: String,
}

fn first_revision() -> u32 {
    1
}

impl TakeInfo {
    /// Why re-rendering this take with this build is not the original
    /// sound, if it is not: the engine changed, or something was lost.
    /// `journal_usable`: the session journal is there to replay.
    pub fn not_exact_because(&self, journal_usable: bool) -> Option<String> {
        if self.model_revision != MODEL_REVISION {
            let by = if self.ferrotape_version.is_empty() {
                String::new()
            } else {
                format!(" (ferrotape {})", self.ferrotape_version)
            };
            return Some(format!(
                "not the original engine: recorded by sound model revision {}{by}, this ferrotape plays revision {MODEL_REVISION}",
                self.model_revision
            ));
        }
        if !journal_usable {
            return Some(
                "the session journal is missing or incomplete: rendered from the take's own files (the loops are right, the wow and drift phases are not)"
                    .into(),
            );
        }
        if !self.exact {
            return Some("audio or commands were lost on the way to the disk while it was recorded".into());
        }
        None
    }

    pub fn load(dir: &Path) -> Result<TakeInfo, String> {
        let path = dir.join(TAKE_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let info: TakeInfo = toml::from_str(&text)
            .map_err(|e| format!("{}: not a take description ({})", path.display(), e.message()))?;
        if info.version != TAKE_VERSION {
            return Err(format!(
                "{}: take format version {} is not supported (this ferrotape reads {TAKE_VERSION})",
                path.display(),
                info.version
            ));
        }
        Ok(info)
    }
}

/// Whether a folder is a take (it has a `take.toml`).
pub fn is_take(path: &Path) -> bool {
    path.is_dir() && path.join(TAKE_FILE).is_file()
}

pub(crate) fn write_info(dir: &Path, info: &TakeInfo) -> Result<(), String> {
    let mut text =
        String::from("# A ferrotape take. Re-render it: ferrotape render THIS_FOLDER --out again.wav\n");
    text.push_str(&toml::to_string(info).map_err(|e| format!("cannot describe the take: {e}"))?);
    let path = dir.join(TAKE_FILE);
    crate::atomic_file::write_atomically(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Create a take folder: patch, starting tapes and a first `take.toml`.
pub(crate) fn create_take(
    config: &TakeConfig,
    journal: Option<&Path>,
    start_frame: u64,
    record_latency_frames: u32,
) -> Result<(PathBuf, TakeInfo), String> {
    std::fs::create_dir_all(&config.root)
        .map_err(|e| format!("cannot create {}: {e}", config.root.display()))?;
    let name = format!("{}_{}", timestamp(SystemTime::now()), safe_name(&config.patch.name));
    let dir = unique_dir(&config.root, &name)?;
    save_start_state(&dir, config)?;
    let journal = journal.map(|j| match j.strip_prefix(&config.root) {
        Ok(inside) => Path::new("..").join(inside).to_string_lossy().into_owned(),
        Err(_) => j.to_string_lossy().into_owned(),
    });
    let info = TakeInfo {
        version: TAKE_VERSION,
        name: config.patch.name.clone(),
        sample_rate: config.sample_rate,
        tracks: config.tracks,
        exact: journal.is_some(),
        journal,
        start_frame,
        frames: None,
        dropped_blocks: 0,
        dropped_events: 0,
        ferrotape_version: env!("CARGO_PKG_VERSION").to_string(),
        model_revision: MODEL_REVISION,
        record_latency_frames,
        latency_source: config
            .rig
            .stats
            .as_ref()
            .map(|stats| stats.record_latency().1.name().to_string())
            .unwrap_or_else(|| "none".into()),
        input_channel: config.rig.input_channel,
        devices: config.rig.devices.clone(),
    };
    write_info(&dir, &info)?;
    Ok((dir, info))
}

pub(crate) fn mark_journal_inexact(journal: &Path) -> std::io::Result<()> {
    std::fs::write(journal.join(INEXACT_FILE), "audio or commands were lost; replays are approximate\n")
}

/// The patch (with the engine's sample rate written in) and the tapes the
/// engine started with.
pub(super) fn save_start_state(dir: &Path, config: &TakeConfig) -> Result<(), String> {
    let mut patch = config.patch.clone();
    patch.sample_rate = Some(config.sample_rate);
    patch.save(&dir.join("patch.toml")).map_err(|e| e.to_string())?;
    if config.start_tapes.iter().any(|t| !t.is_empty()) {
        let tapes = dir.join("tapes");
        std::fs::create_dir_all(&tapes).map_err(|e| format!("cannot create {}: {e}", tapes.display()))?;
        for (t, samples) in config.start_tapes.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            write_tape(&tapes.join(tape_file(t)), samples, config.sample_rate)?;
        }
    }
    Ok(())
}

/// A new folder `parent/name`, or `name-2`, `name-3`… if it exists.
pub(super) fn unique_dir(parent: &Path, name: &str) -> Result<PathBuf, String> {
    for n in 1..1000 {
        let dir = if n == 1 { parent.join(name) } else { parent.join(format!("{name}-{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!("cannot create a take folder in {}: too many named {name}", parent.display()))
}

/// A patch name usable in a folder name: letters, digits, `-` and `_`.
pub(super) fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "take".into()
    } else {
        cleaned
    }
}

/// `YYYY-MM-DD_HHMM` in UTC (no time-zone database is consulted).
pub fn timestamp(time: SystemTime) -> String {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let minute_of_day = secs % 86_400 / 60;
    format!("{y:04}-{m:02}-{d:02}_{:02}{:02}", minute_of_day / 60, minute_of_day % 60)
}

pub(super) fn seconds_of_minute(time: SystemTime) -> String {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{:02}", secs % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What re-rendering a take produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TakeRender {
    pub out: PathBuf,
    pub stems: Vec<PathBuf>,
    pub frames: u64,
    pub sample_rate: u32,
    /// True when the session journal replayed the take from the engine's
    /// start on the engine that played it: sample-exact.
    pub exact: bool,
    /// When not exact, why (another engine revision, a missing journal,
    /// audio lost while recording), for the performer.
    pub not_exact_because: Option<String>,
}

/// Replay a take, handing `sink` each rendered block and the range of it
/// that belongs to the take. Returns (frames in the take, exact).
pub fn replay_take(
    dir: &Path,
    block: usize,
    mut sink: impl FnMut(&RenderedBlock<'_>, std::ops::Range<usize>),
) -> Result<(TakeInfo, u64, bool), String> {
    let info = TakeInfo::load(dir)?;
    let journal = info.journal.as_ref().map(|j| dir.join(j));
    let usable = journal.filter(|j| j.join("input.wav").is_file() && j.join("events.toml").is_file());
    let (source, start, journal_usable) = match usable {
        Some(j) => {
            let whole = !j.join(INEXACT_FILE).exists();
            (j, info.start_frame, whole)
        }
        None => (dir.to_path_buf(), 0, false),
    };
    let exact = info.not_exact_because(journal_usable).is_none();
    let rate = info.sample_rate;
    let frames = match info.frames {
        Some(frames) => frames,
        // A take cut short by a crash: as long as its mix, over all its segments.
        None => segment::stream_frames(&dir.join("mix.wav"))
            .map_err(|e| format!("{}: cannot read mix.wav ({e})", dir.display()))?,
    };
    let patch = Patch::load(&source.join("patch.toml")).map_err(|e| e.to_string())?;
    let events = EventList::load(&source.join("events.toml")).map_err(|e| e.to_string())?;
    events.check_tracks(patch.tracks.len()).map_err(|e| e.to_string())?;
    let score: Vec<_> = events.frames(rate as f64).collect();
    // Hours of journal are streamed a block at a time, never held whole.
    let mut input = StreamedInput::new(SegmentReader::open(&source.join("input.wav"), rate)?);
    let block = block.clamp(1, crate::render::MAX_BLOCK);
    let mut engine = Engine::new(patch.engine_config(), rate as f64, block);
    for t in 0..engine.track_count() {
        let path = source.join("tapes").join(tape_file(t));
        if path.is_file() {
            engine.load_tape(t, &read_tape(&path, rate)?);
        }
    }
    let end = start + frames;
    let mut position = 0u64;
    render_engine(&mut engine, &mut input, &score, end, block, |b| {
        let n = b.left.len() as u64;
        let lo = start.max(position).min(position + n);
        if lo < position + n {
            sink(&b, (lo - position) as usize..n as usize);
        }
        position += n;
    });
    if let Some(e) = input.error {
        return Err(e);
    }
    Ok((info, frames, exact))
}

/// `ferrotape render TAKE_DIR --out X.wav`: the take's mix again, as 32-bit
/// float like the original, plus stems when asked.
pub fn render_take(dir: &Path, out: &Path, stems: Option<&Path>, block: usize) -> Result<TakeRender, String> {
    let block = if block == 0 { DEFAULT_BLOCK } else { block };
    let info = TakeInfo::load(dir)?;
    // Segmented like the take's own files; hidden until complete.
    let segments = DEFAULT_SEGMENT_FRAMES;
    let mut mix = SegmentedWav::create_hidden(out, 2, info.sample_rate, segments)?;
    let mut stem_files = Vec::new();
    if let Some(stems) = stems {
        std::fs::create_dir_all(stems).map_err(|e| format!("cannot create {}: {e}", stems.display()))?;
        for t in 0..info.tracks {
            let path = stems.join(stem_name(t));
            stem_files.push(SegmentedWav::create_hidden(&path, 1, info.sample_rate, segments)?);
        }
    }
    let mut failure = None;
    let (info, frames, exact) = replay_take(dir, block, |b, range| {
        if failure.is_some() {
            return;
        }
        let mut result = mix.write(&[&b.left[range.clone()], &b.right[range.clone()]]);
        for (t, wav) in stem_files.iter_mut().enumerate() {
            result = result.and_then(|_| wav.write(&[&b.stem(t)[range.clone()]]));
        }
        failure = result.err();
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    mix.commit()?;
    let mut stems_written = Vec::new();
    for wav in stem_files {
        let first = wav.commit()?.swap_remove(0);
        stems_written.push(first);
    }
    Ok(TakeRender {
        out: out.to_path_buf(),
        stems: stems_written,
        frames,
        sample_rate: info.sample_rate,
        exact,
        not_exact_because: if exact {
            None
        } else {
            let journal = info.journal.as_ref().map(|j| dir.join(j));
            let usable =
                journal.is_some_and(|j| j.join("events.toml").is_file() && !j.join(INEXACT_FILE).exists());
            info.not_exact_because(usable)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(19_723 * 86_400 + 13 * 3600 + 7 * 60);
        assert_eq!(timestamp(t), "2024-01-01_1307");
    }

    #[test]
    fn names_are_safe_for_folders() {
        assert_eq!(safe_name("my patch/1"), "my-patch-1");
        assert_eq!(safe_name(""), "take");
    }
}
