//! One sample of a track: the heads move and the record head writes, then
//! the play head reads and the read goes through the playback tone, hiss,
//! level and gates. Split in two so that two tracks can read side by side.

use super::{
    wrap_position, HeadMode, Track, BUTTERWORTH4_Q, CONTROL_INTERVAL, FULL_LEVEL_SPEED, PREFILTER_BELOW_SPEED,
};
use crate::engine::filter::{flush_denormal, Biquad, BiquadCoefs};
use crate::engine::params::{Param, Quality};
use crate::engine::snapshot::OVERVIEW_BINS;
use crate::engine::tape::{read_band_pair, ReadKernels, Reader};

/// How much of the full playback level a tape moving `speed_abs` cells per
/// sample gives: head output follows the rate of flux change.
#[inline(always)]
pub(super) fn flux_at(speed_abs: f64) -> f32 {
    (speed_abs / FULL_LEVEL_SPEED).min(1.0) as f32
}

/// What the play head reads, once the heads have moved for a sample.
pub(super) enum PlayRead {
    /// Known already: blank tape, or the eco interpolator's read.
    Known(f32),
    /// A band-limited read of the tape at the play head.
    Kernel,
}

impl Track {
    /// Process one sample: input in, track output (after level and mute) out.
    #[inline]
    pub fn tick(&mut self, input: f32, reader: &Reader) -> f32 {
        let read = self.move_heads(input);
        let raw = self.raw(read, reader);
        self.play(raw)
    }

    /// Two tracks' samples at once, each exactly as [`Track::tick`] gives
    /// it: tracks share nothing, and reading both tapes side by side lets
    /// the processor overlap their kernels (see [`read_band_pair`]).
    #[inline]
    pub fn tick_pair(a: &mut Track, b: &mut Track, input: f32, reader: &Reader) -> (f32, f32) {
        let raws = match (a.move_heads(input), b.move_heads(input)) {
            (PlayRead::Kernel, PlayRead::Kernel) => {
                read_band_pair(reader, (&a.tape, a.read_band, a.pos), (&b.tape, b.read_band, b.pos))
            }
            (a_read, b_read) => (a.raw(a_read, reader), b.raw(b_read, reader)),
        };
        (a.play(raws.0), b.play(raws.1))
    }

    /// What the play head reads this sample.
    #[inline]
    pub(super) fn raw(&self, read: PlayRead, reader: &Reader) -> f32 {
        match read {
            PlayRead::Known(raw) => raw,
            PlayRead::Kernel => self.tape.read_band(reader, self.read_band, self.pos),
        }
    }

    /// The first half of a sample: both heads move and the record head
    /// writes; says what the play head reads where it now is.
    #[inline(always)]
    fn move_heads(&mut self, input: f32) -> PlayRead {
        let speed = self.params.get(Param::Speed) as f64;
        let target = match self.mode {
            HeadMode::Stop => 0.0,
            // A free track's first take runs forward: it measures the loop.
            HeadMode::Record if self.length_unset() => speed.abs(),
            _ => speed,
        };
        // A halted motor does not move, and its wow and flutter wait for it.
        let motor = if self.halted { 0.0 } else { self.transport.next(&self.params, target) * self.servo };
        // A loop length change slides the heads along the tape as they run.
        let v = motor + self.slide_step(motor);
        // How far the record head moves this sample (the play head's velocity
        // one round trip ago).
        let record_step = self.record.advance(v);
        self.advance_sweep();

        // Record path: drive, band-limit at low speed, then the write head.
        self.drive += self.smoothing * (self.gains.drive - self.drive);
        self.feed_record_path(input, record_step);

        let engage = self.engage.advance();
        let feedback = self.feedback.advance();
        let keep = self.keep.advance();
        let age = self.params.get(Param::Age);
        let idle = engage == 0.0 && keep == 1.0 && age == 0.0 && self.seam_fold == 0;
        let write = !idle && !self.tape.job_active() && self.sweep.is_none();
        // Both heads move: the play head by this sample's velocity, the record
        // head along the play head's path one round trip late.
        self.pos += v;
        self.run_record_head(record_step, write, engage, feedback, keep, age);
        self.step_copier();
        self.follow_cycle();
        // A free take grows the tape until it is full.
        if self.length_unset()
            && self.mode == HeadMode::Record
            && self.record.pos >= self.tape.len() as f64 - 1.0
        {
            self.set_mode(HeadMode::Play);
        }
        let len = self.tape.len() as f64;
        self.wrapped = self.pos >= len || self.pos < 0.0;
        if self.wrapped {
            self.passes += 1;
        }
        self.pos = wrap_position(self.pos, len);
        if !(self.length_unset() && self.mode == HeadMode::Record) {
            self.record.pos = wrap_position(self.record.pos, len);
        }
        self.finish_slide();
        self.follow_pause(v);
        if self.tape.is_capturing() && !self.mode.writes() && self.heads_settled() && self.copier.is_none() {
            self.tape.end_capture(self.loop_length());
        }

        // Play path.
        self.velocity = v;
        self.play_read()
    }

