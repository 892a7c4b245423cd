//! Input frames arrive on the input device's clock and leave on the output
//! device's. [`InputSync`] keeps the ring between them near a target fill
//! (the input latency it adds), without clicks:
//!
//! - start (and restart after an underrun) waits until the target is
//!   buffered, then fades in;
//! - an underrun (fewer frames than the block needs) plays what is there,
//!   fading it out, then silence; counted;
//! - far too many frames (the output stalled): the oldest are dropped down
//!   to the target, crossfading across the jump; counted as an overrun;
//! - slow drift (the average fill wanders more than a block from where it
//!   started): [`DRIFT_STEP`] frames are skipped or repeated with a
//!   [`CROSSFADE`]-frame crossfade; counted as drift corrections.

use crate::bridge::LiveStats;
use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;

/// Frames skipped or repeated per drift correction.
pub const DRIFT_STEP: usize = 32;
/// Length of every crossfade and fade, frames.
pub const CROSSFADE: usize = 32;
/// Time constant of the average fill, seconds: long enough to average out
/// the phase between the two devices' callbacks.
const FILL_AVERAGE_S: f64 = 0.5;

/// What one [`InputSync::read`] did to the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputRead {
    /// Frames taken off the ring (played, skipped or dropped).
    pub consumed: usize,
    /// Of those, how many were dropped before the first frame of `out`.
    pub dropped_first: usize,
    /// Whether `out` holds input (false: silence while priming).
    pub live: bool,
    /// How many frames later than before the input now arrives (a skip
    /// makes it earlier: negative). The round trip changes by as much.
    pub delay_change: i32,
    /// The stream lost its footing (an underrun) and is priming again: the
    /// round trip must be measured anew.
    pub restarted: bool,
}

pub struct InputSync {
    /// Frames to have buffered when a block starts.
    target: usize,
    /// Fill the average is held to; set when the stream primes.
    reference: f64,
    /// How far the average may wander from the reference, frames.
    margin: f64,
    average: f64,
    primed: bool,
    fade_in: bool,
    sample_rate: f64,
    /// The old stream's first frames across a skip.
    old: [f32; CROSSFADE],
}

impl InputSync {
    /// `target` frames are kept buffered; `block` is the usual callback size.
    pub fn new(target: usize, block: usize, sample_rate: f64) -> InputSync {
        InputSync {
            target: target.max(1),
            reference: target as f64,
            margin: block.max(DRIFT_STEP * 2) as f64,
            average: target as f64,
            primed: false,
            fade_in: true,
            sample_rate,
            old: [0.0; CROSSFADE],
        }
    }

    pub fn target(&self) -> usize {
        self.target
    }

    pub fn is_primed(&self) -> bool {
        self.primed
    }

    /// The average fill, frames (the latency this ring adds).
    pub fn average_fill(&self) -> f64 {
        self.average
    }

    /// Start over: wait for the target to be buffered again, then fade in
    /// (the input stream restarted).
    pub fn restart(&mut self) {
        self.primed = false;
    }

    /// Fill `out` with the next input frames. Never allocates or blocks.
    pub fn read(&mut self, ring: &mut HeapCons<f32>, out: &mut [f32], stats: &LiveStats) -> InputRead {
        let n = out.len();
        let mut fill = ring.occupied_len();
        let mut trimmed = 0;
        if !self.primed {
            let wanted = self.target.max(n);
            if fill < wanted {
                out.fill(0.0);
                return InputRead::default();
            }
            // Whatever piled up beyond the target while waiting is dropped:
            // the ring always starts exactly `wanted` frames deep, so on one
            // clock the round trip is the same every time it starts.
            trimmed = ring.skip(fill - wanted);
            fill = wanted;
            self.primed = true;
            self.fade_in = true;
            self.reference = fill as f64;
            self.average = fill as f64;
        }
        let a = (n as f64 / (FILL_AVERAGE_S * self.sample_rate)).min(1.0);
        self.average += a * (fill as f64 - self.average);

        if fill < n {
            let got = ring.pop_slice(&mut out[..fill]);
            fade(&mut out[got.saturating_sub(CROSSFADE)..got], false);
            out[got..].fill(0.0);
            LiveStats::add(&stats.input_underruns, 1);
            self.primed = false;
            return InputRead { consumed: got, live: true, restarted: true, ..InputRead::default() };
        }
        let mut read =
            InputRead { consumed: n + trimmed, dropped_first: trimmed, live: true, ..InputRead::default() };
        let hard_limit = self.reference + (4 * n).max(self.target) as f64;
        if fill as f64 > hard_limit {
            // The output fell far behind: drop the oldest, back to the target.
            let skip = (fill - self.reference as usize).max(CROSSFADE);
            if self.skip(ring, out, skip) {
                LiveStats::add(&stats.input_overruns, 1);
                self.average = (fill - skip) as f64;
                read.consumed = n + skip + trimmed;
                read.delay_change = -(skip as i32);
                return read;
            }
        }
        if self.average > self.reference + self.margin && fill >= n + DRIFT_STEP {
            self.skip(ring, out, DRIFT_STEP);
            self.average -= DRIFT_STEP as f64;
            LiveStats::add(&stats.drift_corrections, 1);
            read.consumed = n + DRIFT_STEP + trimmed;
            read.delay_change = -(DRIFT_STEP as i32);
        } else if self.average < self.reference - self.margin && n >= 2 * DRIFT_STEP + CROSSFADE {
            self.repeat(ring, out, DRIFT_STEP);
            self.average += DRIFT_STEP as f64;
            LiveStats::add(&stats.drift_corrections, 1);
            read.consumed = n - DRIFT_STEP + trimmed;
            read.delay_change = DRIFT_STEP as i32;
        } else {
            ring.pop_slice(out);
        }
        if self.fade_in {
            self.fade_in = false;
            let len = CROSSFADE.min(n);
            fade(&mut out[..len], true);
        }
        read
    }

