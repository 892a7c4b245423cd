//! Killing the process mid-take (SIGKILL: no handler runs) must leave every
//! WAV readable with audio up to within a second of the kill, the patch
//! untouched and the autosaves whole, also when the streams have gone on
//! into further segment files.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotape::events::EventList;
use ferrotape::session::{load_autosave, Autosave};
use ferrotape::take::segment::segment_paths;

const RATE: u64 = 48_000;

const PATCH: &str = "version = 1\nname = \"crash\"\nseed = 5\nsample_rate = 48000\n\n[[track]]\nlength = 1.0\nwow_pct = 0.5\n\n[[track]]\nlength = \"free\"\nmax_length = 3\n";

/// Frames in one WAV file, checking that the file holds all it promises.
fn frames_in(path: &Path) -> u64 {
    let reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()));
    let frames = u64::from(reader.duration());
    // Every sample the header promises must be readable.
    let samples = reader.into_samples::<f32>().filter(Result::is_ok).count() as u64;
    assert!(samples >= frames, "{}: header promises more than the file holds", path.display());
    frames
}

/// Frames in each segment of a stream, each checked by [`frames_in`].
fn segment_frames(first: &Path) -> Vec<u64> {
    let frames: Vec<u64> = segment_paths(first).iter().map(|p| frames_in(p)).collect();
    assert!(!frames.is_empty(), "{} missing", first.display());
    frames
}

/// What a killed recording left behind.
struct Killed {
    dir: PathBuf,
    patch: PathBuf,
    takes: PathBuf,
    /// The take's folder.
    folder: PathBuf,
    /// Frames of the take the recorder had produced when it died.
    expected: u64,
    killed_after: f64,
}

