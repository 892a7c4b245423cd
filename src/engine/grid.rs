//! The one time grid: beats and bars in frames, driven by a sync source.
//!
//! The grid is a straight line through time: at engine frame `anchor_frame`
//! it stands at `anchor_beat` (beats since bar 1, beat 1, fractional) and it
//! moves one beat every `frames_per_beat` frames (a fraction: 123 BPM at
//! 48 kHz is 23 414.63… frames). Beat `k` starts at the first whole frame at
//! or after its exact position, `anchor_frame + ceil((k - anchor_beat) ×
//! frames_per_beat)`, computed from the anchor every time, so rounding never
//! accumulates: after ten minutes a beat is where the line says, to the frame.
//!
//! Sources: `internal` runs the line from the patch's tempo (or taps);
//! `midi` and `jack` follow a clock outside the engine, which sends
//! [`GridCommand::Position`] now and then to move the line onto the clock;
//! those commands are logged like any other, so a take re-renders on the
//! same grid. `none` has no grid: quantized presses wait only for a loop.

use std::ops::RangeInclusive;

/// Allowed tempi, BPM.
pub const TEMPO_RANGE: RangeInclusive<f64> = 20.0..=300.0;
/// Allowed beats per bar.
pub const BEATS_PER_BAR_RANGE: RangeInclusive<u32> = 1..=16;
/// The tempo of a patch that names none, BPM.
pub const DEFAULT_TEMPO: f64 = 120.0;
/// MIDI clock ticks per quarter note (beat).
pub const CLOCK_PPQ: u32 = 24;
/// Taps further apart than this start a new tap-tempo count, seconds
/// (one beat at the slowest tempo).
const TAP_RESET_S: f64 = 60.0 / 20.0;
/// Taps averaged for tap tempo (the intervals between the last few).
const TAP_HISTORY: usize = 4;

/// Where the grid's time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncSource {
    /// No grid: tape loops run free.
    #[default]
    None,
    /// The patch's tempo (`tempo`, tap tempo), from the engine's start.
    Internal,
    /// MIDI clock from any input.
    Midi,
    /// The JACK transport.
    Jack,
}

impl SyncSource {
    pub const NAMES: [&'static str; 4] = ["none", "internal", "midi", "jack"];

    pub fn from_name(name: &str) -> Option<SyncSource> {
        match name {
            "none" => Some(SyncSource::None),
            "internal" => Some(SyncSource::Internal),
            "midi" => Some(SyncSource::Midi),
            "jack" => Some(SyncSource::Jack),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SyncSource::None => "none",
            SyncSource::Internal => "internal",
            SyncSource::Midi => "midi",
            SyncSource::Jack => "jack",
        }
    }

    /// Whether a clock outside the engine moves the grid.
    pub fn followed(self) -> bool {
        matches!(self, SyncSource::Midi | SyncSource::Jack)
    }
}

/// A patch's `[sync]` table, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SyncConfig {
    pub source: SyncSource,
    /// BPM, within [`TEMPO_RANGE`]: the internal tempo, and the grid's
    /// tempo until a followed clock has been heard.
    pub tempo_bpm: f64,
    pub beats_per_bar: u32,
    /// 0-based track whose loop `quantize = "loop"` waits for.
    pub sync_track: usize,
    /// Derive the tempo from a track's loop: (0-based track, beats its loop is).
    pub clock_from: Option<(usize, f64)>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            source: SyncSource::None,
            tempo_bpm: DEFAULT_TEMPO,
            beats_per_bar: 4,
            sync_track: 0,
            clock_from: None,
        }
    }
}

/// What a sync source tells the engine. `Copy`, so it crosses queues inside
/// [`crate::engine::Command::Grid`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GridCommand {
    /// From this command's frame the grid stands at `beat` (beats since
    /// bar 1 beat 1, fractional) and moves one beat per `frames_per_beat`
    /// frames. A followed clock sends it when it starts and then about once
    /// a beat, each time a little closer to where the clock is.
    Position { beat: f64, frames_per_beat: f64 },
    /// The followed clock stopped: the grid holds where it is and quantized
    /// presses wait for it to run again.
    Stop,
    /// Set the internal tempo, BPM (clamped into [`TEMPO_RANGE`]); the grid
    /// keeps its phase.
    Tempo { bpm: f64 },
    /// One tap of tap tempo: from the second tap on, the tempo is the mean
    /// interval of the last few taps, and the tap lands on a beat.
    Tap,
}

/// Whether the grid follows something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lock {
    /// No grid (source `none`), or a track's loop drives it.
    #[default]
    Free,
    /// A followed clock has not been heard yet, or has stopped.
    Waiting,
    /// The grid runs: internal tempo, or a followed clock that is running.
    Locked,
}

