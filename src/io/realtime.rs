//! What every real-time callback runs inside: the audio callbacks (cpal's,
//! on any host) and the MIDI input callbacks (on JACK's process thread
//! with the `jack` feature).
//!
//! [`callback`] marks the thread as real-time for the length of the call,
//! forbids allocation there (checked when the binary's global allocator is
//! `assert_no_alloc::AllocDisabler`, as in the tests; a no-op in release
//! builds) and catches a panic, so a bug never unwinds into the host's C
//! code. The panic hooks ask [`on_realtime_thread`] first: there they only
//! copy the panic's place and message into a fixed buffer ([`note_panic`])
//! and return, without printing, writing files or waiting. The control
//! side reads the note with [`last_fault`] and does the saving and telling.

use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

thread_local! {
    static REALTIME: Cell<bool> = const { Cell::new(false) };
}

/// Run one callback's work: `None` if it panicked (the caller then
/// outputs silence). Never allocates, locks or waits by itself.
pub fn callback<R>(work: impl FnOnce() -> R) -> Option<R> {
    let outer = REALTIME.with(|r| r.replace(true));
    let result = assert_no_alloc::assert_no_alloc(|| catch_unwind(AssertUnwindSafe(work)));
    REALTIME.with(|r| r.set(outer));
    match result {
        Ok(value) => Some(value),
        Err(payload) => {
            // Freeing the payload would call the allocator on this thread;
            // a panic happens once, so its few bytes are left alone.
            std::mem::forget(payload);
            None
        }
    }
}

/// Whether the current thread is inside [`callback`].
pub fn on_realtime_thread() -> bool {
    REALTIME.with(Cell::get)
}

/// Bytes kept of a panic's place and message.
const NOTE_BYTES: usize = 240;

/// The first real-time panic's text: written once by the panicking thread
/// (`state` EMPTY → WRITING → READY), read only once READY.
struct FaultNote {
    state: AtomicU8,
    len: AtomicUsize,
    text: UnsafeCell<[u8; NOTE_BYTES]>,
}

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

// SAFETY: `text` is written only by the one thread that moved
// `state` from EMPTY to WRITING, and read only after it stored READY
// (release/acquire), never again written.
unsafe impl Sync for FaultNote {}

static NOTE: FaultNote = FaultNote {
    state: AtomicU8::new(EMPTY),
    len: AtomicUsize::new(0),
    text: UnsafeCell::new([0; NOTE_BYTES]),
};

/// Keep where and why a real-time thread panicked, without allocating:
/// the first such panic is kept, later ones only count as faults.
pub fn note_panic(info: &PanicHookInfo) {
    if NOTE.state.compare_exchange(EMPTY, WRITING, Ordering::AcqRel, Ordering::Relaxed).is_err() {
        return;
    }
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown cause");
    let mut line = [0u8; 10];
    let (file, line) = match info.location() {
        Some(l) => (l.file(), decimal(l.line(), &mut line)),
        None => ("", ""),
    };
    // SAFETY: this thread alone holds WRITING (see `FaultNote`).
    let text = unsafe { &mut *NOTE.text.get() };
    let mut len = 0;
    for piece in
        [file, if file.is_empty() { "" } else { ":" }, line, if file.is_empty() { "" } else { ": " }, message]
    {
        let n = piece.len().min(NOTE_BYTES - len);
        text[len..len + n].copy_from_slice(&piece.as_bytes()[..n]);
        len += n;
    }
    NOTE.len.store(len, Ordering::Relaxed);
    NOTE.state.store(READY, Ordering::Release);
}

/// The place and message of the first real-time panic, if one happened.
pub fn last_fault() -> Option<String> {
    if NOTE.state.load(Ordering::Acquire) != READY {
        return None;
    }
    // SAFETY: READY is final: the text is no longer written.
    let text = unsafe { &*NOTE.text.get() };
    Some(String::from_utf8_lossy(&text[..NOTE.len.load(Ordering::Relaxed)]).into_owned())
}

/// `n` in decimal, in `buffer`.
fn decimal(mut n: u32, buffer: &mut [u8; 10]) -> &str {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[at..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_callback_is_caught_and_the_flag_is_only_set_inside() {
        assert!(!on_realtime_thread());
        assert_eq!(callback(on_realtime_thread), Some(true));
        assert!(!on_realtime_thread());
        let caught = std::thread::spawn(|| callback(|| -> u32 { panic!("a bug in the callback") })).join();
        assert_eq!(caught.ok(), Some(None), "the panic stays inside the callback");
    }

    #[test]
    fn line_numbers_are_written_without_allocating() {
        let mut buffer = [0u8; 10];
        assert_eq!(decimal(0, &mut buffer), "0");
        assert_eq!(decimal(4_294_967_295, &mut buffer), "4294967295");
    }
}
