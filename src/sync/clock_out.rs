//! MIDI clock out from the grid, at exact frames.
//!
//! Tick `k` (24 a beat) is due at the grid's frame of beat `k / 24`,
//! computed from the grid's anchor every time, never by adding periods, so
//! the clock is exactly as long as the grid after any number of minutes and
//! the same whatever the block size. When the grid starts at beat 0 a Start
//! (0xFA) goes just before the first tick; when it starts anywhere else, a
//! song position (0xF2, at the next sixteenth) and a Continue (0xFB); when it
//! stops, a Stop (0xFC) at the frame it stopped. A grid that jumps by more
//! than a tick while running is started again from where it landed.
//!
//! [`ClockOut`] is plain state: a JACK callback calls
//! [`ClockOut::process`] per cycle and writes the bytes to its MIDI port at
//! their offsets; [`super::clock_thread`] uses the same state on a timeline
//! of nanoseconds.

use crate::engine::grid::{GridState, CLOCK_PPQ};

/// MIDI timing clock.
pub const TICK: u8 = 0xF8;
pub const START: u8 = 0xFA;
pub const CONTINUE: u8 = 0xFB;
pub const STOP: u8 = 0xFC;
pub const SONG_POSITION: u8 = 0xF2;

/// Ticks per sixteenth note (song position's unit).
const TICKS_PER_SIXTEENTH: i64 = 6;

/// What goes before the next tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lead {
    Start,
    /// Song position (in sixteenths) and Continue.
    Continue(u16),
}

/// The grid as MIDI clock. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct ClockOut {
    /// The grid as last seen while running (to finish a block in which it stopped).
    line: Option<GridState>,
    /// The next tick to send.
    next_tick: i64,
    lead: Option<Lead>,
}

impl ClockOut {
    pub fn new() -> ClockOut {
        ClockOut::default()
    }

    /// Whether clock is being sent (a Start or Continue went out, no Stop yet).
    pub fn running(&self) -> bool {
        self.line.is_some()
    }

    /// The clock bytes for engine frames `[start, start + frames)`, given
    /// the grid as it stands at the end of the block: `emit(offset, byte)`
    /// for each, in order, `offset` from `start`. Blocks follow each other
    /// without gaps.
    pub fn process(&mut self, grid: &GridState, start: u64, frames: u32, mut emit: impl FnMut(u32, u8)) {
        let end = start + u64::from(frames);
        let last = u64::from(frames.max(1) - 1);
        let offset = |frame: u64| (frame.max(start) - start).min(last) as u32;
        // The grid moved (or stopped) inside this block: the ticks before
        // that, on the line it ran on. (One change a block is followed to
        // the frame; a block holds one unless it is far longer than a tick.)
        let change = grid.anchor_frame;
        if let Some(line) = self.line {
            if change > start {
                self.ticks(&line, change.min(end), &offset, &mut emit);
            }
        }
        if !grid.running {
            if self.line.take().is_some() && self.lead.is_none() {
                // (A clock that never sent its first tick has nothing to stop.)
                emit(offset(change), STOP);
            }
            self.lead = None;
            return;
        }
        let from = change.max(start);
        if self.line.is_none() || self.jumped(grid, from) {
            self.begin(grid, from);
        }
        self.line = Some(*grid);
        self.ticks(grid, end, &offset, &mut emit);
    }

    /// The frame of the next byte to send if the next block starts at
    /// `from`: the next tick (with whatever leads it) or a stop.
    pub fn next_event(&self, grid: &GridState, from: u64) -> Option<u64> {
        if let Some(line) = self.line {
            // Ticks of the old line before a change still to come.
            let tick = tick_frame(&line, self.next_tick).max(from);
            if grid.anchor_frame > from && tick < grid.anchor_frame && self.lead.is_none() {
                return Some(tick);
            }
        }
        match (self.line.is_some(), grid.running) {
            (true, false) => Some(grid.anchor_frame.max(from)),
            (false, false) => None,
            (running, true) => {
                let mut copy = self.clone();
                if !running || copy.jumped(grid, from) {
                    copy.begin(grid, from);
                }
                Some(tick_frame(grid, copy.next_tick).max(from))
            }
        }
    }

