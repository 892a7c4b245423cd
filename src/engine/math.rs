//! The transcendental functions the sound depends on, the same bits on
//! every machine.
//!
//! The platform's maths library is not: glibc picks its `exp`, `sin` and
//! `cos` per CPU when it loads (one version with fused multiply-adds, one
//! without), and the two round some results differently; another libc, or
//! another release of this one, may round others differently again. A take
//! that says it re-renders exactly must, wherever it is rendered, so every
//! value the engine's output depends on (filter coefficients, smoothing
//! constants, pan gains, the hysteresis model's curve, the read kernels)
//! comes from these, built from additions, multiplications, divisions and
//! the bits of a double, which IEEE 754 defines to the last bit.
//! `tests/model_revision.rs` renders with libm's other variant and compares.
//!
//! Accuracy is a few ulp, checked against the library in the tests below.

/// Added to a value below 2^51 in magnitude, it leaves the value rounded to
/// an integer in the low bits of the sum's mantissa (1.5 * 2^52, where the
/// spacing of doubles is 1): rounding without a conversion.
const ROUNDING_SHIFT: f64 = 6_755_399_441_055_744.0;

/// `x` rounded to the nearest integer (ties to even), as a double and as
/// an integer; for |x| < 2^51.
#[inline(always)]
fn round_to_integer(x: f64) -> (f64, i64) {
    let shifted = x + ROUNDING_SHIFT;
    let n = shifted.to_bits().wrapping_sub(ROUNDING_SHIFT.to_bits()) as i64;
    (shifted - ROUNDING_SHIFT, n)
}

/// Steps of the table of powers of two: e^x = 2^(n / STEPS) e^r.
const STEPS: usize = 64;

/// ln 2 / STEPS split so that `n * LN2_HIGH` is exact for |n| < 2^21 (the
/// low 21 bits of ln 2's double are zero, and dividing by 64 keeps them)
/// and `LN2_HIGH + LN2_LOW` is ln 2 / STEPS to 2^-91.
const LN2_HIGH: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000) / STEPS as f64;
const LN2_LOW: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76) / STEPS as f64;

/// Below this, e^x is under 2^-1021 and is returned as 0 (nothing the
/// engine computes hears a difference that small); above the other,
/// e^x overflows.
const EXP_FLUSH_BELOW: f64 = -708.0;
const EXP_OVERFLOW_ABOVE: f64 = 709.0;

/// e^x, to a few ulp: x = (n / 64) ln 2 + r with |r| <= ln 2 / 128,
/// 2^(n / 64) from a table of 64 fractional powers with n / 64's whole
/// part added to its exponent, e^r by its Taylor series to the 5th power
/// (the first term left out is below 4e-17 there).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    if x > EXP_OVERFLOW_ABOVE {
        return f64::INFINITY;
    }
    exp_that_cannot_overflow(x)
}

/// [`exp`] without its test for overflow, for an `x` known to be at most
/// 709: the hysteresis model's inner loop, whose arguments are -2|q|.
#[inline(always)]
pub fn exp_that_cannot_overflow(x: f64) -> f64 {
    if x < EXP_FLUSH_BELOW {
        return 0.0;
    }
    let (k, n) = round_to_integer(x * (STEPS as f64 * std::f64::consts::LOG2_E));
    let r = (x - k * LN2_HIGH) - k * LN2_LOW;
    let r2 = r * r;
    let series = (1.0 + r) + r2 * ((0.5 + r * (1.0 / 6.0)) + r2 * ((1.0 / 24.0) + r * (1.0 / 120.0)));
    // 2^(n / 64): the table's fraction, its exponent raised by n's whole part.
    let whole = n >> STEPS.trailing_zeros();
    let fraction = POWERS_OF_TWO[(n & (STEPS as i64 - 1)) as usize];
    series * f64::from_bits(fraction.to_bits().wrapping_add((whole as u64) << 52))
}

/// 2^(j / 64) for j in 0..64, computed at build time from additions and
/// multiplications only (the Taylor series of e^y at y = j ln 2 / 64 to
/// the 24th power, within 2 ulp).
const POWERS_OF_TWO: [f64; STEPS] = {
    let mut table = [1.0; STEPS];
    let mut j = 1;
    while j < STEPS {
        let y = j as f64 * (std::f64::consts::LN_2 / STEPS as f64);
        let (mut sum, mut term, mut n) = (1.0, 1.0, 1);
        while n <= 24 {
            term = term * y / n as f64;
            sum += term;
            n += 1;
        }
        table[j] = sum;
        j += 1;
    }
    table
};

/// 10^x.
pub fn exp10(x: f64) -> f64 {
    exp(x * std::f64::consts::LN_10)
}

/// π/2 in three parts (fdlibm's): the first two have their low bits zero,
/// so `n * part` is exact for the |n| < 2^20 these arguments need.
const HALF_PI_1: f64 = f64::from_bits(0x3FF9_21FB_5440_0000);
const HALF_PI_2: f64 = f64::from_bits(0x3DD0_B461_1A60_0000);
const HALF_PI_3: f64 = f64::from_bits(0x3BA3_198A_2E03_7073);

