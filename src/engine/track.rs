//! One track: a tape, its transport, the heads and their modes.
//!
//! Per sample: the motor advances; the record head (a fixed gap behind the
//! play head) deposits the input into every cell it crosses (the write-head
//! resampler); the play head reads with an interpolating kernel; playback is
//! coloured, hissed, levelled.

mod coast;
mod cycles;
mod head_distance;
mod modes;
mod quantize;
mod record;
mod steady;
mod sweep;
mod tick;

use super::color::{Ageing, Hiss, PlaybackTone, RecordSaturator};
use super::filter::{db_to_gain, Biquad, BiquadCoefs, Ramp};
use super::mixer::{smoothing_coefficient, SMOOTHING_S};
use super::params::{Param, Quality, TapeLength, TrackConfig, TrackParams};
use super::snapshot::{HeadMode, TrackSnapshot, TrackState, OVERVIEW_BINS};
use super::tape::{HeldWeights, Tape};
use cycles::{Copier, CycleOp};
use head_distance::Slide;
use quantize::{GridTake, LoopLock};
pub use quantize::{GridUnit, Wait, WaitFor};
use record::{record_delay, RecordHead};
pub use record::{MAX_RECORD_LATENCY, MIN_TRAIL_FRAMES};
pub(crate) use steady::Steady;
use sweep::Sweep;

/// Punch in/out, erase and mute fades, seconds.
pub const FADE_S: f64 = 0.01;
/// Fade of the output around an undo, redo or clear sweep, seconds.
const DUCK_S: f64 = 0.002;
/// Samples of sweep after which the play head is safely behind the swapped
/// region and the output may come back.
const DUCK_HOLD_SAMPLES: u32 = 4;
/// Below this |speed| the playback level falls in proportion to speed: head
/// output follows the rate of flux change, so a stopping tape fades out.
const FULL_LEVEL_SPEED: f64 = 0.05;
/// Below this |speed| the record path is band-limited before the write head
/// (fewer cells than samples per second: the input must not alias onto tape).
const PREFILTER_BELOW_SPEED: f64 = 0.95;
/// Record pre-filter coefficients are refreshed every this many samples.
const CONTROL_INTERVAL: u64 = 32;

/// Butterworth Q values for a 4th-order low-pass made of two biquads.
const BUTTERWORTH4_Q: [f64; 2] = [0.541_196_1, 1.306_563];

/// A free track's length bookkeeping.
#[derive(Clone, Copy, Debug)]
struct FreeLength {
    /// Loop length in cells, once the first take has closed it.
    cells: Option<usize>,
}

pub struct Track {
    sample_rate: f64,
    quality: Quality,
    params: TrackParams,
    tape: Tape,
    free: Option<FreeLength>,
    transport: super::transport::Transport,
    mode: HeadMode,
    /// Play head position in cells, 0 ≤ pos < len.
    pos: f64,
    passes: u64,

    /// Last four input samples, for the write-head interpolator: a ring
    /// whose oldest entry is at `history_at` (shifting an array every
    /// sample stalls on store forwarding).
    history: [f32; 4],
    history_at: usize,
    prefilter: [Biquad; 2],
    prefilter_coefs: [BiquadCoefs; 2],
    prefilter_on: bool,
    /// The record-head speed the prefilter's coefficients were designed for
    /// (NaN: none yet); an unchanged speed keeps them.
    prefilter_speed: f64,
    drive: f32,
    /// Gains derived from dB parameters, refreshed when a parameter changes
    /// (a `powf` per sample per track is a measurable cost).
    gains: DerivedGains,
    /// Record head engagement, 0 (lifted) to 1 (writing).
    engage: Ramp,
    /// Fraction of the old signal fed into the record head.
    feedback: Ramp,
    /// Fraction of the old signal kept where the record head is not writing.
    keep: Ramp,
    /// Cells left to write additively after closing a free loop, so its seam crossfades.
    seam_fold: u32,
    fade_samples: u32,
    saturator: RecordSaturator,
    last_written: Option<(usize, f32)>,

    tone: PlaybackTone,
    hiss: Hiss,
    ageing: Ageing,
    level: f32,
    audible: Ramp,
    smoothing: f32,
    duck: Ramp,
    sweep: Option<Sweep>,
    sweep_samples: u32,
    /// Whether the play head moves forward, seen when the sweep started.
    sweep_forward: bool,
    /// A loop length to take on once the sweep finishes (undoing a free take).
    resize_after_sweep: Option<usize>,
    /// A mode asked for while a sweep was running.
    deferred_mode: Option<HeadMode>,
    /// Undo (or redo) levels still to take back after the current one (undo_all, redo_all).
    sweeps_left: usize,