impl Lock {
    pub fn label(self) -> &'static str {
        match self {
            Lock::Free => "free",
            Lock::Waiting => "waiting for clock",
            Lock::Locked => "locked",
        }
    }
}

/// A `Copy` picture of the grid: for the screen, the status line and clock out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridState {
    pub source: SyncSource,
    pub lock: Lock,
    /// Whether beats are passing (false without a grid or while a clock is stopped).
    pub running: bool,
    pub frames_per_beat: f64,
    pub beats_per_bar: u32,
    /// The grid stood at `anchor_beat` at engine frame `anchor_frame`.
    pub anchor_frame: u64,
    pub anchor_beat: f64,
    /// The engine frame this picture was taken at.
    pub frame: u64,
}

impl Default for GridState {
    fn default() -> Self {
        GridState {
            source: SyncSource::None,
            lock: Lock::Free,
            running: false,
            frames_per_beat: 24_000.0,
            beats_per_bar: 4,
            anchor_frame: 0,
            anchor_beat: 0.0,
            frame: 0,
        }
    }
}

impl GridState {
    /// Tempo in BPM at a sample rate.
    pub fn tempo_bpm(&self, sample_rate: f64) -> f64 {
        60.0 * sample_rate / self.frames_per_beat
    }

    /// The grid's position at an engine frame, in beats (held while stopped).
    pub fn beat_at(&self, frame: u64) -> f64 {
        if !self.running {
            return self.anchor_beat;
        }
        self.anchor_beat + (frame as f64 - self.anchor_frame as f64) / self.frames_per_beat
    }

    /// The first whole frame at or after the exact start of beat `k`
    /// (which may lie before the anchor: then the frame is clamped to it).
    pub fn frame_of_beat(&self, k: f64) -> u64 {
        let offset = ((k - self.anchor_beat) * self.frames_per_beat).ceil();
        if offset <= 0.0 {
            self.anchor_frame
        } else {
            self.anchor_frame + offset as u64
        }
    }

    /// 1-based bar and beat at the picture's frame ("bar 3, beat 2").
    pub fn bar_beat(&self) -> (i64, u32) {
        let beat = self.beat_at(self.frame).floor() as i64;
        let per_bar = i64::from(self.beats_per_bar.max(1));
        (beat.div_euclid(per_bar) + 1, beat.rem_euclid(per_bar) as u32 + 1)
    }
}

/// A grid point: the start of a beat (and maybe of a bar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridPoint {
    /// Beats since bar 1 beat 1.
    pub beat: i64,
    pub bar_start: bool,
}

/// The running grid. Per block the engine asks when the next beat starts
/// ([`Grid::next_point`]) and splits its work there, so the per-sample loop
/// pays nothing for it.
#[derive(Clone, Debug)]
pub struct Grid {
    state: GridState,
    sample_rate: f64,
    /// The next beat to start, and the frame it starts at.
    next_beat: i64,
    next_frame: u64,
    /// Frames of the last taps (oldest first), for tap tempo.
    taps: [u64; TAP_HISTORY + 1],
    tap_count: usize,
}

impl Grid {
    pub fn new(config: &SyncConfig, sample_rate: f64) -> Grid {
        let running = config.source == SyncSource::Internal;
        let lock = match config.source {
            SyncSource::None => Lock::Free,
            SyncSource::Internal => Lock::Locked,
            SyncSource::Midi | SyncSource::Jack => Lock::Waiting,
        };
        let lock =
            if config.clock_from.is_some() && config.source == SyncSource::None { Lock::Free } else { lock };
        let mut grid = Grid {
            state: GridState {
                source: config.source,
                lock,
                running,
                frames_per_beat: frames_per_beat(config.tempo_bpm, sample_rate),
                beats_per_bar: config
                    .beats_per_bar
                    .clamp(*BEATS_PER_BAR_RANGE.start(), *BEATS_PER_BAR_RANGE.end()),
                anchor_frame: 0,
                anchor_beat: 0.0,
                frame: 0,
            },
            sample_rate,
            next_beat: 0,
            next_frame: 0,
            taps: [0; TAP_HISTORY + 1],
            tap_count: 0,
        };
        grid.find_next_point(0);
        grid
    }

    pub fn state(&self) -> GridState {
        self.state
    }

    pub fn running(&self) -> bool {
        self.state.running
    }

    pub fn frames_per_beat(&self) -> f64 {
        self.state.frames_per_beat
    }

    pub fn beats_per_bar(&self) -> u32 {
        self.state.beats_per_bar
    }