/// Largest argument [`sin_cos`] reduces exactly (the engine's are angles
/// within a few turns); beyond it the result is NaN rather than wrong.
const SIN_COS_LIMIT: f64 = 1.0e5;

/// (sin x, cos x), to a few ulp for |x| up to 1e5: x = n π/2 + r with
/// |r| <= π/4, then the Taylor series of sin r and cos r to the 15th and
/// 16th powers (the first terms left out are below 5e-17 there), each
/// evaluated by Estrin's scheme so its chain of dependent multiplications
/// is short.
#[inline]
pub fn sin_cos(x: f64) -> (f64, f64) {
    if x.is_nan() || x.abs() > SIN_COS_LIMIT {
        return (f64::NAN, f64::NAN);
    }
    let (k, n) = round_to_integer(x * std::f64::consts::FRAC_2_PI);
    let r = ((x - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3;
    let z = r * r;
    let (z2, z4) = (z * z, z * z * (z * z));
    // sin r = r + r z S(z) with S's terms (-1)^k / (2k + 1)!, k = 1…7;
    // cos r = 1 + z C(z) with C's terms (-1)^k / (2k)!, k = 1…8.
    let s = |k: usize| SINE_TERMS[k];
    let c = |k: usize| COSINE_TERMS[k];
    let sine = (s(0) + s(1) * z) + z2 * (s(2) + s(3) * z) + z4 * ((s(4) + s(5) * z) + z2 * s(6));
    let cosine =
        ((c(0) + c(1) * z) + z2 * (c(2) + c(3) * z)) + z4 * ((c(4) + c(5) * z) + z2 * (c(6) + c(7) * z));
    let (sin_r, cos_r) = (r + r * z * sine, 1.0 + z * cosine);
    match n & 3 {
        0 => (sin_r, cos_r),
        1 => (cos_r, -sin_r),
        2 => (-sin_r, -cos_r),
        _ => (-cos_r, sin_r),
    }
}

/// (-1)^k / (2k + 1)! for k = 1…7, and (-1)^k / (2k)! for k = 1…8.
const SINE_TERMS: [f64; 7] = alternating_inverse_factorials(3);
const COSINE_TERMS: [f64; 8] = alternating_inverse_factorials(2);

/// Every other inverse factorial from `first`! on, with alternating signs
/// starting negative: -1 / first!, +1 / (first + 2)!, …
const fn alternating_inverse_factorials<const N: usize>(first: usize) -> [f64; N] {
    let mut table = [0.0; N];
    let mut k = 0;
    while k < N {
        let n = first + 2 * k;
        let (mut factorial, mut i) = (1.0, 2);
        while i <= n {
            factorial *= i as f64;
            i += 1;
        }
        table[k] = if k % 2 == 0 { -1.0 / factorial } else { 1.0 / factorial };
        k += 1;
    }
    table
}

/// sin x.
pub fn sin(x: f64) -> f64 {
    sin_cos(x).0
}

/// tan x.
pub fn tan(x: f64) -> f64 {
    let (s, c) = sin_cos(x);
    s / c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative difference, in units of f64 epsilon.
    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        ((a - b) / b).abs() / f64::EPSILON
    }

    #[test]
    fn the_table_holds_the_powers_of_two() {
        for (j, &p) in POWERS_OF_TWO.iter().enumerate() {
            let exact = (j as f64 / STEPS as f64).exp2();
            assert!(ulps(p, exact) <= 2.0, "2^({j}/64) = {p}, not {exact}");
        }
    }

    #[test]
    fn the_exponential_matches_the_library_to_a_few_ulp() {
        let mut worst: f64 = 0.0;
        for i in -200_000..200_000 {
            let x = i as f64 * 0.003_5 + 1e-3 * (i % 7) as f64;
            let (ours, library) = (exp(x), x.exp());
            if library < 1e-300 {
                assert!(ours <= 1e-300, "e^{x}: {ours}");
                continue;
            }
            worst = worst.max(ulps(ours, library));
        }
        assert!(worst <= 4.0, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(-800.0), 0.0);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert!(ulps(exp10(-3.0), 1e-3) <= 8.0 && ulps(exp10(6.0 / 20.0), 10f64.powf(0.3)) <= 8.0);
    }

    #[test]
    fn sine_and_cosine_match_the_library_to_a_few_ulp_of_one() {
        // Absolute error, in ulp of 1: relative error means nothing at a zero.
        let mut worst: f64 = 0.0;
        for i in -100_000..100_000 {
            let x = i as f64 * 1.234_567e-3;
            let (s, c) = sin_cos(x);
            worst = worst.max((s - x.sin()).abs().max((c - x.cos()).abs()) / f64::EPSILON);
        }
        assert!(worst <= 2.0, "worst error {worst} ulp of 1");
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
        let t = tan(std::f64::consts::FRAC_PI_4 * 0.5);
        assert!(ulps(t, (std::f64::consts::FRAC_PI_8).tan()) <= 4.0, "{t}");
        assert!(sin(f64::NAN).is_nan() && sin(1e6).is_nan());
    }
}
