//! What a live session saves when the process is told to stop (SIGINT,
//! SIGTERM) or panics: the take is closed and the session autosaved.
//!
//! A signal first asks the session to stop normally ([`stop_requested`]):
//! `play --no-tui` and the screen then finish the take and autosave in
//! [`super::LiveSession::stop`] and exit as usual. If nobody has stopped the
//! session within [`GRACE`], the signal thread does the saving itself and
//! exits with 128 + the signal number.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::patch::Patch;
use crate::session::{live_patch, Autosave, LiveTapes, TapeCopyHandle};
use crate::take::TakeHandle;

/// How long a signal waits for the session to stop by itself.
pub const GRACE: Duration = Duration::from_secs(10);
/// How long a forced flush waits for the take writer and the tape copy.
const FLUSH_WAIT: Duration = Duration::from_secs(3);

/// How to autosave the running session from any thread.
#[derive(Clone)]
pub(crate) struct AutosaveJob {
    pub copies: Arc<Mutex<TapeCopyHandle>>,
    pub autosave: Autosave,
    /// The patch as loaded, with the MIDI bindings learned into it since:
    /// what an autosave writes the live state into.
    pub patch: Arc<Mutex<Patch>>,
    pub sample_rate: u32,
}

impl AutosaveJob {
    /// Write an autosave of what is playing: the tapes, and the patch with
    /// every track's live parameters, mute, solo and loop length.
    pub fn save(&self, live: &LiveTapes) -> Result<PathBuf, String> {
        let base = self.patch.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let patch = live_patch(&base, &live.states, live.grid.as_ref(), self.sample_rate);
        self.autosave.save(&patch, &live.tapes, self.sample_rate)
    }

    /// Ask the audio side for a copy of the tapes, wait for it (the stream
    /// must be running) and save it. Never blocks on a held lock.
    pub fn save_now(&self, wait: Duration) -> Result<PathBuf, String> {
        let tapes = {
            let Ok(mut copies) = self.copies.try_lock() else {
                return Err("the tape copy is busy".into());
            };
            if !copies.pending() {
                copies.request();
            }
            let deadline = Instant::now() + wait;
            loop {
                if let Some(tapes) = copies.collect() {
                    break tapes;
                }
                if Instant::now() >= deadline {
                    return Err("the tapes could not be copied in time".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        self.save(&tapes)
    }
}

/// What the running session would have to save.
#[derive(Default)]
pub(crate) struct FlushState {
    pub take: Option<TakeHandle>,
    pub autosave: Option<AutosaveJob>,
}

static STATE: Mutex<Option<FlushState>> = Mutex::new(None);
static STOP: AtomicBool = AtomicBool::new(false);
static STOPPED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Whether SIGINT or SIGTERM asked the session to stop.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Register what to save (replacing the previous session's), and install
/// the signal and panic hooks the first time.
pub(crate) fn register(state: FlushState) -> Result<(), String> {
    STOPPED.store(false, Ordering::SeqCst);
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
    INSTALLED.get_or_init(install).clone()
}

/// The session stopped and saved by itself: nothing left to flush.
pub(crate) fn stopped() {
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = None;
    STOPPED.store(true, Ordering::SeqCst);
}

/// Close the take and autosave, from whatever state is registered.
fn flush_now() {
    let state = match STATE.try_lock() {
        Ok(mut state) => state.take(),
        Err(_) => None,
    };
    let Some(state) = state else { return };
    if let Some(take) = &state.take {
        take.finish(FLUSH_WAIT);
    }
    if let Some(job) = &state.autosave {
        if let Err(e) = job.save_now(FLUSH_WAIT) {
            // Never a panic on the way out, even with stderr closed.
            std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("ferrotape: autosave on exit failed: {e}\n"),
            )
            .ok();
        }
    }
}

fn install() -> Result<(), String> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    std::thread::Builder::new()
        .name("signal-flush".into())
        .spawn(move || {
            for signal in signals.forever() {
                if STOP.swap(true, Ordering::SeqCst) {
                    // A second signal: do not wait any longer.
                    flush_now();
                    std::process::exit(128 + signal);
                }
                let deadline = Instant::now() + GRACE;
                while !STOPPED.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !STOPPED.load(Ordering::SeqCst) {
                    flush_now();
                    std::process::exit(128 + signal);
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    crate::shutdown::install_panic_flush(Arc::new(flush_now));
    Ok(())
}
