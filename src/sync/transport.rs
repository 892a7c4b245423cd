//! Following the JACK transport: once a cycle, where the transport stands
//! becomes, when it matters, a [`GridCommand`] at the cycle's first frame.
//!
//! JACK's transport counts frames exactly, so the grid needs telling only
//! when something changes: the transport starts rolling, stops, relocates,
//! or its timebase master gives a new tempo or meter. Between those the
//! grid's own line runs with it, to the frame. Without a timebase master
//! (no bar, beat and tempo in the position) the beat is the transport's
//! frame over the patch's tempo, so a relocate still moves the grid.

use crate::engine::grid::frames_per_beat;
use crate::engine::GridCommand;

/// Where the transport stands at the start of a cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransportPosition {
    pub rolling: bool,
    /// The transport's frame.
    pub frame: u64,
    /// Bar, beat and tempo, when a timebase master gives them.
    pub bbt: Option<Bbt>,
}

/// A timebase master's musical position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bbt {
    /// 1-based.
    pub bar: u32,
    /// 1-based, within the bar.
    pub beat: u32,
    pub tick: u32,
    pub ticks_per_beat: f64,
    pub beats_per_bar: f32,
    pub bpm: f64,
}

/// Turns transport positions into grid commands.
#[derive(Clone, Debug)]
pub struct TransportFollower {
    sample_rate: f64,
    /// The patch's tempo, for a transport without a timebase master.
    fallback_fpb: f64,
    /// The last cycle: rolling, and the transport frame expected next.
    rolling: bool,
    expected_frame: u64,
    frames_per_beat: f64,
    /// The beat expected at `expected_frame` (from the last position told).
    expected_beat: f64,
}

/// The beat may differ from the line by this before the grid is moved onto
/// it (a millionth of a beat: 0.02 frames at 120 BPM); a timebase master
/// that counts whole ticks is allowed half a tick besides.
const BEAT_TOLERANCE: f64 = 1e-6;

impl TransportFollower {
    pub fn new(sample_rate: f64, tempo_bpm: f64) -> TransportFollower {
        let fpb = frames_per_beat(tempo_bpm, sample_rate);
        TransportFollower {
            sample_rate,
            fallback_fpb: fpb,
            rolling: false,
            expected_frame: 0,
            frames_per_beat: fpb,
            expected_beat: 0.0,
        }
    }

    /// One cycle of `frames` frames begins at `position`: what to tell the
    /// grid at the cycle's first frame, if anything.
    pub fn cycle(&mut self, position: TransportPosition, frames: u32) -> Option<GridCommand> {
        let was_rolling = std::mem::replace(&mut self.rolling, position.rolling);
        if !position.rolling {
            return was_rolling.then_some(GridCommand::Stop);
        }
        let (beat, fpb, tolerance) = match position.bbt {
            Some(bbt) => {
                let per_bar = f64::from(bbt.beats_per_bar.max(1.0));
                let ticks = bbt.ticks_per_beat.max(1.0);
                let beat = f64::from(bbt.bar.max(1) - 1) * per_bar
                    + f64::from(bbt.beat.max(1) - 1)
                    + f64::from(bbt.tick) / ticks;
                (beat, frames_per_beat(bbt.bpm, self.sample_rate), BEAT_TOLERANCE + 0.5 / ticks)
            }
            None => (position.frame as f64 / self.fallback_fpb, self.fallback_fpb, BEAT_TOLERANCE),
        };
        let relocated = position.frame != self.expected_frame;
        let moved = (beat - self.expected_beat).abs() > tolerance || fpb != self.frames_per_beat;
        self.expected_frame = position.frame + u64::from(frames);
        self.frames_per_beat = fpb;
        self.expected_beat = beat + f64::from(frames) / fpb;
        (!was_rolling || relocated || moved).then_some(GridCommand::Position { beat, frames_per_beat: fpb })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame: u64, rolling: bool) -> TransportPosition {
        TransportPosition { rolling, frame, bbt: None }
    }

    #[test]
    fn start_relocate_and_stop_move_the_grid_and_rolling_on_does_not() {
        let mut follower = TransportFollower::new(48_000.0, 120.0);
        assert_eq!(follower.cycle(at(0, false), 256), None);
        let start = follower.cycle(at(0, true), 256);
        assert_eq!(start, Some(GridCommand::Position { beat: 0.0, frames_per_beat: 24_000.0 }));
        for k in 1..1000 {
            assert_eq!(follower.cycle(at(k * 256, true), 256), None, "cycle {k}");
        }
        // Relocated to bar 3 (beat 8).
        let located = follower.cycle(at(192_000, true), 256);
        assert_eq!(located, Some(GridCommand::Position { beat: 8.0, frames_per_beat: 24_000.0 }));
        assert_eq!(follower.cycle(at(192_256, false), 256), Some(GridCommand::Stop));
        assert_eq!(follower.cycle(at(192_256, false), 256), None);
    }

    #[test]
    fn a_timebase_master_gives_bar_beat_and_tempo() {
        let mut follower = TransportFollower::new(48_000.0, 120.0);
        let bbt = Bbt { bar: 2, beat: 3, tick: 960, ticks_per_beat: 1920.0, beats_per_bar: 4.0, bpm: 100.0 };
        let position = TransportPosition { rolling: true, frame: 5_000, bbt: Some(bbt) };
        assert_eq!(
            follower.cycle(position, 256),
            Some(GridCommand::Position { beat: 6.5, frames_per_beat: 28_800.0 })
        );
        // 256 frames are 17.07 ticks: a master that rounds to whole ticks
        // stays on the line, one that jumps a beat does not.
        let on_line = TransportPosition { rolling: true, frame: 5_256, bbt: Some(Bbt { tick: 977, ..bbt }) };
        assert_eq!(follower.cycle(on_line, 256), None);
        let jumped =
            TransportPosition { rolling: true, frame: 5_512, bbt: Some(Bbt { beat: 4, tick: 994, ..bbt }) };
        assert!(
            matches!(follower.cycle(jumped, 256), Some(GridCommand::Position { beat, .. }) if (beat - 7.5177).abs() < 1e-3)
        );
    }
}