    /// The frame of the next grid point and the point, when the grid runs.
    pub fn next_point(&self) -> Option<(u64, GridPoint)> {
        self.state.running.then(|| {
            let per_bar = i64::from(self.state.beats_per_bar);
            (
                self.next_frame,
                GridPoint { beat: self.next_beat, bar_start: self.next_beat.rem_euclid(per_bar) == 0 },
            )
        })
    }

    /// The point at `frame` has been delivered: move on to the next one.
    pub fn passed(&mut self, frame: u64) {
        self.next_beat += 1;
        self.find_next_point(frame + 1);
    }

    /// Frames of one grid unit: a beat or a bar.
    pub fn unit_frames(&self, bar: bool) -> f64 {
        if bar {
            self.state.frames_per_beat * f64::from(self.state.beats_per_bar)
        } else {
            self.state.frames_per_beat
        }
    }

    /// Note the engine's frame (for the picture).
    pub fn set_frame(&mut self, frame: u64) {
        self.state.frame = frame;
    }

    /// Apply a command at engine frame `frame`. Returns true when the
    /// tempo changed (locked loops follow it).
    pub fn apply(&mut self, command: GridCommand, frame: u64) -> bool {
        let before = self.state.frames_per_beat;
        match command {
            GridCommand::Position { beat, frames_per_beat } => {
                if !(beat.is_finite() && frames_per_beat.is_finite() && frames_per_beat > 0.0) {
                    return false;
                }
                let fpb = frames_per_beat.clamp(
                    self::frames_per_beat(*TEMPO_RANGE.end(), self.sample_rate),
                    self::frames_per_beat(*TEMPO_RANGE.start(), self.sample_rate),
                );
                self.state.anchor_frame = frame;
                self.state.anchor_beat = beat;
                self.state.frames_per_beat = fpb;
                self.state.running = true;
                if self.state.source != SyncSource::None {
                    self.state.lock = Lock::Locked;
                }
                // A clock nudged by a little neither repeats a beat already
                // given nor skips one (a beat just missed comes now); one
                // that relocated by more than a beat starts counting afresh.
                let first = beat.ceil() as i64;
                if (self.next_beat as f64) < beat - 1.0 || self.next_beat > first + 1 {
                    self.next_beat = first;
                }
                self.find_next_point(frame);
            }
            GridCommand::Stop => {
                self.state.anchor_beat = self.state.beat_at(frame);
                self.state.anchor_frame = frame;
                self.state.running = false;
                if self.state.source.followed() {
                    self.state.lock = Lock::Waiting;
                }
            }
            GridCommand::Tempo { bpm } => {
                if !bpm.is_finite() {
                    return false;
                }
                self.retempo(frames_per_beat(bpm, self.sample_rate), frame);
            }
            GridCommand::Tap => self.tap(frame),
        }
        self.state.frames_per_beat != before
    }

    /// A new tempo from `frame` on, keeping the grid's phase.
    fn retempo(&mut self, fpb: f64, frame: u64) {
        let fpb = fpb.clamp(
            frames_per_beat(*TEMPO_RANGE.end(), self.sample_rate),
            frames_per_beat(*TEMPO_RANGE.start(), self.sample_rate),
        );
        self.state.anchor_beat = self.state.beat_at(frame);
        self.state.anchor_frame = frame;
        self.state.frames_per_beat = fpb;
        self.find_next_point(frame);
    }

    fn tap(&mut self, frame: u64) {
        let reset = self.tap_count > 0
            && frame.saturating_sub(self.taps[self.tap_count - 1]) as f64 > TAP_RESET_S * self.sample_rate;
        if reset {
            self.tap_count = 0;
        }
        if self.tap_count == self.taps.len() {
            self.taps.copy_within(1.., 0);
            self.tap_count -= 1;
        }
        self.taps[self.tap_count] = frame;
        self.tap_count += 1;
        if self.tap_count >= 2 {
            let span = (self.taps[self.tap_count - 1] - self.taps[0]) as f64;
            let fpb = span / (self.tap_count - 1) as f64;
            self.retempo(fpb, frame);
            // The tap is a beat: the grid's phase moves onto it.
            if self.state.running {
                self.state.anchor_beat = self.state.anchor_beat.round();
                self.next_beat = self.state.anchor_beat as i64 + 1;
                self.find_next_point(frame + 1);
            }
        }
    }

    /// The frame beat `next_beat` starts at, never before `earliest`
    /// (beats whose frame has passed are skipped).
    fn find_next_point(&mut self, earliest: u64) {
        if !self.state.running {
            return;
        }
        loop {
            let frame = self.state.frame_of_beat(self.next_beat as f64);
            if frame >= earliest {
                self.next_frame = frame;
                return;
            }
            self.next_beat += 1;
        }
    }
}

