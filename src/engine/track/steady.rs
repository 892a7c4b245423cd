//! The steady path: a track whose fades, glides, sweeps, copies and
//! operations have all come to rest runs the samples up to the next command
//! with only what still moves. Nothing that rests can start moving again
//! without a command (commands land between runs of samples), so what it
//! would compute every sample is computed once; what still moves (the
//! motor and its wow, the heads, the writing, the tone, the hiss) does
//! exactly what [`Track::tick`] does, in the same order, so the samples are
//! the same bits (`tests/steady_path.rs` renders with it on and off).

use super::record::DueCell;
use super::tick::PlayRead;
use super::{wrap_position, HeadMode, Track};
use crate::engine::color::RecordSaturator;
use crate::engine::filter::flush_denormal;
use crate::engine::params::Param;
use crate::engine::tape::{read_band_pair, read_band_pair_holding, Reader};

/// What a resting track keeps for a run of samples.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Steady {
    /// The motor's target speed, ratio.
    pub(super) target: f64,
    engage: f32,
    feedback: f32,
    keep: f32,
    age: f32,
    /// Whether the record head changes the tape (it only moves otherwise).
    pub(super) write: bool,
    /// The product of the output gates, as the general path forms it.
    pub(super) gates: f32,
    /// Whether the play head may keep its phase from one read to the next
    /// (nothing wobbles the speed), so its kernel weights are worth holding.
    pub(super) steady_phase: bool,
    /// The speed every sample's motor gives, when it is known already (see
    /// [`Transport::coasts_at`](crate::engine::transport::Transport::coasts_at)):
    /// the motor then turns once for the whole run, in [`Track::end_steady_run`].
    pub(super) coasting_motor: Option<f64>,
}

impl Track {
    /// The steady state of this track, when it is in one: every fade
    /// settled, the level and drive smoothed onto their targets, and
    /// nothing under way that acts by itself from one sample to the next
    /// (a sweep, a copy, a multiply or insert, a glide to a new length, a
    /// first take, a oneshot, a pause, an undo level still to close).
    pub(crate) fn steady(&self) -> Option<Steady> {
        let at_rest = self.slide.is_none()
            && self.sweep.is_none()
            && self.copier.is_none()
            && !self.cycle_running()
            // A free track with no loop yet rests while it plays or stands
            // (an unused track plays blank tape); its first take does not.
            && !(self.length_unset() && self.mode.writes())
            && !matches!(self.mode, HeadMode::Oneshot | HeadMode::Paused)
            && self.seam_fold == 0
            && !self.tape.job_active()
            // An undo level closes once the heads lift: not while resting.
            && (!self.tape.is_capturing() || self.mode.writes())
            && [&self.engage, &self.feedback, &self.keep, &self.audible, &self.duck, &self.gate]
                .iter()
                .all(|ramp| ramp.is_settled())
            && self.smoothing_rests();
        if !at_rest {
            return None;
        }
        let (engage, feedback, keep) = (self.engage.value(), self.feedback.value(), self.keep.value());
        let age = self.params.get(Param::Age);
        let idle = engage == 0.0 && keep == 1.0 && age == 0.0;
        let target = match self.mode {
            HeadMode::Stop => 0.0,
            _ => self.params.get(Param::Speed) as f64,
        };
        Some(Steady {
            target,
            engage,
            feedback,
            keep,
            age,
            write: !idle,
            gates: self.audible.value() * self.duck.value() * self.gate.value(),
            steady_phase: [Param::WowPct, Param::FlutterPct, Param::DriftPct]
                .iter()
                .all(|&depth| self.params.get(depth) == 0.0),
            coasting_motor: (!self.halted && self.transport.coasts_at(&self.params, target))
                .then(|| self.transport.coasting_speed()),
        })
    }

    /// A run of `samples` samples on the steady path is over: the motor
    /// that coasted through it turns as those samples' calls would have.
    pub(crate) fn end_steady_run(&mut self, steady: &Steady, samples: usize) {
        if steady.coasting_motor.is_some() {
            self.transport.coast(&self.params, steady.target, samples);
        }
    }

    /// Whether the level and drive smoothers have come to a fixed point:
    /// a one-pole smoother in single precision can stop an ulp short of
    /// its target, where its step rounds away and it stays.
    fn smoothing_rests(&self) -> bool {
        let level = flush_denormal(self.level + self.smoothing * (self.gains.level - self.level));
        let drive = self.drive + self.smoothing * (self.gains.drive - self.drive);
        level == self.level && drive == self.drive
    }