    /// A multiply or insert in progress, or the cycle the last one grew from.
    cycle: Option<CycleOp>,
    /// Tape being copied ahead of the play head (a multiply's repeating
    /// cycle, an insert's moved remainder).
    copier: Option<Copier>,
    /// Output gate: closed while the old material must not be heard
    /// (replace, insert) and around a pause.
    gate: Ramp,
    /// The motor is held still: paused, and the gate has closed.
    halted: bool,
    /// Go back to the top of the loop once halted (a oneshot's end).
    rewind_on_halt: bool,
    /// A loop length change gliding the play head (see `head_distance`).
    slide: Option<Slide>,

    /// A press waiting for the grid (see `quantize`).
    wait: Option<Wait>,
    /// A free track's first take begun on the grid.
    grid_take: Option<GridTake>,
    /// The length a first take that ends on the grid closes at, cells.
    take_cells: Option<usize>,
    /// A loop that is a whole number of beats, held to the grid's period.
    lock: Option<LoopLock>,
    /// Motor scale that holds a locked loop to the grid; exactly 1 otherwise.
    servo: f64,
    /// The play head wrapped round the loop in the last tick.
    wrapped: bool,

    /// The record head, following the play head's path one round trip late.
    record: RecordHead,
    clock: u64,
    peak: f32,
    overview: [f32; OVERVIEW_BINS],
    overview_bin: usize,
    /// The read kernel's speed band (see `ReadKernels::band_for`).
    read_band: usize,
    /// Kernel weights kept while the play head reads at one phase.
    held: HeldWeights,
    /// How far the play head moved this sample, cells (negative in reverse).
    velocity: f64,
    /// OVERVIEW_BINS / loop length in cells.
    overview_scale: f64,
    faults: u64,
    muted: bool,
    soloed: bool,
}

impl Track {
    /// Build a track and allocate its tape. Called off the audio thread.
    pub fn new(config: &TrackConfig, quality: Quality, sample_rate: f64, seed: u64) -> Track {
        let (capacity_s, len_s, free) = match config.length {
            TapeLength::Fixed(seconds) => (config.tape_seconds(), seconds, None),
            TapeLength::Free { max_seconds } => (max_seconds, max_seconds, Some(FreeLength { cells: None })),
        };
        let capacity = seconds_to_cells(capacity_s, sample_rate);
        let len = seconds_to_cells(len_s, sample_rate).min(capacity);
        let mut params = config.params;
        params.set(Param::Length, (len as f64 / sample_rate) as f32);
        let speed = params.get(Param::Speed) as f64;
        let fade_samples = (FADE_S * sample_rate).round().max(1.0) as u32;
        Track {
            sample_rate,
            quality,
            params,
            tape: Tape::new(capacity, len, undo_cells(config.undo_mb)),
            free,
            transport: super::transport::Transport::new(sample_rate, seed, speed),
            mode: HeadMode::Play,
            pos: 0.0,
            passes: 0,
            history: [0.0; 4],
            history_at: 0,
            prefilter: [Biquad::default(); 2],
            prefilter_coefs: [BiquadCoefs::IDENTITY; 2],
            prefilter_on: false,
            prefilter_speed: f64::NAN,
            drive: db_to_gain(params.get(Param::DriveDb)),
            gains: DerivedGains::of(&params),
            engage: Ramp::new(0.0, fade_samples),
            feedback: Ramp::new(0.0, fade_samples),
            keep: Ramp::new(1.0 - params.get(Param::Erase), fade_samples),
            seam_fold: 0,
            fade_samples,
            saturator: RecordSaturator::new(config.saturation, sample_rate),
            last_written: None,
            tone: PlaybackTone::new(config.tone, sample_rate),
            hiss: Hiss::new(super::noise::mix64(seed ^ 0x6869_7373)),
            ageing: Ageing::new(super::noise::mix64(seed ^ 0x0061_6765), sample_rate),
            level: db_to_gain(params.get(Param::LevelDb)),
            audible: Ramp::new(1.0, fade_samples),
            smoothing: smoothing_coefficient(sample_rate, SMOOTHING_S),
            duck: Ramp::new(1.0, (DUCK_S * sample_rate).round().max(1.0) as u32),
            sweep: None,
            sweep_samples: 0,
            sweep_forward: true,
            resize_after_sweep: None,
            deferred_mode: None,
            sweeps_left: 0,
            cycle: None,
            copier: None,
            gate: Ramp::new(1.0, (DUCK_S * sample_rate).round().max(1.0) as u32),
            halted: false,
            rewind_on_halt: false,
            slide: None,
            wait: None,
            grid_take: None,
            take_cells: None,
            lock: None,
            servo: 1.0,
            wrapped: false,
            record: RecordHead::new(
                record_delay(0),
                0.0,
                speed,
                len as f64,
                RecordSaturator::new(config.saturation, sample_rate).latency_cells(),
            ),
            clock: 0,
            peak: 0.0,
            overview: [0.0; OVERVIEW_BINS],
            overview_bin: 0,
            read_band: 0,
            held: HeldWeights::default(),
            velocity: 0.0,
            overview_scale: OVERVIEW_BINS as f64 / len as f64,
            faults: 0,
            muted: config.mute,
            soloed: config.solo,
        }
    }