    /// Send the ticks of `grid` due before `end` (late ones at once).
    fn ticks(
        &mut self,
        grid: &GridState,
        end: u64,
        offset: &impl Fn(u64) -> u32,
        emit: &mut impl FnMut(u32, u8),
    ) {
        loop {
            let frame = tick_frame(grid, self.next_tick);
            if frame >= end {
                return;
            }
            let at = offset(frame);
            match self.lead.take() {
                Some(Lead::Start) => emit(at, START),
                Some(Lead::Continue(sixteenths)) => {
                    emit(at, SONG_POSITION);
                    emit(at, (sixteenths & 0x7F) as u8);
                    emit(at, ((sixteenths >> 7) & 0x7F) as u8);
                    emit(at, CONTINUE);
                }
                None => {}
            }
            emit(at, TICK);
            self.next_tick += 1;
        }
    }

    /// The grid runs and clock does not yet (or it jumped): start it.
    fn begin(&mut self, grid: &GridState, start: u64) {
        let (tick, lead) = first_tick(grid, start.max(grid.anchor_frame));
        self.next_tick = tick;
        self.lead = Some(lead);
    }

    /// Whether the grid, at `frame`, stands more than a tick away from the
    /// clock's count.
    fn jumped(&self, grid: &GridState, frame: u64) -> bool {
        if self.lead.is_some() {
            // Not started yet: begin again from wherever the grid is now.
            return true;
        }
        let now = grid.beat_at(frame.max(grid.anchor_frame)) * f64::from(CLOCK_PPQ);
        let next = self.next_tick as f64;
        next < now - 1.0 || next > now + 1.0 + 1e-9
    }
}

/// The first tick at or after `frame` and what leads it: Start at beat 0,
/// else a song position and Continue at the next sixteenth.
fn first_tick(grid: &GridState, frame: u64) -> (i64, Lead) {
    let ticks = grid.beat_at(frame) * f64::from(CLOCK_PPQ);
    let first = (ticks - 1e-6).ceil() as i64;
    if first <= 0 && ticks > -1.0 {
        return (0, Lead::Start);
    }
    let sixteenths =
        first.div_euclid(TICKS_PER_SIXTEENTH) + i64::from(first.rem_euclid(TICKS_PER_SIXTEENTH) != 0);
    let sixteenths = sixteenths.clamp(0, 0x3FFF);
    (sixteenths * TICKS_PER_SIXTEENTH, Lead::Continue(sixteenths as u16))
}