/// Frames per beat at a tempo, clamped into [`TEMPO_RANGE`].
pub fn frames_per_beat(bpm: f64, sample_rate: f64) -> f64 {
    60.0 * sample_rate / bpm.clamp(*TEMPO_RANGE.start(), *TEMPO_RANGE.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(bpm: f64) -> Grid {
        Grid::new(
            &SyncConfig { source: SyncSource::Internal, tempo_bpm: bpm, ..SyncConfig::default() },
            48_000.0,
        )
    }

    /// Walk the grid's points up to `frames`, as the engine does.
    fn points(grid: &mut Grid, frames: u64) -> Vec<(u64, GridPoint)> {
        let mut out = Vec::new();
        while let Some((frame, point)) = grid.next_point() {
            if frame >= frames {
                break;
            }
            out.push((frame, point));
            grid.passed(frame);
        }
        out
    }

    #[test]
    fn beats_fall_on_the_exact_line_for_ten_minutes() {
        let mut grid = internal(123.0);
        let fpb = 48_000.0 * 60.0 / 123.0;
        let all = points(&mut grid, 48_000 * 600);
        assert_eq!(all.len(), 1230);
        for (frame, point) in &all {
            let exact = point.beat as f64 * fpb;
            assert!(
                *frame as f64 >= exact && (*frame as f64) < exact + 1.0,
                "beat {} at {frame}",
                point.beat
            );
            assert_eq!(point.bar_start, point.beat % 4 == 0);
        }
    }

    #[test]
    fn tempo_change_keeps_the_phase() {
        let mut grid = internal(120.0);
        assert_eq!(points(&mut grid, 60_000).len(), 3);
        // Half way through beat 2, the tempo doubles: beat 3 comes a quarter beat of 120 later.
        grid.apply(GridCommand::Tempo { bpm: 240.0 }, 60_000);
        let first = points(&mut grid, 200_000)[0];
        assert_eq!(first, (66_000, GridPoint { beat: 3, bar_start: false }));
    }

    #[test]
    fn a_followed_clock_waits_then_locks_and_stop_holds() {
        let config = SyncConfig { source: SyncSource::Midi, ..SyncConfig::default() };
        let mut grid = Grid::new(&config, 48_000.0);
        assert_eq!(grid.state().lock, Lock::Waiting);
        assert!(grid.next_point().is_none());
        grid.apply(GridCommand::Position { beat: 0.0, frames_per_beat: 24_000.0 }, 1_000);
        assert_eq!(grid.state().lock, Lock::Locked);
        assert_eq!(grid.next_point().unwrap().0, 1_000);
        grid.apply(GridCommand::Stop, 13_000);
        assert!(grid.next_point().is_none());
        assert_eq!(grid.state().lock, Lock::Waiting);
        assert_eq!(grid.state().beat_at(99_000), 0.5);
    }

    #[test]
    fn a_small_correction_neither_repeats_nor_skips_a_beat() {
        let mut grid = internal(120.0);
        let _ = points(&mut grid, 24_001); // beats 0 and 1 delivered
                                           // The clock says beat 1 was a few frames later than we thought.
        grid.apply(GridCommand::Position { beat: 0.9995, frames_per_beat: 24_000.0 }, 24_003);
        let next = points(&mut grid, 100_000);
        assert_eq!(next[0].1.beat, 2);
        assert_eq!(next[0].0, 24_003 + 12 + 24_000);
    }

    #[test]
    fn a_beat_just_missed_comes_late_and_a_relocate_counts_afresh() {
        let mut grid = internal(120.0);
        let _ = points(&mut grid, 24_000); // beat 0 delivered
        grid.apply(GridCommand::Position { beat: 1.0005, frames_per_beat: 24_000.0 }, 24_000);
        assert_eq!(grid.next_point().unwrap(), (24_000, GridPoint { beat: 1, bar_start: false }));
        grid.apply(GridCommand::Position { beat: 40.25, frames_per_beat: 24_000.0 }, 30_000);
        assert_eq!(grid.next_point().unwrap(), (48_000, GridPoint { beat: 41, bar_start: false }));
        grid.apply(GridCommand::Position { beat: 0.0, frames_per_beat: 24_000.0 }, 50_000);
        assert_eq!(grid.next_point().unwrap(), (50_000, GridPoint { beat: 0, bar_start: true }));
    }

    #[test]
    fn taps_set_the_tempo_and_land_on_a_beat() {
        let mut grid = internal(120.0);
        for k in 0..4 {
            grid.apply(GridCommand::Tap, 100_000 + k * 20_000);
        }
        assert!((grid.state().tempo_bpm(48_000.0) - 144.0).abs() < 1e-9);
        assert_eq!(grid.next_point().unwrap().0, 160_000 + 20_000);
    }
}