    /// What the play head, moved by `velocity` this sample, reads: the
    /// kernel's band follows the speed.
    #[inline(always)]
    pub(super) fn play_read(&mut self) -> PlayRead {
        self.read_band = ReadKernels::band_for(self.velocity.abs(), self.read_band);
        match self.quality {
            // Blank tape reads as silence whatever the kernel.
            _ if self.tape.is_blank() => PlayRead::Known(0.0),
            Quality::Full => PlayRead::Kernel,
            Quality::Eco => PlayRead::Known(self.tape.read_hermite(self.pos)),
        }
    }

    /// The input reaches the record head: band-limited below speed 0.95
    /// (the record head moving `record_step` cells this sample), into the
    /// write-head interpolator's history.
    #[inline(always)]
    pub(super) fn feed_record_path(&mut self, input: f32, record_step: f64) {
        self.feed_record_path_at(input, record_step, self.clock);
    }

    /// [`Track::feed_record_path`] at sample `clock` of the track's life.
    #[inline(always)]
    pub(super) fn feed_record_path_at(&mut self, input: f32, record_step: f64, clock: u64) {
        let mut x = input;
        if clock % CONTROL_INTERVAL == 0 {
            self.update_prefilter(record_step.abs());
        }
        if self.prefilter_on {
            x = self.prefilter[0].process(&self.prefilter_coefs[0], x);
            x = self.prefilter[1].process(&self.prefilter_coefs[1], x);
        }
        self.history[self.history_at] = x;
        self.history_at = (self.history_at + 1) & 3;
    }

    /// The second half of a sample: what the play head read, `raw`, through
    /// the playback tone, hiss, level and gates to the track's output.
    #[inline(always)]
    fn play(&mut self, raw: f32) -> f32 {
        let y = self.colour(raw);
        self.level = flush_denormal(self.level + self.smoothing * (self.gains.level - self.level));
        let gates = self.audible.advance() * self.duck.advance() * self.gate.advance();
        self.output(y, gates)
    }

    /// What the play head read, `raw`, through the playback tone and hiss
    /// (and into the overview).
    #[inline(always)]
    pub(super) fn colour(&mut self, raw: f32) -> f32 {
        let speed_abs = self.velocity.abs();
        self.colour_at(raw, speed_abs, flux_at(speed_abs))
    }

    /// [`Track::colour`] at a tape speed of `speed_abs` (cells per sample,
    /// the play head's velocity's size), whose flux is `flux`.
    #[inline(always)]
    pub(super) fn colour_at(&mut self, raw: f32, speed_abs: f64, flux: f32) -> f32 {
        self.update_overview(raw);
        let mut y = self.tone.process(raw * flux, speed_abs as f32);
        if self.gains.hiss > 0.0 {
            y += self.hiss.next(self.gains.hiss * flux);
        }
        if !y.is_finite() {
            self.faults += 1;
            self.tone.reset();
            y = 0.0;
        }
        y
    }

    /// The coloured sample `y` at the track's level through the `gates`
    /// (their product): the track's output for this sample.
    #[inline(always)]
    pub(super) fn output(&mut self, y: f32, gates: f32) -> f32 {
        let out = flush_denormal(y * self.level * gates);
        self.peak = self.peak.max(out.abs());
        self.clock += 1;
        out
    }

    /// Track the loudest value the play head reads in each bin of the loop;
    /// a bin starts afresh whenever the head enters it.
    #[inline]
    fn update_overview(&mut self, value: f32) {
        // Cells per bin is a power-of-two-free ratio: multiply, don't divide.
        let bin = (self.pos * self.overview_scale) as usize;
        let bin = bin.min(OVERVIEW_BINS - 1);
        if bin != self.overview_bin {
            self.overview_bin = bin;
            self.overview[bin] = 0.0;
        }
        self.overview[bin] = self.overview[bin].max(value.abs().min(1.0));
    }

    fn update_prefilter(&mut self, speed_abs: f64) {
        if speed_abs == self.prefilter_speed {
            return;
        }
        self.prefilter_speed = speed_abs;
        let on = speed_abs < PREFILTER_BELOW_SPEED;
        if on {
            let corner = 0.45 * self.sample_rate * speed_abs.max(0.01);
            for (coefs, q) in self.prefilter_coefs.iter_mut().zip(BUTTERWORTH4_Q) {
                *coefs = BiquadCoefs::lowpass(self.sample_rate, corner, q);
            }
        } else if self.prefilter_on {
            self.prefilter.iter_mut().for_each(Biquad::reset);
        }
        self.prefilter_on = on;
        let delay = if on { self.prefilter_coefs.iter().map(BiquadCoefs::dc_group_delay).sum() } else { 0.0 };
        self.record.set_input_delay(delay);
    }

    /// Whether the record head has lifted and the erase fade has finished.
    fn heads_settled(&self) -> bool {
        self.engage.is_settled() && self.keep.is_settled() && self.seam_fold == 0
    }
}
