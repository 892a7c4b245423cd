//! Record-head saturation: Jiles-Atherton hysteresis at 2x oversampling, a
//! cheap memoryless soft curve, or nothing.

use super::super::filter::flush_denormal;
use super::super::params::SaturationModel;
use super::anhysteretic::langevin;
use crate::engine::math;

/// Half the number of non-zero side taps of the halfband filter on each side
/// of the centre: the filter has `4 * HALFBAND_K - 1` taps.
const HALFBAND_K: usize = 8;
const HALFBAND_TAPS: usize = 4 * HALFBAND_K - 1;
/// Kaiser window shape: about 60 dB of image/alias rejection with the
/// passband flat to about 18 kHz at 48 kHz.
const HALFBAND_KAISER_BETA: f64 = 6.0;

/// Jiles-Atherton constants in normalised units (magnetisation over the
/// saturation magnetisation `M_s`, field over the anhysteretic shape `a`).
/// Ratio of reversible to total magnetisation change. High, because real
/// tape is AC-biased and nearly linear at low level; the rest is the loop.
const JA_C: f64 = 0.7;
/// Pinning (loop half-width) `k / a`.
const JA_K: f64 = 1.0;
/// Inter-domain coupling `alpha * M_s / a`.
const JA_ALPHA: f64 = 0.02;
/// Field per unit of record-head signal: a full-scale input reaches about
/// 3 `a`, where the Langevin curve has bent to 2/3 of saturation.
const INPUT_TO_FIELD: f64 = 3.0;
/// Output scale that makes the small-signal gain 1 (0 dB): the inverse of
/// the measured magnetisation per unit input for a -40 dBFS 1 kHz sine.
const MAGNETISATION_TO_OUTPUT: f64 = 1.0 / 0.7055;
/// Largest field change per RK2 step, in units of `a` (half the stability
/// limit 2 `k` of the explicit midpoint rule); bigger changes are split
/// into sub-steps so the solver stays accurate when driven hard.
const MAX_FIELD_STEP: f64 = 1.0;
/// NOTE: bounded work per cell: at most this many sub-steps per 2x sample,
/// reached when the field moves more than 2 `a` per 2x sample (a full-scale
/// 1 kHz sine with about 20 dB of drive).
const MAX_SUBSTEPS: u32 = 3;
/// Inputs beyond this are clipped before the solver; it keeps the arithmetic
/// finite for absurd values and is far beyond saturation anyway.
const INPUT_LIMIT: f32 = 1.0e4;

/// The record head's saturation, stepped once per tape cell written.
#[derive(Clone, Debug)]
pub struct RecordSaturator {
    model: SaturationModel,
    hysteresis: Hysteresis,
    oversampler: HalfbandPair,
}

impl RecordSaturator {
    /// Cells of delay the `Hysteresis` model adds (its linear-phase
    /// oversampling filters); `Soft` and `Off` add none.
    pub const HYSTERESIS_LATENCY_CELLS: usize = 2 * HALFBAND_K - 1;

    pub fn new(model: SaturationModel, _sample_rate: f64) -> Self {
        // The hysteresis is rate independent (it depends on the field path,
        // not on time) and the filters are specified relative to the rate,
        // so nothing here depends on the sample rate.
        RecordSaturator { model, hysteresis: Hysteresis::default(), oversampler: HalfbandPair::new() }
    }

    /// Demagnetise and clear the filter histories.
    pub fn reset(&mut self) {
        self.hysteresis = Hysteresis::default();
        self.oversampler.reset();
    }

    /// Cells of delay between input and output for this model.
    pub fn latency_cells(&self) -> usize {
        match self.model {
            SaturationModel::Hysteresis => Self::HYSTERESIS_LATENCY_CELLS,
            SaturationModel::Soft | SaturationModel::Off => 0,
        }
    }

    /// Whether this is the Jiles-Atherton model (whose cost is its serial
    /// chain of steps, so two of them gain from running side by side).
    pub fn is_hysteresis(&self) -> bool {
        self.model == SaturationModel::Hysteresis
    }

