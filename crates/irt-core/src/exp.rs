//! e^y for y ≤ 0 in plain arithmetic, so that the loops that exponentiate a person's log
//! posterior over the quadrature nodes vectorise: the library's `exp` is a call per value, and
//! was the largest part of an E-step on sparse answers. Cody and Waite's reduction
//! y = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor polynomial to r¹³ (the first term left
//! out is below 2⁻⁵⁷ of the result), and 2ᵏ put into the exponent's bits. Within 2 ulp of the
//! exact value (tested against `f64::exp`); e⁰ = 1 exactly; NaN stays NaN.

/// 1.5 · 2⁵²: adding and subtracting it rounds a double below 2⁵¹ in magnitude to an integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// 2⁵²: adding it to an integer in [0, 2¹¹) leaves that integer in the mantissa's lowest bits.
const MANTISSA: f64 = 4_503_599_627_370_496.0;
/// ln 2 in two parts: the high one has 32 significant bits, so k · LN2_HI is exact for |k| < 2²¹.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Below this e^y is left as 0: e^−708 is near f64's least normal number, and a posterior
/// weight that small beside the largest, 1, changes no sum.
const LOWEST: f64 = -708.0;

/// e^y for y ≤ 0 (and 0 below −708).
#[inline(always)]
pub(crate) fn exp_nonpositive(y: f64) -> f64 {
    // Branch-free: comparisons become selects, so the loop calling this vectorises. A NaN
    // fails both comparisons and stays NaN through the arithmetic.
    let t = if y < LOWEST { LOWEST } else { y };
    let k = (t * std::f64::consts::LOG2_E + ROUND) - ROUND;
    let r = (t - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for n in (1..13).rev() {
        p = p * r + INVERSE_FACTORIALS[n];
    }
    let p = p * r + 1.0;
    // k + 1023 lies in [1, 1023]: shifted into the exponent field it makes 2ᵏ.
    let scale = f64::from_bits((k + (1023.0 + MANTISSA)).to_bits() << 52);
    let e = p * scale;
    if y < LOWEST {
        0.0
    } else {
        e
    }
}

/// 1/n! for n = 0 … 12.
const INVERSE_FACTORIALS: [f64; 13] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Within 2 ulp of the library's exp over the whole range, on a dense grid and at the
    /// reduction's boundaries (half-integer multiples of ln 2).
    #[test]
    fn agrees_with_the_library_exp() {
        let mut worst = 0;
        let mut check = |y: f64| {
            let (ours, lib) = (exp_nonpositive(y), y.exp());
            worst = worst.max(ulps(ours, lib));
            assert!(ulps(ours, lib) <= 2, "e^{y}: {ours:e} against {lib:e}");
        };
        for i in 0..=2_000_000 {
            check(-708.0 * f64::from(i) / 2_000_000.0);
        }
        for k in 0..2042 {
            let y = -f64::from(k) * 0.5 * std::f64::consts::LN_2;
            for d in [-1e-12, 0.0, 1e-12] {
                if y + d <= 0.0 && y + d >= LOWEST {
                    check(y + d);
                }
            }
        }
        assert!(worst <= 2, "{worst}");
    }

    #[test]
    fn ln_2_in_two_parts() {
        assert_eq!(
            LN2_HI.to_bits() & 0x1f_ffff,
            0,
            "the high part's last 21 bits are zero"
        );
        assert!((LN2_HI + LN2_LO - std::f64::consts::LN_2).abs() <= f64::EPSILON / 4.0);
    }

    #[test]
    fn the_edges() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-708.5), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
        assert!(exp_nonpositive(LOWEST) > 0.0);
    }
}