    /// One sample of a resting track: as [`Track::tick`].
    #[inline]
    pub(crate) fn tick_steady(&mut self, input: f32, reader: &Reader, steady: &Steady) -> f32 {
        let raw = match self.move_heads_steady(input, steady) {
            PlayRead::Known(raw) => raw,
            PlayRead::Kernel if steady.steady_phase => {
                self.tape.read_band_holding(reader, self.read_band, self.pos, &mut self.held)
            }
            PlayRead::Kernel => self.tape.read_band(reader, self.read_band, self.pos),
        };
        self.play_steady(raw, steady)
    }

    /// Two resting tracks' samples at once: as [`Track::tick_pair`], and
    /// where both dub through the hysteresis model, their saturators side
    /// by side too.
    #[inline]
    pub(crate) fn tick_steady_pair(
        (a, a_steady): (&mut Track, &Steady),
        (b, b_steady): (&mut Track, &Steady),
        input: f32,
        reader: &Reader,
    ) -> (f32, f32) {
        let a_step = a.heads_before_writing(input, a_steady);
        let b_step = b.heads_before_writing(input, b_steady);
        if a_steady.write && b_steady.write {
            let due = (
                a.record_until_saturator_steady(a_step, a_steady),
                b.record_until_saturator_steady(b_step, b_steady),
            );
            match due {
                (Some(a_cell), Some(b_cell)) => {
                    let (a_wet, b_wet) = RecordSaturator::process_pair(
                        &mut a.saturator,
                        &mut b.saturator,
                        a_cell.heard,
                        b_cell.heard,
                    );
                    a.finish_cell(a_cell, a_wet, a_steady.engage, a_steady.keep);
                    b.finish_cell(b_cell, b_wet, b_steady.engage, b_steady.keep);
                }
                (a_cell, b_cell) => {
                    a.finish_alone(a_cell, a_steady);
                    b.finish_alone(b_cell, b_steady);
                }
            }
        } else {
            a.write_steady(a_step, a_steady);
            b.write_steady(b_step, b_steady);
        }
        let raws = match (a.heads_after_writing(), b.heads_after_writing()) {
            (PlayRead::Kernel, PlayRead::Kernel) if !(a_steady.steady_phase && b_steady.steady_phase) => {
                read_band_pair(reader, (&a.tape, a.read_band, a.pos), (&b.tape, b.read_band, b.pos))
            }
            (PlayRead::Kernel, PlayRead::Kernel) => read_band_pair_holding(
                reader,
                (&a.tape, a.read_band, a.pos, &mut a.held),
                (&b.tape, b.read_band, b.pos, &mut b.held),
            ),
            (a_read, b_read) => (a.raw(a_read, reader), b.raw(b_read, reader)),
        };
        (a.play_steady(raws.0, a_steady), b.play_steady(raws.1, b_steady))
    }

    /// [`Track::move_heads`] for a resting track.
    #[inline(always)]
    fn move_heads_steady(&mut self, input: f32, steady: &Steady) -> PlayRead {
        let record_step = self.heads_before_writing(input, steady);
        self.write_steady(record_step, steady);
        self.heads_after_writing()
    }

    /// The motor turns, the input reaches the record path and the play head
    /// moves; returns how far the record head moves this sample.
    #[inline(always)]
    fn heads_before_writing(&mut self, input: f32, steady: &Steady) -> f64 {
        let v = self.steady_velocity(steady);
        self.move_heads_at(v, input, self.clock)
    }

    /// This sample's velocity of a resting track's play head, cells per
    /// sample: the motor turns (unless it coasts, see [`Steady`]).
    #[inline(always)]
    pub(super) fn steady_velocity(&mut self, steady: &Steady) -> f64 {
        let motor = match steady.coasting_motor {
            _ if self.halted => 0.0,
            Some(speed) => speed * self.servo,
            None => self.transport.next(&self.params, steady.target) * self.servo,
        };
        // No glide: what `slide_step` adds then.
        motor + 0.0
    }

    /// The play head moves by `v`, the record head's step comes out of its
    /// queue and the input reaches the record path at sample `clock`;
    /// returns how far the record head moves this sample.
    #[inline(always)]
    pub(super) fn move_heads_at(&mut self, v: f64, input: f32, clock: u64) -> f64 {
        let record_step = self.record.advance(v);
        self.feed_record_path_at(input, record_step, clock);
        self.pos += v;
        self.velocity = v;
        record_step
    }