    /// Two saturators' samples at once, each exactly as [`Self::process`]
    /// gives it. Each hysteresis step waits on the last; two tracks' steps
    /// interleaved fill each other's waits.
    #[inline]
    pub fn process_pair(a: &mut RecordSaturator, b: &mut RecordSaturator, xa: f32, xb: f32) -> (f32, f32) {
        if !(a.is_hysteresis() && b.is_hysteresis()) {
            return (a.process(xa), b.process(xb));
        }
        let (a_even, a_odd) = a.oversampler.upsample(xa.clamp(-INPUT_LIMIT, INPUT_LIMIT));
        let (b_even, b_odd) = b.oversampler.upsample(xb.clamp(-INPUT_LIMIT, INPUT_LIMIT));
        let field = |x: f32| x as f64 * INPUT_TO_FIELD;
        let (ya_even, yb_even) =
            Hysteresis::step_pair(&mut a.hysteresis, field(a_even), &mut b.hysteresis, field(b_even));
        let (ya_odd, yb_odd) =
            Hysteresis::step_pair(&mut a.hysteresis, field(a_odd), &mut b.hysteresis, field(b_odd));
        let out = |y: f64| (y * MAGNETISATION_TO_OUTPUT) as f32;
        let ya = a.oversampler.downsample(out(ya_even), out(ya_odd));
        let yb = b.oversampler.downsample(out(yb_even), out(yb_odd));
        (flush_denormal(ya), flush_denormal(yb))
    }

    /// Signal at the record head in, magnetisation out; unity small-signal gain.
    #[inline]
    pub fn process(&mut self, x: f32) -> f32 {
        match self.model {
            SaturationModel::Off => x,
            SaturationModel::Soft => soft_curve(x),
            SaturationModel::Hysteresis => {
                let x = x.clamp(-INPUT_LIMIT, INPUT_LIMIT);
                let (even, odd) = self.oversampler.upsample(x);
                let y_even = self.hysteresis.step(even as f64 * INPUT_TO_FIELD);
                let y_odd = self.hysteresis.step(odd as f64 * INPUT_TO_FIELD);
                let y = self.oversampler.downsample(
                    (y_even * MAGNETISATION_TO_OUTPUT) as f32,
                    (y_odd * MAGNETISATION_TO_OUTPUT) as f32,
                );
                flush_denormal(y)
            }
        }
    }
}

/// Memoryless soft saturation: the (3,2) Padé approximant of tanh, which
/// reaches exactly ±1 with zero slope at |x| = 3 and is held there. Unity
/// slope at zero; odd, so it makes only odd harmonics, like a biased tape.
#[inline]
pub fn soft_curve(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    let x2 = x * x;
    x * (27.0 + x2) / (27.0 + 9.0 * x2)
}

/// Jiles-Atherton magnetisation state, integrated along the field path.
#[derive(Clone, Copy, Debug, Default)]
struct Hysteresis {
    /// Magnetisation over `M_s`, kept within ±1.
    m: f64,
    /// Field over `a` at the last step.
    h: f64,
}

impl Hysteresis {
    /// Move the field to `h` (in units of `a`) and return the new magnetisation.
    ///
    /// The JA equation gives dM/dH, so with the field linear between
    /// samples the ODE is integrated over the field change itself with the
    /// explicit midpoint rule (RK2). That keeps the model rate independent:
    /// no time derivative of the field has to be estimated.
    #[inline]
    fn step(&mut self, h: f64) -> f64 {
        let dh = h - self.h;
        if dh != 0.0 {
            let path = FieldPath::new(dh);
            let mut field = self.h;
            let mut m = self.m;
            for _ in 0..path.substeps {
                (m, field) = path.substep(m, field);
            }
            self.settle(m, h);
        }
        self.m
    }

    /// Two states moved at once, each exactly as [`Self::step`] moves it:
    /// where both take the same number of sub-steps, the sub-steps run in
    /// one loop so the processor can overlap the two chains.
    #[inline]
    fn step_pair(a: &mut Hysteresis, ha: f64, b: &mut Hysteresis, hb: f64) -> (f64, f64) {
        let (dha, dhb) = (ha - a.h, hb - b.h);
        if dha == 0.0 || dhb == 0.0 {
            return (a.step(ha), b.step(hb));
        }
        let (pa, pb) = (FieldPath::new(dha), FieldPath::new(dhb));
        if pa.substeps != pb.substeps {
            return (a.step(ha), b.step(hb));
        }
        let (mut ma, mut fa, mut mb, mut fb) = (a.m, a.h, b.m, b.h);
        for _ in 0..pa.substeps {
            (ma, fa) = pa.substep(ma, fa);
            (mb, fb) = pb.substep(mb, fb);
        }
        a.settle(ma, ha);
        b.settle(mb, hb);
        (a.m, b.m)
    }

