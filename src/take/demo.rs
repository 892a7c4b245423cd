//! A take recorded on a simulated clock in real time: the engine runs from
//! a timer instead of a sound card, fed a tone, with a few commands landing
//! mid-block. It is wired exactly as the live runner wires the recorder
//! (log, process, push, tape copies, autosave, signal flush), which is why
//! the crash tests kill this and not a mock.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{spawn, TakeConfig};
use crate::engine::{Command, Engine, Param, TimedCommand, TrackAction};
use crate::patch::Patch;
use crate::session::{tape_mirror, Autosave, AutosaveClock, DEFAULT_COPY_BUDGET};

/// Frames per simulated audio callback.
const BLOCK: usize = 256;

/// Record for `seconds` of real time into `takes`, autosaving every second,
/// with WAV segments of `segment_frames` (the default when `None`).
pub fn run(patch_path: &Path, takes: &Path, seconds: f64, segment_frames: Option<u64>) -> Result<(), String> {
    let patch = Patch::load(patch_path).map_err(|e| e.to_string())?;
    let rate = patch.sample_rate.unwrap_or(crate::render::DEFAULT_SAMPLE_RATE);
    let config = patch.engine_config();
    let mut engine = Engine::new(config.clone(), rate as f64, BLOCK);
    let (mut copier, mut copies) = tape_mirror(&config, rate as f64, DEFAULT_COPY_BUDGET);
    let autosave = Autosave::beside(patch_path);
    let blank: Vec<Vec<f32>> =
        (0..engine.track_count()).map(|t| engine.tape(t).unwrap_or(&[]).to_vec()).collect();
    autosave.save(&patch, &blank, rate)?;

    let mut take_config = TakeConfig::new(takes.to_path_buf(), patch.clone(), rate, engine.track_count());
    if let Some(frames) = segment_frames {
        take_config.segment_frames = frames;
    }
    let (mut feed, handle) = spawn(take_config)?;
    let flush = crate::shutdown::take_and_autosave(Some(handle.clone()), None, Duration::from_secs(2));
    crate::shutdown::install_signal_flush(flush)?;
    handle.start();

    let tracks = engine.track_count() as u8;
    // (frame, command): record, then play, then a speed change, all mid-block.
    let at = |s: f64| (s * rate as f64) as u64 + 37;
    let mut score = vec![(at(0.1), Command::Track { track: 0, action: TrackAction::Record })];
    score.push((at(1.3), Command::Track { track: 0, action: TrackAction::Play }));
    if tracks > 1 {
        score.push((at(1.5), Command::Track { track: 1, action: TrackAction::Dub }));
    }
    score.push((at(2.2), Command::Set { track: 0, param: Param::Speed, value: 0.5 }));

    let total = (seconds * rate as f64) as u64;
    let mut input = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut timed = Vec::with_capacity(16);
    let mut next = 0;
    let mut frame = 0u64;
    let started = Instant::now();
    let mut clock = AutosaveClock::new(Duration::from_secs(1));
    let mut announced = false;
    while frame < total {
        let n = BLOCK.min((total - frame) as usize);
        for (i, x) in input[..n].iter_mut().enumerate() {
            let t = (frame + i as u64) as f64 / rate as f64;
            *x = (0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()) as f32;
        }
        timed.clear();
        while next < score.len() && score[next].0 < frame + n as u64 {
            let (f, command) = score[next];
            timed.push(TimedCommand { offset: (f - frame) as u32, command });
            feed.log(f, command);
            next += 1;
        }
        engine.process(&input[..n], &mut left[..n], &mut right[..n], &timed);
        feed.push(frame, &input[..n], &left[..n], &right[..n], |t| engine.stem(t, n));
        copier.step(&engine);
        frame += n as u64;

        // Progress, so a test killing this process knows how far it got.
        if announced && frame % (rate as u64 / 4) < n as u64 {
            println!("at {frame}");
            let _ = std::io::stdout().flush();
        }
        if !announced {
            if let Some(folder) = handle.status().folder {
                println!("recording {}", folder.display());
                let _ = std::io::stdout().flush();
                announced = true;
            }
        }
        if clock.due(Instant::now()) && !copies.pending() {
            copies.request();
        }
        if let Some(live) = copies.collect() {
            autosave.save(
                &crate::session::live_patch(&patch, &live.states, live.grid.as_ref(), rate),
                &live.tapes,
                rate,
            )?;
        }
        let due = started + Duration::from_secs_f64(frame as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    handle.stop();
    feed.push(frame, &[], &[], &[], |_| &[][..]);
    feed.flush();
    handle.finish(Duration::from_secs(5));
    let status = handle.status();
    match status.last_error {
        Some(e) => Err(e),
        None => {
            println!(
                "take written to {}",
                status.folder.map(|f| f.display().to_string()).unwrap_or_default()
            );
            Ok(())
        }
    }
}
