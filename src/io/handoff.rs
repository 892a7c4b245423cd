//! Lock-free ownership hand-over between an audio callback and its owner.
//!
//! The callback borrows the value for one block with [`Handoff::with`] (two
//! atomic swaps, never waits). The owner can [`Handoff::take`] it back at
//! any time the callback is not inside `with` — for certain once the stream
//! is stopped — so the engine and its tapes survive a device that vanishes:
//! dropping the stream never drops the engine.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

pub struct Handoff<T> {
    slot: AtomicPtr<T>,
}

// SAFETY: the slot owns at most one `T`, and only the thread that swapped
// the pointer out touches it; `T: Send` makes moving it between threads sound.
unsafe impl<T: Send> Send for Handoff<T> {}
unsafe impl<T: Send> Sync for Handoff<T> {}

impl<T> Handoff<T> {
    pub fn new(value: Box<T>) -> Handoff<T> {
        Handoff { slot: AtomicPtr::new(Box::into_raw(value)) }
    }

    pub fn empty() -> Handoff<T> {
        Handoff { slot: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Borrow the value for the duration of `f`; `None` when it is not in
    /// the slot. Real-time safe: no allocation, no waiting.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let p = self.slot.swap(ptr::null_mut(), Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: the swap made this thread the only holder of `p`, which came
        // from `Box::into_raw`.
        let result = f(unsafe { &mut *p });
        // The slot was empty while we held the value (`put` refuses a full
        // slot, and nobody else can fill an empty one meanwhile but `put`).
        if self.slot.compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed).is_err() {
            // Someone `put` a value while we held ours: keep theirs, and leak
            // ours rather than free memory on the audio thread.
            debug_assert!(false, "Handoff::put while the value was borrowed");
        }
        Some(result)
    }

    /// Take the value out, if it is in the slot (not borrowed, not taken).
    pub fn take(&self) -> Option<Box<T>> {
        let p = self.slot.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: as in `with`; ownership moves to the returned box.
        (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
    }

    /// Put a value in an empty slot; gives it back if the slot is full.
    pub fn put(&self, value: Box<T>) -> Result<(), Box<T>> {
        let p = Box::into_raw(value);
        match self.slot.compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => Ok(()),
            // SAFETY: `p` was never published.
            Err(_) => Err(unsafe { Box::from_raw(p) }),
        }
    }

    /// Take the value, waiting (a few milliseconds at a time) while a
    /// callback borrows it, for at most `tries` waits.
    pub fn take_waiting(&self, tries: u32) -> Option<Box<T>> {
        for _ in 0..tries {
            if let Some(v) = self.take() {
                return Some(v);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        self.take()
    }
}

impl<T> Drop for Handoff<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_survives_borrowing_and_comes_back() {
        let slot = Handoff::new(Box::new(5));
        assert_eq!(
            slot.with(|v| {
                *v += 1;
                *v
            }),
            Some(6)
        );
        assert_eq!(slot.take().map(|b| *b), Some(6));
        assert_eq!(slot.with(|v| *v), None);
        assert!(slot.put(Box::new(1)).is_ok());
        assert_eq!(*slot.put(Box::new(2)).unwrap_err(), 2);
    }
}