    /// Keep the magnetisation reached at field `h`.
    #[inline(always)]
    fn settle(&mut self, m: f64, h: f64) {
        self.m = if m.abs() < 1.0e-30 { 0.0 } else { m };
        self.h = h;
    }
}

/// A field change split into sub-steps for the midpoint rule.
#[derive(Clone, Copy)]
struct FieldPath {
    direction: f64,
    substeps: u32,
    /// Field change per sub-step.
    step: f64,
}

impl FieldPath {
    #[inline(always)]
    fn new(dh: f64) -> FieldPath {
        let direction = if dh > 0.0 { 1.0 } else { -1.0 };
        let substeps = ((dh.abs() / MAX_FIELD_STEP).ceil() as u32).clamp(1, MAX_SUBSTEPS);
        FieldPath { direction, substeps, step: dh / substeps as f64 }
    }

    /// One RK2 sub-step from magnetisation `m` at `field`.
    #[inline(always)]
    fn substep(&self, m: f64, field: f64) -> (f64, f64) {
        let (step, direction) = (self.step, self.direction);
        let k1 = ja_slope(m, field, direction);
        let k2 = ja_slope(m + 0.5 * step * k1, field + 0.5 * step, direction);
        ((m + step * k2).clamp(-1.0, 1.0), field + step)
    }
}

/// dm/dh of the Jiles-Atherton model in normalised units, for a field moving
/// in `direction` (±1).
#[inline(always)]
fn ja_slope(m: f64, h: f64, direction: f64) -> f64 {
    let q = h + JA_ALPHA * m;
    let (anhysteretic, d_anhysteretic) = langevin(q);
    let lag = anhysteretic - m;
    // Irreversible domain-wall motion only pulls the magnetisation toward
    // the anhysteretic curve, never away from it (the delta_M switch that
    // keeps the classic JA equations physical).
    let irreversible = if direction * lag > 0.0 {
        (1.0 - JA_C) * lag / ((1.0 - JA_C) * direction * JA_K - JA_ALPHA * lag)
    } else {
        0.0
    };
    // 1 / (1 - u) with u = c alpha L'(q) <= 0.0047: two terms of the series
    // are exact to 1e-7 and save a division on the hot path.
    let u = JA_C * JA_ALPHA * d_anhysteretic;
    (irreversible + JA_C * d_anhysteretic) * (1.0 + u * (1.0 + u))
}

/// Linear-phase FIR halfband filters for 2x up- and downsampling, run as
/// polyphase pairs so no multiply is spent on the zero taps.
#[derive(Clone, Debug)]
struct HalfbandPair {
    /// The non-zero side taps, `h[2 * i]` of the full filter for i in 0..2K.
    side: [f32; 2 * HALFBAND_K],
    /// Last 2K inputs at the base rate.
    up_history: History<{ 2 * HALFBAND_K }>,
    /// Last 2K odd-phase (second) 2x samples.
    down_odd: History<{ 2 * HALFBAND_K }>,
    /// Last K even-phase (first) 2x samples, for the centre tap.
    down_even: History<HALFBAND_K>,
}

impl HalfbandPair {
    fn new() -> Self {
        HalfbandPair {
            side: halfband_side_taps(),
            up_history: History::default(),
            down_odd: History::default(),
            down_even: History::default(),
        }
    }

    fn reset(&mut self) {
        self.up_history = History::default();
        self.down_odd = History::default();
        self.down_even = History::default();
    }

    /// One base-rate sample in, the two 2x samples out (in time order).
    #[inline]
    fn upsample(&mut self, x: f32) -> (f32, f32) {
        let history = self.up_history.push(x);
        // Zero-stuffing halves the level, so the interpolating phase is
        // scaled by 2; the other phase is the centre tap (0.5 * 2): a delay.
        let interpolated = symmetric_dot(&self.side, history);
        (2.0 * interpolated, history[HALFBAND_K - 1])
    }

