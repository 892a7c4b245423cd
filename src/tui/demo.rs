//! `ferrotape tui-demo PATCH`: the screen over an engine on a timer thread,
//! with no audio device. For trying the screen; live audio goes through the
//! audio bridge instead.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::link::{InstrumentLink, LearnTarget, LinkStatus, LocalLink};
use crate::engine::{Command, EngineConfig, EngineSnapshot};
use crate::patch::Patch;

const SAMPLE_RATE: f64 = 48_000.0;
const BLOCK: usize = 256;
/// How often the timer thread runs the engine.
const TICK: Duration = Duration::from_millis(10);

/// A [`LocalLink`] advanced in real time by a timer thread.
/// NOTE: a mutex between the threads is fine here because nothing is
/// played; the live bridge uses lock-free queues.
pub struct ClockedLink {
    shared: Arc<Mutex<Shared>>,
}

struct Shared {
    link: LocalLink,
    /// Share of real time spent processing, percent.
    load_pct: f32,
    stop: bool,
}

impl ClockedLink {
    pub fn start(config: EngineConfig) -> ClockedLink {
        let mut link = LocalLink::new(config, SAMPLE_RATE, BLOCK);
        link.set_warning("demo: no audio device, the engine runs on a timer (silent)");
        let shared = Arc::new(Mutex::new(Shared { link, load_pct: 0.0, stop: false }));
        let timer = Arc::clone(&shared);
        thread::spawn(move || {
            let mut last = Instant::now();
            loop {
                thread::sleep(TICK);
                let now = Instant::now();
                let frames = (now.duration_since(last).as_secs_f64() * SAMPLE_RATE) as usize;
                last = now;
                let mut shared = lock(&timer);
                if shared.stop {
                    return;
                }
                let started = Instant::now();
                shared.link.run(frames);
                let busy = started.elapsed().as_secs_f64() / (frames.max(1) as f64 / SAMPLE_RATE);
                shared.load_pct = (busy * 100.0) as f32;
            }
        });
        ClockedLink { shared }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic on the timer thread must not take the screen down with it.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for ClockedLink {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
    }
}

impl InstrumentLink for ClockedLink {
    fn send(&mut self, command: Command) -> bool {
        lock(&self.shared).link.send(command)
    }

    fn poll(&mut self) -> Option<EngineSnapshot> {
        lock(&self.shared).link.poll()
    }

    fn status(&self) -> LinkStatus {
        let shared = lock(&self.shared);
        LinkStatus { backend: "demo".into(), load_pct: shared.load_pct, ..shared.link.status() }
    }

    fn load(&mut self, _path: &std::path::Path, config: &EngineConfig) -> Result<(), String> {
        lock(&self.shared).link.load(_path, config)
    }

    fn learn(&mut self, target: LearnTarget) -> bool {
        lock(&self.shared).link.learn(target)
    }

    fn select_track(&mut self, track: u8) {
        lock(&self.shared).link.select_track(track);
    }

    fn selected_track(&self) -> Option<u8> {
        lock(&self.shared).link.selected_track()
    }
}

/// Open `patch` on the screen over a [`ClockedLink`].
pub fn run_demo(patch: &Path) -> Result<(), String> {
    let config = Patch::load(patch).map_err(|e| e.to_string())?.engine_config();
    super::run_interactive(Some(patch), &mut ClockedLink::start(config))
}
