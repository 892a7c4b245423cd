//! Head distance: on two tape machines the loop is the length of tape
//! between the record and the play head, and changing it means moving a
//! head while the tape runs. Here, changing a playing track's `length`
//! slides both heads along the tape, over `inertia_s`, by the change:
//! back when the loop grows (the tape passes the heads more slowly: the
//! pitch bends down), on when it shrinks (the pitch bends up). The record
//! head follows the play head's path as always, so what is dubbed during
//! the slide lands where it was heard.
//!
//! A loop that grows takes its new length at once (the heads are inside
//! it); one that shrinks takes it once both heads are inside the shorter
//! loop. Nothing beyond the loop's end is erased: a loop that grows again
//! plays what is there.

use super::Track;
use crate::engine::params::Param;

/// A critically damped follower reaches 99 % of a step after this many
/// natural periods (as the motor does; see `transport`).
const SETTLE_PERIODS: f64 = 6.64;
/// Fastest the heads slide, as a fraction of the tape's own speed: the
/// pitch bends at most an octave down (growing) or a fifth up (shrinking),
/// and the heads never turn round.
const MAX_SLIDE_FRACTION: f64 = 0.5;
/// Below this motor speed (cells per sample) the tape is taken as stopped:
/// a length change takes effect at once.
const STOPPED_SPEED: f64 = 1e-3;

/// A loop length change under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slide {
    /// The loop length to end with, cells.
    target: usize,
    /// How far the heads slide in all, in cells of their own travel
    /// (negative: back against it), how far they have, and how fast they
    /// are sliding (cells per sample).
    total: f64,
    moved: f64,
    rate: f64,
    /// Natural angular frequency of the follower, per sample.
    omega: f64,
}

impl Slide {
    /// The loop length the change ends with, cells.
    pub(super) fn target(&self) -> usize {
        self.target
    }
}

impl Track {
    /// The `length` parameter changed to `cells` on a track whose loop is set.
    pub(super) fn change_length(&mut self, cells: usize) {
        let current = self.slide.map_or(self.tape.len(), |slide| slide.target);
        if cells == current {
            return;
        }
        self.cycle = None;
        let inertia_samples = self.params.get(Param::InertiaS) as f64 * self.sample_rate;
        let stopped = self.halted || self.transport.motor_speed().abs() < STOPPED_SPEED;
        if self.clock == 0 || inertia_samples <= 4.0 || stopped {
            // Before the tape runs, with no inertia or on a still tape: the new length at once.
            self.slide = None;
            self.resize_loop(cells);
            if let Some(free) = self.free.as_mut() {
                free.cells = Some(cells);
            }
            return;
        }
        let change = cells as f64 - current as f64;
        let slide = self.slide.get_or_insert(Slide {
            target: cells,
            total: 0.0,
            moved: 0.0,
            rate: 0.0,
            omega: SETTLE_PERIODS / inertia_samples,
        });
        slide.target = cells;
        slide.total -= change;
        slide.omega = SETTLE_PERIODS / inertia_samples;
        if cells > self.tape.len() {
            self.tape.set_len(cells);
            self.overview_scale = super::OVERVIEW_BINS as f64 / cells as f64;
        }
    }

    /// This sample's slide of the heads along the tape, cells (0 when no
    /// length is changing), for a tape moving `motor` cells this sample.
    #[inline]
    pub(super) fn slide_step(&mut self, motor: f64) -> f64 {
        let Some(slide) = self.slide.as_mut() else { return 0.0 };
        let direction = if motor < 0.0 { -1.0 } else { 1.0 };
        let remaining = slide.total - slide.moved;
        if remaining.abs() < 1e-4 && slide.rate.abs() < 1e-4 {
            slide.moved = slide.total;
            slide.rate = 0.0;
            return remaining * direction;
        }
        // Semi-implicit Euler, one sample at a time: no overshoot, settles
        // within about `inertia_s`; never faster than a fraction of the tape,
        // and not at all while it stands still.
        let limit = MAX_SLIDE_FRACTION * motor.abs();
        let accel = slide.omega * slide.omega * remaining - 2.0 * slide.omega * slide.rate;
        slide.rate = (slide.rate + accel).clamp(-limit, limit);
        slide.moved += slide.rate;
        slide.rate * direction
    }

    /// Once the heads have slid all the way, a shorter loop takes its length
    /// as soon as both heads are inside it.
    pub(super) fn finish_slide(&mut self) {
        let Some(slide) = self.slide else { return };
        if slide.moved != slide.total {
            return;
        }
        let target = slide.target as f64;
        if slide.target < self.tape.len() {
            if self.pos >= target || self.record.pos >= target {
                return;
            }
            self.tape.set_len(slide.target);
            self.overview_scale = super::OVERVIEW_BINS as f64 / target;
        }
        if let Some(free) = self.free.as_mut() {
            free.cells = Some(slide.target);
        }
        self.slide = None;
    }
}