    /// Jump `skip` frames ahead (skip ≥ CROSSFADE), crossfading from the
    /// frames that would have played into those after the jump.
    fn skip(&mut self, ring: &mut HeapCons<f32>, out: &mut [f32], skip: usize) -> bool {
        let n = out.len();
        if ring.occupied_len() < skip + n || skip < CROSSFADE {
            return false;
        }
        let k = CROSSFADE.min(n);
        ring.pop_slice(&mut self.old[..k]);
        ring.skip(skip - k);
        ring.pop_slice(out);
        for (i, (y, &old)) in out.iter_mut().zip(&self.old[..k]).enumerate() {
            let w = (i as f32 + 0.5) / k as f32;
            *y = (1.0 - w) * old + w * *y;
        }
        true
    }

    /// Play `repeat` frames twice: read `n - repeat` frames and stretch
    /// them to `n`, crossfading back by `repeat` frames.
    fn repeat(&mut self, ring: &mut HeapCons<f32>, out: &mut [f32], repeat: usize) {
        let n = out.len();
        let d = repeat;
        let got = ring.pop_slice(&mut out[..n - d]);
        debug_assert_eq!(got, n - d);
        // In place, from the end: out[i] = x[i - d] after the crossfade.
        for i in (d + CROSSFADE..n).rev() {
            out[i] = out[i - d];
        }
        for i in (d..d + CROSSFADE).rev() {
            let w = ((i - d) as f32 + 0.5) / CROSSFADE as f32;
            out[i] = (1.0 - w) * out[i] + w * out[i - d];
        }
    }
}

/// A linear fade in (or out) over the whole slice.
fn fade(x: &mut [f32], fade_in: bool) {
    let len = x.len() as f32;
    for (i, s) in x.iter_mut().enumerate() {
        let g = (i as f32 + 0.5) / len;
        *s *= if fade_in { g } else { 1.0 - g };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;

    fn ramp(start: usize, n: usize) -> Vec<f32> {
        (start..start + n).map(|i| i as f32).collect()
    }

    #[test]
    fn a_steady_stream_passes_unchanged_after_the_fade_in() {
        let stats = LiveStats::new();
        let (mut p, mut c) = HeapRb::<f32>::new(4096).split();
        let mut sync = InputSync::new(512, 256, 48_000.0);
        let mut out = vec![0.0; 256];
        p.push_slice(&ramp(0, 512));
        sync.read(&mut c, &mut out, &stats);
        for i in 0..10 {
            p.push_slice(&ramp(512 + 256 * i, 256));
            sync.read(&mut c, &mut out, &stats);
            assert_eq!(out, ramp(256 * (i + 1), 256));
        }
        assert_eq!(LiveStats::get(&stats.input_underruns), 0);
    }

    #[test]
    fn an_underrun_fades_out_counts_and_reprimes() {
        let stats = LiveStats::new();
        let (mut p, mut c) = HeapRb::<f32>::new(4096).split();
        let mut sync = InputSync::new(256, 256, 48_000.0);
        let mut out = vec![0.0; 256];
        p.push_slice(&vec![1.0; 256]);
        sync.read(&mut c, &mut out, &stats);
        p.push_slice(&[1.0; 100]);
        sync.read(&mut c, &mut out, &stats);
        assert_eq!(LiveStats::get(&stats.input_underruns), 1);
        assert!(out[99] < 0.05 && out[60] == 1.0 && out[100..].iter().all(|&x| x == 0.0));
        assert!(!sync.is_primed());
    }

    #[test]
    fn too_much_input_drops_the_oldest_with_a_crossfade() {
        let stats = LiveStats::new();
        let (mut p, mut c) = HeapRb::<f32>::new(1 << 16).split();
        let mut sync = InputSync::new(512, 256, 48_000.0);
        let mut out = vec![0.0; 256];
        p.push_slice(&ramp(0, 512));
        sync.read(&mut c, &mut out, &stats);
        p.push_slice(&ramp(512, 8000));
        sync.read(&mut c, &mut out, &stats);
        assert_eq!(LiveStats::get(&stats.input_overruns), 1);
        // Back near the target: what is left is about one target's worth.
        assert!(c.occupied_len() <= 512, "{} left", c.occupied_len());
        assert_eq!(*out.last().unwrap(), 8511.0 - c.occupied_len() as f32);
    }

    #[test]
    fn repeating_keeps_the_signal_continuous() {
        let mut sync = InputSync::new(512, 256, 48_000.0);
        let (mut p, mut c) = HeapRb::<f32>::new(4096).split();
        p.push_slice(&ramp(0, 1000));
        let mut out = vec![0.0; 256];
        sync.repeat(&mut c, &mut out, DRIFT_STEP);
        assert_eq!(c.occupied_len(), 1000 - 256 + DRIFT_STEP);
        for w in out.windows(2) {
            assert!((w[1] - w[0]).abs() <= 1.0 + 1e-3, "jump {w:?}");
        }
    }
}
