//! Taking over the terminal, and always giving it back: on return, on
//! error and on panic (before the panic message is printed, so it is readable).

use std::io::{self, Write};
use std::sync::Once;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};

/// Raw mode, alternate screen and mouse capture while alive.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_restore();
        enable_raw_mode()?;
        let guard = TerminalGuard { _private: () };
        execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
        if mouse {
            execute!(io::stdout(), EnableMouseCapture)?;
        }
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Put the terminal back as it was. Safe to call more than once; failures
/// are ignored because there is nothing better to do with them on the way out.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_restore() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The screen goes on when the audio thread panics; the
            // session reports it.
            if crate::io::realtime::on_realtime_thread() {
                crate::io::realtime::note_panic(info);
                return;
            }
            restore();
            previous(info);
        }));
    });
}
