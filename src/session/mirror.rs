//! Getting a copy of the tapes off the audio thread without stopping it.
//!
//! The control side sends preallocated buffers ([`TapeCopy`]) through a
//! queue; each block the audio side copies a bounded number of cells of the
//! tape being asked for into the buffer and, when it is complete, returns it
//! on a second queue. The audio side never allocates, frees or waits; the
//! cost per block is at most `budget` cells of `memcpy`.
//!
//! NOTE: a tape longer than the budget is copied over several blocks, so the
//! copy is not one instant of a tape that is being recorded on; a tape that
//! is only playing copies exactly. A length change mid-copy (a free loop
//! closing) restarts the copy.

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::engine::params::EngineConfig;
use crate::engine::track::seconds_to_cells;
use crate::engine::{Engine, TrackState};

/// Cells copied per block by default: 32768 cells ≈ 128 KiB of `memcpy`,
/// a few microseconds; a 60 s tape at 48 kHz takes 88 blocks (about 0.5 s).
pub const DEFAULT_COPY_BUDGET: usize = 32_768;

/// One track's tape on its way back from the audio thread.
pub struct TapeCopy {
    /// 0-based track.
    pub track: usize,
    /// Room for the tape at its longest; the first `len` cells are the copy.
    cells: Vec<f32>,
    /// Loop length in cells when the copy was taken.
    len: usize,
    /// Cells copied so far.
    copied: usize,
    /// The track's parameters, mute, solo and loop length when the copy ended.
    state: Option<TrackState>,
    /// The time grid then (a tapped or followed tempo is live state too).
    grid: Option<crate::engine::GridState>,
}

impl TapeCopy {
    /// The copied loop.
    pub fn cells(&self) -> &[f32] {
        &self.cells[..self.len]
    }
}

/// Every track's tape and state, as copied off the audio thread.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveTapes {
    pub tapes: Vec<Vec<f32>>,
    /// One per track: what [`crate::session::live_patch`] writes.
    pub states: Vec<TrackState>,
    /// The time grid as it stood.
    pub grid: Option<crate::engine::GridState>,
}

impl LiveTapes {
    /// Straight from an engine that is not running (the stream stopped).
    pub fn of(engine: &Engine) -> LiveTapes {
        let tracks = 0..engine.track_count();
        LiveTapes {
            tapes: tracks.clone().map(|t| engine.tape(t).unwrap_or(&[]).to_vec()).collect(),
            states: tracks.filter_map(|t| engine.track_state(t)).collect(),
            grid: Some(engine.grid()),
        }
    }
}

/// The audio side: call [`TapeCopier::step`] once per block, after `process`.
pub struct TapeCopier {
    requests: HeapCons<Box<TapeCopy>>,
    done: HeapProd<Box<TapeCopy>>,
    job: Option<Box<TapeCopy>>,
    budget: usize,
}

/// The control side: ask for every tape, then collect them.
pub struct TapeCopyHandle {
    requests: HeapProd<Box<TapeCopy>>,
    done: HeapCons<Box<TapeCopy>>,
    /// Preallocated buffers waiting to be sent, one per track.
    spare: Vec<Option<Box<TapeCopy>>>,
    /// Tapes received for the request in progress.
    received: Vec<Option<Box<TapeCopy>>>,
}

/// Make the pair for an engine built from `config` at `sample_rate`.
/// Allocates a buffer as long as each tape can grow; call off the audio thread.
pub fn tape_mirror(config: &EngineConfig, sample_rate: f64, budget: usize) -> (TapeCopier, TapeCopyHandle) {
    let tracks = config.tracks.len();
    let slots = tracks.max(1);
    let (req_prod, req_cons) = HeapRb::<Box<TapeCopy>>::new(slots).split();
    let (done_prod, done_cons) = HeapRb::<Box<TapeCopy>>::new(slots).split();
    let spare = config
        .tracks
        .iter()
        .enumerate()
        .map(|(track, t)| {
            let seconds = t.tape_seconds();
            let capacity = seconds_to_cells(seconds, sample_rate).max(1);
            Some(Box::new(TapeCopy {
                track,
                cells: vec![0.0; capacity],
                len: 0,
                copied: 0,
                state: None,
                grid: None,
            }))
        })
        .collect();
    let copier = TapeCopier { requests: req_cons, done: done_prod, job: None, budget: budget.max(1) };
    let handle = TapeCopyHandle {
        requests: req_prod,
        done: done_cons,
        spare,
        received: (0..tracks).map(|_| None).collect(),
    };
    (copier, handle)
}

impl TapeCopier {
    /// Copy up to the budget of cells. Allocation-, lock- and syscall-free.
    pub fn step(&mut self, engine: &Engine) {
        let mut budget = self.budget;
        while budget > 0 {
            if self.job.is_none() {
                self.job = self.requests.try_pop();
            }
            let Some(job) = self.job.as_mut() else { return };
            let tape = engine.tape(job.track).unwrap_or(&[]);
            let len = tape.len().min(job.cells.len());
            if job.copied == 0 || len != job.len {
                job.len = len;
                job.copied = 0;
            }
            let n = budget.min(len - job.copied);
            job.cells[job.copied..job.copied + n].copy_from_slice(&tape[job.copied..job.copied + n]);
            job.copied += n;
            budget -= n;
            if job.copied < len {
                return;
            }
            job.state = engine.track_state(job.track);
            job.grid = Some(engine.grid());
            let Some(job) = self.job.take() else { return };
            if let Err(job) = self.done.try_push(job) {
                // The return queue has a slot per track, so this cannot
                // happen; keep the buffer rather than free it here.
                self.job = Some(job);
                return;
            }
        }
    }
}

impl TapeCopyHandle {
    /// Ask for a copy of every tape. False when a request is already running.
    pub fn request(&mut self) -> bool {
        if self.spare.iter().any(Option::is_none) {
            return false;
        }
        for slot in &mut self.spare {
            if let Some(mut copy) = slot.take() {
                copy.copied = 0;
                copy.len = 0;
                copy.state = None;
                copy.grid = None;
                if let Err(copy) = self.requests.try_push(copy) {
                    *slot = Some(copy);
                }
            }
        }
        true
    }

    /// The tapes and the state of their tracks, once every track's copy is
    /// back (`None` until then). The buffers are kept for the next request.
    pub fn collect(&mut self) -> Option<LiveTapes> {
        while let Some(copy) = self.done.try_pop() {
            let track = copy.track;
            if let Some(slot) = self.received.get_mut(track) {
                *slot = Some(copy);
            }
        }
        if self.received.iter().any(Option::is_none) {
            return None;
        }
        let copies = self.received.iter().flatten();
        let tapes = copies.clone().map(|c| c.cells().to_vec()).collect();
        let grid = self.received.iter().flatten().filter_map(|c| c.grid).next_back();
        let states = copies.filter_map(|c| c.state).collect();
        for (slot, copy) in self.spare.iter_mut().zip(self.received.iter_mut()) {
            *slot = copy.take();
        }
        Some(LiveTapes { tapes, states, grid })
    }

    /// Whether a request is waiting for the audio side.
    pub fn pending(&self) -> bool {
        !self.requests.is_empty() || self.spare.iter().any(Option::is_none)
    }
}
