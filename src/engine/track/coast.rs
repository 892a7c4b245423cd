//! The coasting run: a resting track that writes nothing and whose tape
//! moves at one known speed (the motor at a fixed point of its follower,
//! no wow, flutter or drift left) runs a stretch of samples in two passes instead of one
//! sample at a time. First the heads move over the whole stretch, every
//! sample in order, and the play head's positions are kept; then the play
//! head reads at each of them and the reads go through the playback path.
//!
//! Nothing is reordered that could change a bit: the tape is not written
//! while the track coasts, so a read sees the same cells whether it comes
//! before or after the heads have moved on, and every other step (motor,
//! record head, record path, wraps; then read, tone, hiss, level) runs in
//! the order [`Track::tick_steady`] runs it, on the same values. What the
//! two passes save is the motor's work (done once for the stretch, see
//! [`Transport::coast`](crate::engine::transport::Transport::coast)) and
//! a loop that switches between unrelated work every sample.

use super::steady::Steady;
use super::tick::{flux_at, PlayRead};
use super::Track;
use crate::engine::tape::Reader;

/// Samples a coasting pass covers at a time: the play head's positions for
/// them are kept on the stack.
const COAST_CHUNK: usize = 256;

impl Track {
    /// Whether this resting track coasts (see the module notes).
    pub(crate) fn coasts(&self, steady: &Steady) -> bool {
        !steady.write && steady.steady_phase && (self.halted || steady.coasting_motor.is_some())
    }

    /// Run the samples of `out` as [`Track::tick_steady`] would, one after
    /// another, for a track that [`Track::coasts`]; `input(i)` is the
    /// input at `out[i]`. With `stop_at_top`, stop after the sample in which
    /// the play head wraps. Returns how many samples ran.
    pub(crate) fn run_coasting(
        &mut self,
        steady: &Steady,
        input: impl Fn(usize) -> f32,
        out: &mut [f32],
        reader: &Reader,
        stop_at_top: bool,
    ) -> usize {
        debug_assert!(self.coasts(steady), "only a coasting track");
        let mut done = 0;
        while done < out.len() {
            let chunk = (out.len() - done).min(COAST_CHUNK);
            let mut positions = [0.0f64; COAST_CHUNK];
            let moved =
                self.move_heads_coasting(steady, |i| input(done + i), &mut positions[..chunk], stop_at_top);
            self.play_coasting(steady, &positions[..moved], &mut out[done..done + moved], reader);
            done += moved;
            if stop_at_top && self.wrapped {
                break;
            }
        }
        done
    }

    /// The first pass: the heads move and the record path takes the input
    /// sample by sample, then the motor turns for the whole stretch;
    /// the play head's position after each sample goes into `positions`.
    /// Returns how many samples moved (fewer than asked only when stopping
    /// at the loop's top, which may also be the last of them).
    #[inline]
    fn move_heads_coasting(
        &mut self,
        steady: &Steady,
        input: impl Fn(usize) -> f32,
        positions: &mut [f64],
        stop_at_top: bool,
    ) -> usize {
        // The same every sample: the motor coasts (or is halted).
        let v = self.steady_velocity(steady);
        let mut moved = positions.len();
        for (i, position) in positions.iter_mut().enumerate() {
            let record_step = self.move_heads_at(v, input(i), self.clock + i as u64);
            // All `write_steady` does for a track that writes nothing.
            self.move_record_head(record_step, false);
            self.wrap_heads();
            *position = self.pos;
            if stop_at_top && self.wrapped {
                moved = i + 1;
                break;
            }
        }
        self.end_steady_run(steady, moved);
        moved
    }

    /// The second pass: the play head reads at each of `positions` (into
    /// `out`), then the reads go through the playback path. The speed is
    /// the same for every sample, so is what follows from it: the read's
    /// band and kind, the flux.
    #[inline]
    fn play_coasting(&mut self, steady: &Steady, positions: &[f64], out: &mut [f32], reader: &Reader) {
        let Some(&last) = positions.last() else { return };
        self.pos = last;
        match self.play_read() {
            PlayRead::Known(_) if self.tape.is_blank() => out.fill(0.0),
            PlayRead::Known(_) => {
                for (&position, out) in positions.iter().zip(out.iter_mut()) {
                    *out = self.tape.read_hermite(position);
                }
            }
            PlayRead::Kernel => {
                self.tape.read_band_holding_run(reader, self.read_band, positions, &mut self.held, out);
            }
        }
        let speed_abs = self.velocity.abs();
        let flux = flux_at(speed_abs);
        for (&position, out) in positions.iter().zip(out.iter_mut()) {
            self.pos = position;
            let y = self.colour_at(*out, speed_abs, flux);
            *out = self.output(y, steady.gates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::params::{Param, Quality, SaturationModel, TapeLength, ToneModel, TrackConfig};

    #[test]
    fn a_coasting_leader_stops_at_the_top_wherever_it_falls() {
        let reader = Reader::detect();
        let mut config = TrackConfig {
            length: TapeLength::Fixed((2 * COAST_CHUNK) as f64 / 48_000.0),
            ..TrackConfig::default()
        };
        config.saturation = SaturationModel::Off;
        config.tone = ToneModel::Flat;
        for param in [Param::WowPct, Param::FlutterPct, Param::DriftPct, Param::Age] {
            config.params.set(param, 0.0);
        }
        let mut track = Track::new(&config, Quality::Full, 48_000.0, 3);
        let cells = track.tape.len();
        let mut out = vec![0.0; 2 * cells];
        // The top falls at a chunk's end, at the stretch's end, not at all,
        // inside a chunk.
        assert_eq!(cells, 2 * COAST_CHUNK);
        for stretch in [cells + 100, cells, 300, 600] {
            let steady = track.steady().expect("a blank tape playing rests");
            assert!(track.coasts(&steady));
            let before = track.pos;
            let ran = track.run_coasting(&steady, |_| 0.0, &mut out[..stretch], &reader, true);
            // The play head moves a cell a sample: it reaches the top after
            // the cells left before it.
            let to_top = (cells as f64 - before) as usize;
            assert_eq!(ran, to_top.min(stretch), "from cell {before}, {stretch} samples");
            assert_eq!(track.wrapped(), to_top <= stretch);
        }
    }
}
