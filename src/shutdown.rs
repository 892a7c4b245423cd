//! Saving what can be saved when the process is told to stop or a bug
//! panics: the take's files are closed (headers final) and the session is
//! autosaved. The terminal is restored by the screen, not here.

use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Work to do before exiting: close the take, write an autosave. It runs on
/// an ordinary thread (never inside a signal handler), so it may do I/O.
pub type FlushFn = Arc<dyn Fn() + Send + Sync>;

/// On SIGINT or SIGTERM, run `flush` and exit with 128 + the signal number.
/// The signals are caught by a dedicated thread; a second signal during the
/// flush is ignored rather than cutting it short.
pub fn install_signal_flush(flush: FlushFn) -> Result<(), String> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    std::thread::Builder::new()
        .name("signal-flush".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                flush();
                std::process::exit(128 + signal);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

/// Before the current panic hook runs (the screen's, which restores the
/// terminal, or the default message), run `flush`. A panic inside `flush`
/// itself is not retried. A panic on a real-time thread is only noted
/// (see [`crate::io::realtime`]).
pub fn install_panic_flush(flush: FlushFn) {
    let previous = std::panic::take_hook();
    let running = std::sync::atomic::AtomicBool::new(false);
    std::panic::set_hook(Box::new(move |info| {
        // On the audio thread: no files, no waiting, no printing. The
        // callback catches the panic; the session saves and says why.
        if crate::io::realtime::on_realtime_thread() {
            crate::io::realtime::note_panic(info);
            return;
        }
        if !running.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| flush()));
        }
        previous(info);
    }));
}

/// The usual flush for a live session: close the take (waiting up to
/// `timeout`) and, if given, run the autosave.
pub fn take_and_autosave(
    take: Option<crate::take::TakeHandle>,
    autosave: Option<Arc<dyn Fn() + Send + Sync>>,
    timeout: std::time::Duration,
) -> FlushFn {
    Arc::new(move || {
        if let Some(take) = &take {
            take.finish(timeout);
        }
        if let Some(save) = &autosave {
            save();
        }
    })
}