/// The frame tick `k` is due at: the grid's frame of beat `k / 24`.
pub fn tick_frame(grid: &GridState, tick: i64) -> u64 {
    grid.frame_of_beat(tick as f64 / f64::from(CLOCK_PPQ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::grid::{Lock, SyncSource};

    const SR: f64 = 48_000.0;

    fn running(bpm: f64, anchor_frame: u64, anchor_beat: f64) -> GridState {
        GridState {
            source: SyncSource::Internal,
            lock: Lock::Locked,
            running: true,
            frames_per_beat: 60.0 * SR / bpm,
            beats_per_bar: 4,
            anchor_frame,
            anchor_beat,
            frame: anchor_frame,
        }
    }

    fn stopped_at(grid: GridState, frame: u64) -> GridState {
        GridState { running: false, anchor_beat: grid.beat_at(frame), anchor_frame: frame, ..grid }
    }

    /// Run blocks of `block` frames over `[0, total)`, the grid given by
    /// `state(frame)` as it stands at the block's last frame; every byte
    /// with its absolute frame.
    fn render(block: u32, total: u64, state: &dyn Fn(u64) -> GridState) -> Vec<(u64, u8)> {
        let mut out = ClockOut::new();
        let mut bytes = Vec::new();
        let mut start = 0;
        while start < total {
            let frames = block.min((total - start) as u32);
            let grid = state(start + u64::from(frames) - 1);
            out.process(&grid, start, frames, |offset, byte| bytes.push((start + u64::from(offset), byte)));
            start += u64::from(frames);
        }
        bytes
    }

    #[test]
    fn ticks_are_exact_for_minutes_at_any_tempo_and_start_and_stop_go_once() {
        for bpm in [60.0, 123.4, 200.0] {
            let start_frame = 1_000;
            let grid = running(bpm, start_frame, 0.0);
            let stop_frame = 48_000 * 180 + 17;
            let total = stop_frame + 48_000;
            let state = |frame: u64| match frame {
                f if f < start_frame => GridState { running: false, ..grid },
                f if f < stop_frame => grid,
                _ => stopped_at(grid, stop_frame),
            };
            let bytes = render(256, total, &state);
            let ticks: Vec<u64> = bytes.iter().filter(|b| b.1 == TICK).map(|b| b.0).collect();
            let period = 60.0 * SR / bpm / 24.0;
            let mut worst: f64 = 0.0;
            for (k, &frame) in ticks.iter().enumerate() {
                let exact = start_frame as f64 + k as f64 * period;
                worst = worst.max((frame as f64 - exact).abs());
            }
            assert!(worst <= 1.0, "{bpm} BPM: a tick {worst} frames off");
            let expected = ((stop_frame - start_frame) as f64 / period).ceil() as usize;
            assert_eq!(ticks.len(), expected, "{bpm} BPM");
            assert_eq!(bytes.iter().filter(|b| b.1 == START).count(), 1);
            assert_eq!(bytes.iter().filter(|b| b.1 == STOP).count(), 1);
            assert_eq!(bytes[0], (start_frame, START));
            assert_eq!(bytes[1], (start_frame, TICK));
            assert_eq!(*bytes.last().unwrap(), (stop_frame, STOP));
            println!(
                "clock out at {bpm} BPM for 3 minutes: {} ticks, worst {worst:.2} frames from exact",
                ticks.len()
            );
        }
    }

    #[test]
    fn the_same_bytes_at_any_block_size() {
        let grid = running(123.4, 5_003, 0.0);
        let later = running(97.0, 400_001, grid.beat_at(400_001));
        let state = |frame: u64| match frame {
            f if f < 5_003 => GridState { running: false, ..grid },
            f if f < 400_001 => grid,
            f if f < 700_000 => later,
            _ => stopped_at(later, 700_000),
        };
        let reference = render(1, 800_000, &state);
        assert!(reference.len() > 600, "{} bytes", reference.len());
        for block in [64, 333, 4096] {
            assert_eq!(render(block, 800_000, &state), reference, "block {block}");
        }
    }

    #[test]
    fn resuming_mid_song_sends_a_song_position_and_continue() {
        // The grid resumes at beat 8.1: the next sixteenth is tick 198 (33 sixteenths).
        let grid = running(120.0, 10_000, 8.1);
        let bytes = render(512, 40_000, &|_| grid);
        let at = grid.frame_of_beat(198.0 / 24.0);
        assert_eq!(&bytes[..5], &[(at, SONG_POSITION), (at, 33), (at, 0), (at, CONTINUE), (at, TICK)]);
        assert!(bytes.iter().all(|b| b.1 != START));
        // A jump back to beat 0 while running starts the clock again.
        let restart = running(120.0, 40_000, 0.0);
        let mut out = ClockOut::new();
        out.process(&grid, 0, 40_000, |_, _| {});
        let mut sent = Vec::new();
        assert_eq!(out.next_event(&restart, 40_000), Some(40_000));
        out.process(&restart, 40_000, 100, |o, b| sent.push((o, b)));
        assert_eq!(sent, vec![(0, START), (0, TICK)]);
    }
}