    /// The record head moves by `record_step` and writes what it crosses.
    #[inline(always)]
    pub(super) fn write_steady(&mut self, record_step: f64, steady: &Steady) {
        let Steady { engage, feedback, keep, age, write, .. } = *steady;
        if write {
            self.run_record_head(record_step, write, engage, feedback, keep, age);
        } else {
            // All `run_record_head` does when it writes nothing.
            self.move_record_head(record_step, false);
        }
    }

    /// [`Track::record_until_saturator`] with a resting track's settings.
    #[inline(always)]
    fn record_until_saturator_steady(&mut self, record_step: f64, steady: &Steady) -> Option<DueCell> {
        self.record_until_saturator(record_step, steady.engage, steady.feedback, steady.keep, steady.age)
    }

    /// Finish a due cell, if there is one, with the track's own saturator.
    #[inline(always)]
    fn finish_alone(&mut self, cell: Option<DueCell>, steady: &Steady) {
        if let Some(cell) = cell {
            let wet = self.saturator.process(cell.heard);
            self.finish_cell(cell, wet, steady.engage, steady.keep);
        }
    }

    /// Both heads wrap into the loop; says what the play head reads.
    #[inline(always)]
    fn heads_after_writing(&mut self) -> PlayRead {
        self.wrap_heads();
        self.play_read()
    }

    /// Both heads wrap into the loop (a pass counted when the play head does).
    #[inline(always)]
    pub(super) fn wrap_heads(&mut self) {
        let len = self.tape.len() as f64;
        self.wrapped = self.pos >= len || self.pos < 0.0;
        if self.wrapped {
            self.passes += 1;
        }
        self.pos = wrap_position(self.pos, len);
        self.record.pos = wrap_position(self.record.pos, len);
    }

    /// [`Track::play`] for a resting track: the level and gates hold.
    #[inline(always)]
    pub(super) fn play_steady(&mut self, raw: f32, steady: &Steady) -> f32 {
        let y = self.colour(raw);
        self.output(y, steady.gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::command::TrackAction;
    use crate::engine::params::{Quality, TapeLength, TrackConfig};

    fn run(track: &mut Track, reader: &Reader, seconds: f64) {
        for n in 0..(seconds * 48_000.0) as usize {
            track.tick((n as f32 * 0.05).sin() * 0.5, reader);
        }
    }

    #[test]
    fn a_playing_track_rests_and_a_fade_wakes_it() {
        let reader = Reader::detect();
        // The default track: wow, flutter, drift, hysteresis, tone. None of
        // them keeps it from resting: they run on the steady path too.
        let config = TrackConfig { length: TapeLength::Fixed(0.5), ..TrackConfig::default() };
        let mut track = Track::new(&config, Quality::Full, 48_000.0, 3);
        track.apply(TrackAction::Record);
        run(&mut track, &reader, 0.2);
        assert!(track.steady().is_some(), "recording, settled");
        track.apply(TrackAction::Play);
        assert!(track.steady().is_none(), "the record head lifting");
        run(&mut track, &reader, 0.1);
        assert!(track.steady().is_some(), "playing, settled");
        track.set_param(Param::LevelDb, -6.0);
        run(&mut track, &reader, 0.001);
        assert!(track.steady().is_none(), "the level gliding");
        run(&mut track, &reader, 0.2);
        assert!(track.steady().is_some(), "at the new level");
        track.apply(TrackAction::Undo);
        assert!(track.steady().is_none(), "an undo sweep waiting");
    }

    #[test]
    fn an_unused_free_track_rests_until_its_first_take() {
        let reader = Reader::detect();
        let config = TrackConfig { length: TapeLength::Free { max_seconds: 2.0 }, ..TrackConfig::default() };
        let mut track = Track::new(&config, Quality::Full, 48_000.0, 3);
        run(&mut track, &reader, 0.1);
        assert!(track.length_unset() && track.steady().is_some(), "playing blank tape, no loop yet");
        track.apply(TrackAction::Record);
        run(&mut track, &reader, 0.2);
        assert!(track.steady().is_none(), "the first take measures the loop");
        track.apply(TrackAction::Play);
        run(&mut track, &reader, 0.2);
        assert!(!track.length_unset() && track.steady().is_some(), "the loop made, playing");
    }
}
