//! Killing the process mid-take (SIGKILL: no handler runs) must leave every
//! WAV readable with audio up to within a second of the kill, the patch
//! untouched and the autosaves whole.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotape::events::EventList;
use ferrotape::session::{load_autosave, Autosave};

const RATE: u64 = 48_000;

const PATCH: &str = "version = 1\nname = \"crash\"\nseed = 5\nsample_rate = 48000\n\n[[track]]\nlength = 1.0\nwow_pct = 0.5\n\n[[track]]\nlength = \"free\"\nmax_length = 3\n";

fn frames_in(path: &Path) -> u64 {
    let reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()));
    let frames = u64::from(reader.duration());
    // Every sample the header promises must be readable.
    let samples = reader.into_samples::<f32>().filter(Result::is_ok).count() as u64;
    assert!(samples >= frames, "{}: header promises more than the file holds", path.display());
    frames
}

#[test]
fn sigkill_mid_take_leaves_readable_files() {
    let dir = common::scratch_dir("crash-sigkill");
    let patch = dir.join("crash.toml");
    std::fs::write(&patch, PATCH).expect("patch");
    let takes = dir.join("takes");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotape"))
        .args(["take-demo", &patch.to_string_lossy(), "--takes", &takes.to_string_lossy(), "--seconds", "60"])
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
    let expected = produced - take_start;
    eprintln!(
        "killed {killed_after:.2} s after the take started; {:.2} s of audio produced",
        expected as f64 / RATE as f64
    );
    let mut names = vec!["mix.wav".to_string(), "input.wav".to_string()];
    names.extend((0..2).map(ferrotape::render::stem_name));
    let mut shortest = u64::MAX;
    for name in &names {
        let frames = frames_in(&folder.join(name));
        shortest = shortest.min(frames);
        eprintln!("{name}: {:.2} s of {killed_after:.2} s survived", frames as f64 / RATE as f64);
    }
    let journal =
        std::fs::read_dir(takes.join(".journal")).expect("journal").flatten().next().expect("one").path();
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