/// Run `take-demo` (with `extra` arguments), let it record about 3.5 s of
/// take, then SIGKILL it.
fn record_and_kill(name: &str, extra: &[&str]) -> Killed {
    let dir = common::scratch_dir(name);
    let patch = dir.join("crash.toml");
    std::fs::write(&patch, PATCH).expect("patch");
    let takes = dir.join("takes");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotape"))
        .args(["take-demo", &patch.to_string_lossy(), "--takes", &takes.to_string_lossy(), "--seconds", "60"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the recorder");
    let lines = Arc::new(Mutex::new(Vec::<(Instant, String)>::new()));
    let stdout = child.stdout.take().expect("stdout");
    let seen = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            seen.lock().expect("lines").push((Instant::now(), line));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (started, folder) = loop {
        if let Some((at, line)) = lines.lock().expect("lines").first().cloned() {
            break (at, PathBuf::from(line.trim_start_matches("recording ")));
        }
        assert!(Instant::now() < deadline, "the take never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    // Let a couple of autosaves and header rewrites happen, then kill -9.
    std::thread::sleep(Duration::from_millis(3_500));
    let killed_after = started.elapsed().as_secs_f64();
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    // The audio the recorder had produced when it died: its last progress
    // line (the simulated clock runs in real time unless the machine is busy).
    let produced = lines
        .lock()
        .expect("lines")
        .iter()
        .rev()
        .find_map(|(_, l)| l.strip_prefix("at ").and_then(|f| f.parse::<u64>().ok()))
        .expect("progress reported");
    let take_start = ferrotape::take::TakeInfo::load(&folder).expect("take.toml").start_frame;
    Killed { dir, patch, takes, folder, expected: produced - take_start, killed_after }
}

fn journal_of(takes: &Path) -> PathBuf {
    std::fs::read_dir(takes.join(".journal"))
        .expect("journal")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("one")
}

fn take_streams() -> Vec<String> {
    let mut names = vec!["mix.wav".to_string(), "input.wav".to_string()];
    names.extend((0..2).map(ferrotape::render::stem_name));
    names
}

#[test]
fn sigkill_mid_take_leaves_readable_files() {
    let Killed { dir, patch, takes, folder, expected, killed_after } = record_and_kill("crash-sigkill", &[]);
    eprintln!(
        "killed {killed_after:.2} s after the take started; {:.2} s of audio produced",
        expected as f64 / RATE as f64
    );
    let mut shortest = u64::MAX;
    for name in &take_streams() {
        let frames = frames_in(&folder.join(name));
        shortest = shortest.min(frames);
        eprintln!("{name}: {:.2} s of {killed_after:.2} s survived", frames as f64 / RATE as f64);
        assert_eq!(segment_paths(&folder.join(name)).len(), 1, "a short take is one file per stream");
    }
    let journal = journal_of(&takes);
    let journal_frames = frames_in(&journal.join("input.wav"));
    assert!(journal_frames >= shortest, "the journal holds at least the take");
    let lost = expected.saturating_sub(shortest) as f64 / RATE as f64;
    assert!(lost < 1.0, "{lost:.2} s lost (kept {shortest} frames of about {expected})");

    // The control logs parse; the patch and the autosaves are whole.
    EventList::load(&folder.join("events.toml")).expect("take events parse");
    EventList::load(&journal.join("events.toml")).expect("journal events parse");
    assert_eq!(std::fs::read_to_string(&patch).expect("patch"), PATCH);
    let autosaves = Autosave::beside(&patch).list();
    assert!(!autosaves.is_empty());
    for (_, saved) in &autosaves {
        let session = load_autosave(saved, 48_000).expect("autosave loads");
        assert_eq!(session.tapes.len(), 2);
    }
    // The killed take still re-renders (its length is that of mix.wav).
    let out = dir.join("again.wav");
    let report = ferrotape::take::render_take(&folder, &out, None, 256).expect("re-render");
    assert_eq!(report.frames, frames_in(&folder.join("mix.wav")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_after_segment_boundaries_leaves_every_segment_readable() {
    // Half-second segments: the 3.5 s take is killed in its seventh or later.
    let segment = RATE / 2;
    let killed = record_and_kill("crash-segments", &["--segment-frames", &segment.to_string()]);
    let Killed { dir, takes, folder, expected, .. } = killed;
    let mut shortest = u64::MAX;
    let mut mix_segments = Vec::new();
    for name in &take_streams() {
        let frames = segment_frames(&folder.join(name));
        let (last, closed) = frames.split_last().expect("segments");
        assert!(closed.len() >= 5, "{name}: only {} segments", frames.len());
        assert!(closed.iter().all(|&f| f == segment), "{name}: closed segments of {frames:?}");
        assert!(*last <= segment, "{name}: open segment of {last} frames");
        let total: u64 = frames.iter().sum();
        shortest = shortest.min(total);
        if name == "mix.wav" {
            mix_segments = frames;
        }
    }
    let journal = segment_frames(&journal_of(&takes).join("input.wav"));
    assert!(journal.len() >= 6, "journal in {} segments", journal.len());
    let journal_frames: u64 = journal.iter().sum();
    assert!(
        journal_frames >= shortest,
        "the journal ({journal_frames}) holds at least the take ({shortest})"
    );
    let lost = expected.saturating_sub(shortest) as f64 / RATE as f64;
    assert!(lost < 1.0, "{lost:.2} s lost (kept {shortest} frames of about {expected})");

    // Re-rendered across every segment, it is the killed take's mix again.
    let out = dir.join("again.wav");
    let report = ferrotape::take::render_take(&folder, &out, None, 256).expect("re-render");
    assert_eq!(report.frames, mix_segments.iter().sum::<u64>());
    let read = |path: &Path| -> Vec<f32> {
        let mut reader = hound::WavReader::open(path).expect("opens");
        let n = reader.len() as usize;
        reader.samples::<f32>().take(n).map(|s| s.expect("sample")).collect()
    };
    let mix: Vec<f32> = segment_paths(&folder.join("mix.wav")).iter().flat_map(|p| read(p)).collect();
    let again = read(&out);
    let differing = again.iter().zip(&mix).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!((again.len(), differing), (mix.len(), 0), "the re-render differs from the killed take");
    let _ = std::fs::remove_dir_all(&dir);
}