    pub fn params(&self) -> &TrackParams {
        &self.params
    }

    pub fn mode(&self) -> HeadMode {
        self.mode
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    pub fn is_muted(&self) -> bool {
        self.muted
    }

    pub fn is_soloed(&self) -> bool {
        self.soloed
    }

    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// Whether this is a free track whose length the first take has not set yet.
    pub fn length_unset(&self) -> bool {
        self.free.is_some_and(|f| f.cells.is_none())
    }

    /// Take on the current audibility at once (at load: no fade-in).
    pub fn snap_audibility(&mut self) {
        let target = self.audible.target();
        self.audible.jump(target);
    }

    /// Set whether mute/solo across the engine lets this track be heard.
    pub fn set_audible(&mut self, audible: bool) {
        self.audible.set_target(if audible { 1.0 } else { 0.0 });
    }

    /// Set the round-trip latency (frames) the record head compensates for.
    /// Before the first sample the head is placed at once; later it glides
    /// to its new delay without jumping (see [`RecordHead::set_delay`]).
    pub fn set_record_latency(&mut self, frames: u32) {
        let delay = record_delay(frames);
        if self.clock == 0 {
            let speed = self.transport.speed();
            self.record.seat(delay, self.pos, speed, self.tape.len() as f64);
        } else {
            self.record.set_delay(delay);
        }
    }

    /// Frames the record head trails the play head by (once settled).
    pub fn record_delay(&self) -> usize {
        self.record.delay()
    }

    /// Play head position in cells, 0 ≤ position < loop length.
    pub fn play_position(&self) -> f64 {
        self.pos
    }

    /// Record head position in cells.
    pub fn record_position(&self) -> f64 {
        self.record.pos
    }

    pub fn set_param(&mut self, param: Param, value: f32) {
        self.params.set(param, value);
        self.gains = DerivedGains::of(&self.params);
        match param {
            // A free track's length is set by its first take, not by a
            // parameter; a multiply or insert decides the length it leaves.
            Param::Length if !self.length_unset() => {
                if self.cycle_running() {
                    self.params.set(Param::Length, (self.tape.len() as f64 / self.sample_rate) as f32);
                    return;
                }
                let cells = seconds_to_cells(self.params.get(Param::Length) as f64, self.sample_rate)
                    .min(self.tape.capacity());
                self.change_length(cells);
            }
            Param::Erase if self.mode != HeadMode::Erase => {
                self.keep.set_target(1.0 - self.params.get(Param::Erase));
            }
            Param::Feedback if matches!(self.mode, HeadMode::Dub | HeadMode::Multiply) => {
                self.feedback.set_target(self.params.get(Param::Feedback));
            }
            _ => {}
        }
    }

    /// Replace the tape's contents (a saved session). On a free track the
    /// loop length becomes `samples.len()` cells (an empty tape leaves the
    /// length to the first take). Nothing loaded can be undone.
    pub fn load_tape(&mut self, samples: &[f32]) {
        self.cycle = None;
        self.copier = None;
        self.slide = None;
        if let Some(free) = self.free.as_mut() {
            if !samples.is_empty() {
                let cells = samples.len().min(self.tape.capacity());
                free.cells = Some(cells);
                self.resize_loop(cells);
                self.params.set(Param::Length, (cells as f64 / self.sample_rate) as f32);
            }
        }
        self.tape.load(samples);
    }

    /// The loop length as an undo level records it: `None` while a free
    /// track waits for its first take.
    fn loop_length(&self) -> Option<usize> {
        (!self.length_unset()).then(|| self.tape.len())
    }

    /// Take on a loop length an operation (or its undo) decided: the loop,
    /// a free track's bookkeeping and the `length` parameter.
    fn settle_length(&mut self, cells: Option<usize>) {
        match cells {
            Some(cells) => {
                self.resize_loop(cells);
                if let Some(free) = self.free.as_mut() {
                    free.cells = Some(cells);
                }
                self.params.set(Param::Length, (self.tape.len() as f64 / self.sample_rate) as f32);
            }
            None => {
                if let Some(free) = self.free.as_mut() {
                    free.cells = None;
                }
                self.lock = None;
                self.servo = 1.0;
                self.resize_loop(self.tape.capacity());
            }
        }
    }

    /// Change the loop length; both heads wrap into the new loop and keep
    /// their distance along the path.
    fn resize_loop(&mut self, cells: usize) {
        let lead = self.record.lead();
        self.tape.set_len(cells);
        let len = self.tape.len() as f64;
        self.overview_scale = OVERVIEW_BINS as f64 / len;
        self.pos = wrap_position(self.pos, len);
        self.record.pos = wrap_position(self.pos - lead, len);
        self.last_written = None;
    }

    pub fn snapshot(&mut self) -> TrackSnapshot {
        // During a multiply or insert the loop shown is the one reached so
        // far, the position the one in the cycle being played.
        let len = self.saved_length();
        let shown = if self.cycle_running() { self.pos % len as f64 } else { self.pos };
        let unset = self.length_unset();
        let snapshot = TrackSnapshot {
            mode: self.mode,
            position: if unset { 0.0 } else { (shown / len as f64).min(1.0) as f32 },
            length_s: if unset { 0.0 } else { (len as f64 / self.sample_rate) as f32 },
            length_unset: unset,
            target_speed: self.params.get(Param::Speed),
            motor_speed: self.transport.motor_speed() as f32,
            tape_speed: self.transport.speed() as f32,
            peak: self.peak,
            muted: self.muted,
            soloed: self.soloed,
            waiting: self.wait.map(|w| w.action),
            locked_beats: self.lock.map_or(0.0, |l| l.beats as f32),
            can_undo: self.tape.can_undo() || self.mode.writes(),
            can_redo: self.tape.can_redo(),
            undo_levels: self.tape.undo_levels().0 as u16,
            redo_levels: self.tape.undo_levels().1 as u16,
            cycle_cells: self.cycle.map_or(len, |cycle| cycle.cycle_cells()),
            passes: self.passes,
            overview: self.overview,
            params: self.params,
            loop_cells: len,
            capacity_cells: self.tape.capacity(),
        };
        self.peak = 0.0;
        snapshot
    }

    /// What a save needs, without the side effects of a snapshot.
    pub fn state(&self) -> TrackState {
        TrackState {
            params: self.params,
            muted: self.muted,
            soloed: self.soloed,
            loop_cells: self.saved_length(),
            capacity_cells: self.tape.capacity(),
            length_unset: self.length_unset(),
        }
    }
}

/// Linear gains of a track's dB parameters.
#[derive(Clone, Copy, Debug)]
struct DerivedGains {
    drive: f32,
    level: f32,
    /// RMS of the hiss (0 = off).
    hiss: f32,
}

impl DerivedGains {
    fn of(params: &TrackParams) -> Self {
        DerivedGains {
            drive: db_to_gain(params.get(Param::DriveDb)),
            level: db_to_gain(params.get(Param::LevelDb)),
            hiss: db_to_gain(params.get(Param::HissDb)),
        }
    }
}

/// A position in cells wrapped into a loop of `len` cells: 0 ≤ result < len.
#[inline]
fn wrap_position(pos: f64, len: f64) -> f64 {
    if (0.0..len).contains(&pos) {
        return pos;
    }
    let wrapped = if pos >= len && pos < 2.0 * len {
        pos - len
    } else if pos < 0.0 && pos >= -len {
        pos + len
    } else {
        pos.rem_euclid(len)
    };
    // Rounding at the wrap can land exactly on len.
    if wrapped >= len {
        0.0
    } else {
        wrapped
    }
}

/// Cells of undo store for `mb` MiB of memory (4-byte cells).
fn undo_cells(mb: f64) -> usize {
    (mb.max(0.0) * (1u64 << 20) as f64 / std::mem::size_of::<f32>() as f64) as usize
}

/// Seconds of tape at speed 1 to cells, at least one.
pub fn seconds_to_cells(seconds: f64, sample_rate: f64) -> usize {
    (seconds * sample_rate).round().max(1.0) as usize
}
