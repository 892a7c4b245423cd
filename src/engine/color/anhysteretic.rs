//! The anhysteretic curve of the hysteresis model: the Langevin function and
//! its slope, evaluated four times per 2x-oversampled record-head sample.
//!
//! Its exponential is the engine's own ([`math::exp`]), the same bits on
//! every machine, and one division gives both reciprocals it needs.

use crate::engine::math;

/// Langevin function L(q) = coth q - 1/q and its derivative, without
/// overflow for large |q| and without cancellation near 0.
#[inline(always)]
pub(super) fn langevin(q: f64) -> (f64, f64) {
    if q.abs() < 0.05 {
        // Taylor series; the next terms are below 1e-11 here.
        let q2 = q * q;
        (q * (1.0 / 3.0 - q2 / 45.0), 1.0 / 3.0 - q2 / 15.0)
    } else {
        // With e = exp(-2|q|): coth |q| = (1 + e) / (1 - e) and
        // 1 / sinh^2 q = 4 e / (1 - e)^2, so no overflow; 1 / (1 - e) and
        // 1 / q come out of the one division d = 1 / (q (1 - e)).
        let e = math::exp_that_cannot_overflow(-2.0 * q.abs());
        let d = 1.0 / (q * (1.0 - e));
        let r = q * d;
        let coth = q.signum() * (1.0 + e) * r;
        let inv_q = (1.0 - e) * d;
        let inv_sinh2 = 4.0 * e * r * r;
        (coth - inv_q, inv_q * inv_q - inv_sinh2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Langevin function with the C library's `exp` and two divisions.
    fn library_langevin(q: f64) -> (f64, f64) {
        let e = (-2.0 * q.abs()).exp();
        let r = 1.0 / (1.0 - e);
        let inv_q = 1.0 / q;
        (q.signum() * (1.0 + e) * r - inv_q, inv_q * inv_q - 4.0 * e * r * r)
    }

    #[test]
    fn the_curve_and_its_slope_match_the_library_form() {
        for i in -40_000..=40_000 {
            let q = i as f64 * 1.37e-3;
            if q.abs() < 0.05 {
                continue;
            }
            let ((l, dl), (l_ref, dl_ref)) = (langevin(q), library_langevin(q));
            // Small |q| amplifies the exponentials' few ulp: coth q moves by
            // about 1 / (2 q^2) per unit of e and its slope by about 1 / |q|^3
            // (three digits cancel at |q| = 0.05, in both forms alike).
            let (l_scale, dl_scale) = (1.0 + 1.0 / (q * q), 1.0 + 1.0 / q.abs().powi(3));
            assert!((l - l_ref).abs() <= 8.0 * f64::EPSILON * l_scale, "L({q}) = {l}, not {l_ref}");
            assert!((dl - dl_ref).abs() <= 8.0 * f64::EPSILON * dl_scale, "L'({q}) = {dl}, not {dl_ref}");
        }
        // Far out: saturated, flat.
        let (l, dl) = langevin(1e4);
        assert!((l - (1.0 - 1e-4)).abs() < 1e-15 && (dl - 1e-8).abs() < 1e-20, "{l} {dl}");
        // Odd and even.
        assert_eq!(langevin(-2.5).0, -langevin(2.5).0);
        assert_eq!(langevin(-2.5).1, langevin(2.5).1);
    }
}
