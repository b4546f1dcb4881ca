//! The effect sizes of an item's DIF: the signed and unsigned areas between its expected-score
//! curves in the reference and a focal group (Raju 1988), ∫ (E_ref(θ) − E_focal(θ)) dθ and
//! ∫ |E_ref(θ) − E_focal(θ)| dθ over the whole line. The signed area is the focal group's shift
//! in difficulty — b_focal − b_ref for a 2PL item, the sum of the thresholds' shifts for a
//! graded one — positive where the item is harder for the focal group; the unsigned area also
//! counts curves that cross. By quadrature for any item shape, both curves flat at the ends of
//! the range.

use crate::model::ItemParams;

/// An item's areas between two groups' curves.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Areas {
    pub signed: f64,
    pub unsigned: f64,
}

/// Steps over the range: the curves change over 1/a, and at a = 0.3 the range spans about
/// 250 logits, so a step of 0.004 leaves Simpson's error below 1e-9.
const INTERVALS: usize = 1 << 16;
/// The range's half-width starts here and doubles until both ends are flat.
const START_REACH: f64 = 8.0;
const MAX_REACH: f64 = 1e4;
/// A difference of curves this small at an end is taken as their asymptotes' (equal: both run
/// from 0 to the top category).
const FLAT: f64 = 1e-15;

/// The areas between `reference`'s and `focal`'s expected-score curves (one item in two
/// groups: the same shape). NaN where a curve does not reach its asymptotes within ±10⁴ (a
/// slope near 0).
pub fn areas(reference: &ItemParams, focal: &ItemParams) -> Areas {
    let gap = |theta: f64| reference.expected_score(theta) - focal.expected_score(theta);
    let mut reach = START_REACH;
    while gap(-reach).abs() > FLAT || gap(reach).abs() > FLAT {
        reach *= 2.0;
        if reach > MAX_REACH {
            return Areas {
                signed: f64::NAN,
                unsigned: f64::NAN,
            };
        }
    }
    // Between two crossings the gap keeps its sign, so the unsigned area is the sum of the
    // segments' absolute signed areas, each smooth for Simpson's rule.
    let h = 2.0 * reach / INTERVALS as f64;
    let mut ends = vec![-reach];
    // The last point where the gap was not 0 (the curves may meet exactly on a step).
    let mut before = (-reach, gap(-reach));
    for k in 1..=INTERVALS {
        let theta = -reach + k as f64 * h;
        let now = gap(theta);
        if before.1 * now < 0.0 {
            ends.push(crossing(&gap, before.0, theta));
        }
        if now != 0.0 || before.1 == 0.0 {
            before = (theta, now);
        }
    }
    ends.push(reach);
    let (mut signed, mut unsigned) = (0.0, 0.0);
    for pair in ends.windows(2) {
        let part = simpson(&gap, pair[0], pair[1], h);
        signed += part;
        unsigned += part.abs();
    }
    Areas { signed, unsigned }
}

/// Where the gap changes sign between `lo` and `hi`, by bisection to the last bit.
fn crossing(gap: &impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let low_sign = gap(lo).signum();
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if gap(mid).signum() == low_sign {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// ∫ gap over [a, b] by Simpson's rule with steps of about `h`.
fn simpson(gap: &impl Fn(f64) -> f64, a: f64, b: f64, h: f64) -> f64 {
    let n = (((b - a) / h).ceil() as usize).next_multiple_of(2).max(2);
    let step = (b - a) / n as f64;
    let inner: f64 = (1..n)
        .map(|k| if k % 2 == 1 { 4.0 } else { 2.0 } * gap(a + k as f64 * step))
        .sum();
    (gap(a) + inner + gap(b)) * step / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Steps;

    /// Raju's (1988) closed form for two 2PL curves (logistic metric): the signed area
    /// b_f − b_r, the unsigned |2(a_f − a_r)/(a_r a_f) · ln(1 + e^(a_r a_f (b_f − b_r)/(a_f −
    /// a_r))) − (b_f − b_r)|, or |b_f − b_r| for equal slopes.
    fn raju(r: (f64, f64), f: (f64, f64)) -> Areas {
        let ((ar, br), (af, bf)) = (r, f);
        let shift = bf - br;
        let unsigned = if ar == af {
            shift.abs()
        } else {
            let k = 2.0 * (af - ar) / (ar * af);
            (k * (ar * af * shift / (af - ar)).exp().ln_1p() - shift).abs()
        };
        Areas {
            signed: shift,
            unsigned,
        }
    }

    #[test]
    fn two_pl_areas_are_rajus() {
        for (r, f) in [
            ((1.2, 0.3), (1.2, 0.9)),
            ((1.0, -0.5), (0.5, -0.5)),
            ((0.3, 1.0), (2.5, -1.0)),
            ((1.7, 0.0), (0.9, 0.4)),
        ] {
            let ours = areas(
                &ItemParams::from_irt(r.0, r.1, 0.0),
                &ItemParams::from_irt(f.0, f.1, 0.0),
            );
            let want = raju(r, f);
            assert!(
                (ours.signed - want.signed).abs() < 1e-9,
                "{r:?} {f:?}: {ours:?} against {want:?}"
            );
            assert!(
                (ours.unsigned - want.unsigned).abs() < 1e-9,
                "{r:?} {f:?}: {ours:?} against {want:?}"
            );
        }
    }

    /// A graded item's expected score is the sum of its cumulative curves, so its signed area
    /// is the sum of its thresholds' shifts; with equal slopes and every threshold shifted the
    /// same way, the unsigned area is the same.
    #[test]
    fn a_graded_items_signed_area_is_its_thresholds_shift() {
        let graded = |a: f64, b: &[f64]| {
            let d: Vec<f64> = b.iter().map(|b| -a * b).collect();
            ItemParams::in_categories(Steps::Graded, a, &d).unwrap()
        };
        let reference = graded(1.1, &[-1.0, 0.0, 1.2]);
        let focal = graded(1.1, &[-0.7, 0.4, 1.3]);
        let ours = areas(&reference, &focal);
        assert!((ours.signed - 0.8).abs() < 1e-9, "{ours:?}");
        assert!((ours.unsigned - 0.8).abs() < 1e-9, "{ours:?}");
        let crossing = areas(&reference, &graded(0.6, &[-1.0, 0.0, 1.2]));
        assert!(
            crossing.signed.abs() < 1e-9 && crossing.unsigned > 0.1,
            "{crossing:?}"
        );
    }
}