    /// The two 2x samples of one base-rate period in, one sample out.
    #[inline]
    fn downsample(&mut self, first: f32, second: f32) -> f32 {
        let odd = self.down_odd.push(second);
        let centre = 0.5 * self.down_even.push(first)[HALFBAND_K - 1];
        centre + symmetric_dot(&self.side, odd)
    }
}

/// The last `N` samples of a signal, newest first, without shifting an
/// array every sample (a chain of overlapping copies that stalls on store
/// forwarding): each sample is written twice, `N` apart, into a buffer of
/// `2N`, so the newest `N` are always one contiguous slice.
#[derive(Clone, Copy, Debug)]
struct History<const N: usize> {
    buffer: [[f32; N]; 2],
    /// Where the newest sample is, 0..N.
    newest: usize,
}

impl<const N: usize> Default for History<N> {
    fn default() -> Self {
        History { buffer: [[0.0; N]; 2], newest: 0 }
    }
}

impl<const N: usize> History<N> {
    /// Take in a sample; returns the last `N`, newest first.
    #[inline(always)]
    fn push(&mut self, x: f32) -> &[f32; N] {
        self.newest = if self.newest == 0 { N - 1 } else { self.newest - 1 };
        self.buffer[0][self.newest] = x;
        self.buffer[1][self.newest] = x;
        let flat = self.buffer.as_flattened();
        flat[self.newest..self.newest + N].try_into().expect("a window of N samples")
    }
}

/// Dot product with a symmetric tap set: folds the history so each tap is
/// used once, and keeps two independent sums so the adds can overlap.
#[inline]
fn symmetric_dot(taps: &[f32; 2 * HALFBAND_K], history: &[f32; 2 * HALFBAND_K]) -> f32 {
    let (mut even, mut odd) = (0.0, 0.0);
    for i in (0..HALFBAND_K).step_by(2) {
        even += taps[i] * (history[i] + history[2 * HALFBAND_K - 1 - i]);
        odd += taps[i + 1] * (history[i + 1] + history[2 * HALFBAND_K - 2 - i]);
    }
    even + odd
}

/// Kaiser-windowed sinc halfband with `HALFBAND_TAPS` taps. The centre tap
/// is 0.5 and every other tap is zero, so only the 2K taps at odd distance
/// from the centre are stored, scaled so the DC gain is exactly 1.
fn halfband_side_taps() -> [f32; 2 * HALFBAND_K] {
    let centre = (HALFBAND_TAPS / 2) as f64;
    let mut taps = [0.0f64; 2 * HALFBAND_K];
    for (i, tap) in taps.iter_mut().enumerate() {
        let n = (2 * i) as f64 - centre; // odd distance from the centre
        let sinc = math::sin(std::f64::consts::FRAC_PI_2 * n) / (std::f64::consts::PI * n);
        let r = n / centre;
        let window =
            bessel_i0(HALFBAND_KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(HALFBAND_KAISER_BETA);
        *tap = sinc * window;
    }
    let sum: f64 = taps.iter().sum();
    taps.map(|t| (t * 0.5 / sum) as f32)
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half_sq = 0.25 * x * x;
    for k in 1..40 {
        term *= half_sq / (k * k) as f64;
        sum += term;
        if term < 1.0e-17 * sum {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_of_saturators_gives_each_one_bit_for_bit() {
        let new = || RecordSaturator::new(SaturationModel::Hysteresis, 48_000.0);
        let (mut a, mut b, mut a_alone, mut b_alone) = (new(), new(), new(), new());
        // Quiet and loud (several sub-steps), alike and unlike, held still
        // (no field change) and silent.
        for n in 0..20_000 {
            let t = n as f32;
            let xa = match n / 4000 {
                0 => 0.3 * (t * 0.05).sin(),
                1 => 12.0 * (t * 0.31).sin(),
                2 => 0.25,
                _ => 4.0 * (t * 0.013).sin() * (t * 0.2).cos(),
            };
            let xb = if n % 7 == 0 { xa } else { 9.0 * (t * 0.17 + 1.0).sin() * (n % 3) as f32 };
            let pair = RecordSaturator::process_pair(&mut a, &mut b, xa, xb);
            let alone = (a_alone.process(xa), b_alone.process(xb));
            assert_eq!(
                (pair.0.to_bits(), pair.1.to_bits()),
                (alone.0.to_bits(), alone.1.to_bits()),
                "sample {n}"
            );
        }
    }
}
