//! The control state every surface of a live session shares: which track
//! "selected" means, and presses of the take button. The session owns it;
//! keys, MIDI and OSC hold clones and never wait on each other (atomics).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::engine::MAX_TRACKS;

/// Shared by every surface of one session; clones share the same state.
#[derive(Clone, Debug)]
pub struct SharedControls {
    pub selected: SelectedTrack,
    pub take_presses: TakePresses,
}

impl SharedControls {
    /// Track 1 selected of `track_count`, no take presses.
    pub fn new(track_count: usize) -> SharedControls {
        SharedControls { selected: SelectedTrack::new(track_count), take_presses: TakePresses::default() }
    }
}

/// The selected track, shared by every surface.
#[derive(Clone, Debug)]
pub struct SelectedTrack(Arc<SelectionCell>);

#[derive(Debug)]
struct SelectionCell {
    /// 0-based selected track.
    index: AtomicU8,
    /// Tracks in the loaded patch, 1-16.
    count: AtomicU8,
}

impl SelectedTrack {
    /// Track 1 selected, of `track_count` tracks (clamped to 1-16).
    pub fn new(track_count: usize) -> SelectedTrack {
        let count = track_count.clamp(1, MAX_TRACKS) as u8;
        SelectedTrack(Arc::new(SelectionCell { index: AtomicU8::new(0), count: AtomicU8::new(count) }))
    }

    /// The 0-based selected track; always below [`Self::track_count`].
    pub fn get(&self) -> u8 {
        self.0.index.load(Ordering::Relaxed).min(self.track_count() - 1)
    }

    /// Select a 0-based track; false (and no change) if it does not exist.
    pub fn set(&self, index: u8) -> bool {
        let ok = index < self.track_count();
        if ok {
            self.0.index.store(index, Ordering::Relaxed);
        }
        ok
    }

    /// Number of tracks in the patch, 1-16.
    pub fn track_count(&self) -> u8 {
        self.0.count.load(Ordering::Relaxed).clamp(1, MAX_TRACKS as u8)
    }

    /// After a patch load: the selection is kept if it still exists.
    pub fn set_track_count(&self, track_count: usize) {
        let count = track_count.clamp(1, MAX_TRACKS) as u8;
        self.0.count.store(count, Ordering::Relaxed);
        if self.0.index.load(Ordering::Relaxed) >= count {
            self.0.index.store(count - 1, Ordering::Relaxed);
        }
    }

    /// Move the selection by `by` tracks, wrapping round.
    pub fn step(&self, by: i32) {
        let count = i32::from(self.track_count());
        let index = (i32::from(self.get()) + by).rem_euclid(count);
        self.0.index.store(index as u8, Ordering::Relaxed);
    }
}

/// How many times a take binding was pressed: the MIDI thread counts, the
/// session compares with what it has seen and starts or stops a take. A
/// counter, not a flag, so two quick presses are never merged into one.
#[derive(Clone, Debug, Default)]
pub struct TakePresses(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl TakePresses {
    /// One more press (any surface's take button).
    pub fn press(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Presses since the router was made (wraps after 2^32).
    pub fn count(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
