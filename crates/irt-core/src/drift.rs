//! Anchor drift screening: does each anchor still behave as its stored parameters say, once the
//! new calibration is on the anchors' scale? Each anchor is judged by its own precision, by
//! Lord's χ² on its displacement in (ln a, b) on the anchors' scale:
//! - an anchor held at its stored values (fixed linking): the score (Lagrange multiplier) test.
//!   The final E-step, made at those values, spreads its answers over the latent grid; the
//!   gradient g and information I of its log-likelihood there give the displacement I⁻¹g the
//!   answers pull it by, with covariance I⁻¹. I comes from the expected counts, which know θ
//!   exactly: it is at least the observed information, so the test errs towards keeping it;
//!   and no estimate of the anchor is needed (thin data cannot send it to infinity).
//! - an estimated anchor (separate linking): its linked estimate less the stored values, with
//!   the estimate's cross-product covariance (the Wald form of the same test).
//! - otherwise (an anchor the purification of a fixed fit left out, or a separate fit without
//!   standard errors) the one-step displacement from its expected counts, made at its
//!   estimate: its complete-data covariance is too small where θ is known poorly (few answers
//!   per person), so that test errs towards flagging.
//!
//! The displacement is taken less the median displacement of all anchors (what a drifted set
//! does to the link or to the latent distribution moves every anchor alike), its covariance
//! plus the stored values' own (when the bank records their SEs), and the anchor is flagged
//! when the test's p-value is at most the two-sided level of the threshold (1 % at 2.576).
//! docs/accuracy.md measures it against the robust z it replaced. The weighted area between
//! the stored and the new expected score (P of a right/wrong item) is recorded too:
//! sqrt(∫ (E_new − E_stored)² dG) over the population on the anchors' scale. An anchor in
//! categories is screened alike in (ln a, δ), δ its location (`pull`).

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::deriv::Deriv;
use crate::linalg::{det_2x2, inverse_2x2, positive_definite_2x2};
use crate::model::{ItemParams, ItemPoint, Steps, MAX_COORDS};
use crate::mstep::ItemCounts;
use crate::names::named;
use crate::quadrature::{gauss_hermite, Latent};
use crate::stats::{median, robust_spread, two_sided_level};

/// The default threshold: the two-sided 1 % point of the normal.
pub const DEFAULT_THRESHOLD: f64 = 2.576;
/// Purification relinks (and with fixed anchors refits) until the flagged set repeats, at most
/// this many times.
pub const MAX_ITERATIONS: usize = 10;
/// A median (and the robust z's quartiles) needs this many displacements to mean anything.
const MIN_CENTRED: usize = 4;

/// What a run does about drifted anchors (`anchor_drift`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorDrift {
    /// Screen, drop the flagged anchors from the link, relink, until nothing changes.
    Purify,
    /// Screen and record, but link with every anchor.
    Flag,
    Off,
}

named!(AnchorDrift, "anchor_drift", "anchor_drift", "values", {
    Purify => "purify",
    Flag => "flag",
    Off => "off",
});

/// Where the window's answers pull an anchor from its stored parameters, on the anchors'
/// scale, in (ln a, b), and the covariance of that displacement (zero in ln a where the model
/// shares its slope).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pull {
    pub step: [f64; 2],
    pub covariance: [[f64; 2]; 2],
}

impl Pull {
    /// The pull, where every number of it is finite.
    fn finite(step: [f64; 2], covariance: [[f64; 2]; 2]) -> Option<Self> {
        let finite = step
            .iter()
            .chain(covariance.iter().flatten())
            .all(|x| x.is_finite());
        finite.then_some(Self { step, covariance })
    }
}

/// The pull on an item from its expected `counts`: one Newton step I⁻¹g from `stored` (on the
/// fit's own scale) and its covariance I⁻¹; `slope`
/// is the link's A (θ_anchor = A·θ_fit + B), which turns the fit's b into the anchors'. None
/// where the counts carry no information (no answers, or none that tell a slope).
pub fn pull(counts: &ItemCounts, stored: &ItemParams, slopes: bool, slope: f64) -> Option<Pull> {
    let d = counts.log_lik(stored, false);
    let (grad, info, m) = match stored.steps() {
        None => {
            let (a, intercept) = (stored.slope(), stored.intercept());
            (
                [d.grad[0], d.grad[1]],
                [
                    [-d.hess[0][0], -d.hess[0][1]],
                    [-d.hess[1][0], -d.hess[1][1]],
                ],
                // The Jacobian of (ln a, b) = (ln a, −d/a) on the fit's scale, b then times A
                // on the anchors'.
                [[1.0 / a, 0.0], [slope * intercept / (a * a), -slope / a]],
            )
        }
        Some(steps) => {
            let (grad, info) = slope_and_location(&d, stored, steps);
            // ln a moves by a constant only; δ times A on the anchors' scale.
            (grad, info, [[1.0, 0.0], [0.0, slope]])
        }
    };
    let (step, cov) = if slopes {
        let inverse = invert(info)?;
        let step = [
            inverse[0][0] * grad[0] + inverse[0][1] * grad[1],
            inverse[1][0] * grad[0] + inverse[1][1] * grad[1],
        ];
        (step, inverse)
    } else {
        let info = info[1][1];
        if !(info > 0.0 && info.is_finite()) {
            return None;
        }
        ([0.0, grad[1] / info], [[0.0, 0.0], [0.0, 1.0 / info]])
    };
    let step = [
        m[0][0] * step[0] + m[0][1] * step[1],
        m[1][0] * step[0] + m[1][1] * step[1],
    ];
    let mut covariance = [[0.0; 2]; 2];
    for r in 0..2 {
        for c in 0..2 {
            covariance[r][c] = (0..2)
                .flat_map(|u| (0..2).map(move |v| (u, v)))
                .map(|(u, v)| m[r][u] * cov[u][v] * m[c][v])
                .sum();
        }
    }
    Pull::finite(step, covariance)
}

/// The gradient and information of an item in categories in (ln a, δ): its slope at fixed
/// thresholds, and a shift δ of every threshold together (its location, the mean of its
/// thresholds) — the 2-df form of a right/wrong item's (ln a, b). J the derivatives of
/// (a, d_1 … d_(K−1)) in them (∂/∂ln a: a and every d_k; ∂/∂δ: 0 and −a for a graded item,
/// −k·a for partial credit); gradient Jᵀg, information Jᵀ(−H)J.
fn slope_and_location(d: &Deriv, stored: &ItemParams, steps: Steps) -> ([f64; 2], [[f64; 2]; 2]) {
    let a = stored.slope();
    let mut jacobian = [[0.0; 2]; MAX_COORDS];
    jacobian[0] = [a, 0.0];
    for (k, &intercept) in (1..).zip(stored.intercepts()) {
        let shift = match steps {
            Steps::Graded => -a,
            Steps::PartialCredit => -a * k as f64,
        };
        jacobian[k] = [intercept, shift];
    }
    let n = stored.n_coords();
    let grad = std::array::from_fn(|c| (0..n).map(|i| jacobian[i][c] * d.grad[i]).sum());
    let info = std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            (0..n)
                .flat_map(|i| (0..n).map(move |k| (i, k)))
                .map(|(i, k)| -jacobian[i][r] * d.hess[i][k] * jacobian[k][c])
                .sum()
        })
    });
    (grad, info)
}

/// The displacement of an estimated anchor: `new` (its estimate on the anchors' scale) less
/// `stored` in (ln a, b), b the location of an item in categories, with the covariance of the
/// estimate's (a, b) on the fit's scale (`ParamCovariance::slope_and_location`), where its
/// slope was `fit_slope`, carried through the link's A (`slope`). None where the covariance is
/// not finite.
pub fn estimated_pull(
    stored: &ItemPoint,
    new: &ItemPoint,
    fit_slope: f64,
    covariance: &[[f64; 2]; 2],
    slopes: bool,
    slope: f64,
) -> Option<Pull> {
    let v = covariance;
    let (step, covariance) = if slopes {
        let ab = slope * v[0][1] / fit_slope;
        (
            [new.a.ln() - stored.a.ln(), new.b - stored.b],
            [
                [v[0][0] / (fit_slope * fit_slope), ab],
                [ab, slope * slope * v[1][1]],
            ],
        )
    } else {
        (
            [0.0, new.b - stored.b],
            [[0.0, 0.0], [0.0, slope * slope * v[1][1]]],
        )
    };
    Pull::finite(step, covariance)
}

/// The inverse of a positive definite 2×2 matrix with a finite determinant; None otherwise.
fn invert(m: [[f64; 2]; 2]) -> Option<[[f64; 2]; 2]> {
    (positive_definite_2x2(&m) && det_2x2(&m).is_finite()).then(|| inverse_2x2(&m))
}

/// What the screening knows of one anchor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    pub stored: ItemParams,
    /// The new estimate on the anchors' scale (linked, or with fixed anchors where the anchor
    /// would move if released).
    pub new: ItemParams,
    pub pull: Option<Pull>,
    /// Standard errors of the stored a and b, where the bank records them.
    pub stored_se: Option<[f64; 2]>,
}

/// One anchor's screening.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnchorCheck {
    pub stored: ItemPoint,
    pub new: ItemPoint,
    /// ln a_new − ln a_stored and b_new − b_stored.
    pub d_a: f64,
    pub d_b: f64,
    /// Standard errors of the displacement in ln a and b where the stored values are right:
    /// the answers' and the stored values' own. None without a pull, and for slopes a model
    /// shares between items (Rasch, 1PL).
    pub se_a: Option<f64>,
    pub se_b: Option<f64>,
    /// The standardised displacements: the pull, less the anchors' median, over its SE.
    pub z_a: Option<f64>,
    pub z_b: Option<f64>,
    /// The score test's χ² (df 2 with slopes, 1 without) and its p-value.
    pub chi2: Option<f64>,
    pub p_value: Option<f64>,
    pub area: f64,
    pub flagged: bool,
    /// The SEs of the new ln a and b from the window's answers alone (the pull's, without the
    /// stored values' or any widening): what the trend across runs standardises by.
    pub new_se: Option<[f64; 2]>,
}

/// How a screening judges a displacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriftRule {
    /// Each anchor by its own precision: the score test (the module's doc).
    ScoreTest,
    /// Every anchor by the spread of all displacements: (d − median) / (0.74·IQR), flagged at
    /// |z| ≥ threshold (Huynh & Meyer's robust z, pg_irt's rule before the score test). Kept
    /// for the accuracy study, which sets the two side by side.
    RobustZ,
}

impl DriftRule {
    pub fn name(self) -> &'static str {
        match self {
            Self::ScoreTest => "score_test",
            Self::RobustZ => "robust_z",
        }
    }
}

/// Screens every anchor by `rule`; `population` is the latent distribution on the anchors'
/// scale, `slopes` whether the model estimates a slope per item (otherwise a is not screened),
/// and `threshold` the |z| whose two-sided level a p-value must reach to flag.
pub fn screen(
    anchors: &[Evidence],
    population: Latent,
    slopes: bool,
    threshold: f64,
    rule: DriftRule,
) -> Vec<AnchorCheck> {
    let mut checks: Vec<AnchorCheck> = anchors
        .iter()
        .map(|e| {
            let (stored, new) = (e.stored.irt(), e.new.irt());
            AnchorCheck {
                stored,
                new,
                d_a: new.a.ln() - stored.a.ln(),
                d_b: new.b - stored.b,
                se_a: None,
                se_b: None,
                z_a: None,
                z_b: None,
                chi2: None,
                p_value: None,
                area: area_between(&e.stored, &e.new, population),
                flagged: false,
                new_se: e
                    .pull
                    .map(|p| [p.covariance[0][0].sqrt(), p.covariance[1][1].sqrt()]),
            }
        })
        .collect();
    match rule {
        DriftRule::ScoreTest => score_test(&mut checks, anchors, slopes, threshold),
        DriftRule::RobustZ => robust_z(&mut checks, slopes, threshold),
    }
    checks
}

/// The score test of every anchor with a pull. Each pull is taken less the median pull: what a
/// drifted set of anchors does to the link, or to the latent distribution, moves every anchor
/// alike. (A robust line in the stored b, for an error in the link's A, cost a tenth of the
/// power on the seed's shape and kept no more false alarms away; docs/accuracy.md.)
/// Its covariance is widened, coordinate by coordinate, by the robust spread of the
/// standardised pulls where that exceeds 1: errors in the stored values that the bank does not
/// record spread the pulls more than their SEs say, and are not drift. (An additive spread
/// τ², the same for every anchor, fits such errors better, but the drifted anchors inflate
/// it: on the seed's shape it cost a fifth of the power for a logit's drift; docs/accuracy.md.)
fn score_test(checks: &mut [AnchorCheck], anchors: &[Evidence], slopes: bool, threshold: f64) {
    let tested: Vec<(usize, [f64; 2], [[f64; 2]; 2])> = anchors
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let pull = e.pull?;
            let mut cov = pull.covariance;
            if let Some([se_a, se_b]) = e.stored_se {
                // The SE of ln a is the SE of a over a.
                cov[0][0] += (se_a / e.stored.slope()).powi(2);
                cov[1][1] += se_b * se_b;
            }
            Some((i, pull.step, cov))
        })
        .collect();
    let enough = tested.len() >= MIN_CENTRED;
    let centre = |k: usize| {
        if enough {
            median(tested.iter().map(|t| t.1[k]).collect())
        } else {
            0.0
        }
    };
    let centre = [if slopes { centre(0) } else { 0.0 }, centre(1)];
    let centred = |step: &[f64; 2]| [step[0] - centre[0], step[1] - centre[1]];
    let widen = |k: usize| {
        let z: Vec<f64> = tested
            .iter()
            .map(|(_, step, cov)| centred(step)[k] / cov[k][k].sqrt())
            .collect();
        if enough {
            robust_spread(z).max(1.0)
        } else {
            1.0
        }
    };
    let widen = [if slopes { widen(0) } else { 1.0 }, widen(1)];
    let level = two_sided_level(threshold);
    for (i, step, mut cov) in tested {
        for (r, row) in cov.iter_mut().enumerate() {
            for (c, x) in row.iter_mut().enumerate() {
                *x *= widen[r] * widen[c];
            }
        }
        let v = centred(&step);
        let check = &mut checks[i];
        let (chi2, df) = if slopes {
            let Some(inverse) = invert(cov) else {
                continue;
            };
            let q = v[0] * (inverse[0][0] * v[0] + inverse[0][1] * v[1])
                + v[1] * (inverse[1][0] * v[0] + inverse[1][1] * v[1]);
            check.se_a = Some(cov[0][0].sqrt());
            check.z_a = Some(v[0] / cov[0][0].sqrt());
            (q.max(0.0), 2.0)
        } else {
            (v[1] * v[1] / cov[1][1], 1.0)
        };
        let p = ChiSquared::new(df).expect("df 1 or 2").sf(chi2);
        check.se_b = Some(cov[1][1].sqrt());
        check.z_b = Some(v[1] / cov[1][1].sqrt());
        check.chi2 = Some(chi2);
        check.p_value = Some(p);
        check.flagged = p <= level;
    }
}

/// The robust z of every displacement, and the flags it sets.
fn robust_z(checks: &mut [AnchorCheck], slopes: bool, threshold: f64) {
    let z = |d: Vec<f64>| {
        let (centre, spread) = (median(d.clone()), robust_spread(d.clone()));
        let usable = d.len() >= MIN_CENTRED && spread > 0.0;
        d.into_iter()
            .map(|x| usable.then(|| (x - centre) / spread))
            .collect::<Vec<_>>()
    };
    let z_a = z(checks.iter().map(|c| c.d_a).collect());
    let z_b = z(checks.iter().map(|c| c.d_b).collect());
    let beyond = |z: Option<f64>| z.is_some_and(|z| z.abs() >= threshold);
    for ((check, za), zb) in checks.iter_mut().zip(z_a).zip(z_b) {
        check.z_a = za.filter(|_| slopes);
        check.z_b = zb;
        check.flagged = beyond(check.z_a) || beyond(zb);
    }
}

/// sqrt(∫ (E_new − E_stored)² dG), E the expected score (P of a right/wrong item), G the
/// population on the anchors' scale, by the linking's
/// Gauss–Hermite rule (equateIRT's 30 points, computed once).
fn area_between(stored: &ItemParams, new: &ItemParams, population: Latent) -> f64 {
    let (nodes, weights) = gauss_hermite();
    let sd = population.variance.sqrt();
    nodes
        .iter()
        .zip(weights)
        .map(|(&z, &w)| {
            let theta = population.mean + sd * z;
            w * (new.expected_score(theta) - stored.expected_score(theta)).powi(2)
        })
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::normal_quadrature;
    use crate::quadrature::Grid;
    use crate::simulate::Rng;
    use ndarray::ArrayView1;

    fn point(a: f64, b: f64) -> ItemPoint {
        ItemPoint { a, b, c: 0.0 }
    }

    fn curve(p: &ItemPoint, theta: f64) -> f64 {
        ItemParams::from(*p).prob(theta)
    }

    /// The screening at the default threshold over the standard population.
    fn screened(evidence: &[Evidence], slopes: bool, rule: DriftRule) -> Vec<AnchorCheck> {
        screen(evidence, Latent::STANDARD, slopes, DEFAULT_THRESHOLD, rule)
    }

    /// Complete data: `n` persons at nodes drawn from N(0, 1), each answering an item of
    /// `truth`; right and wrong answers counted per node (as an E-step that knew θ would).
    fn answers(truth: ItemPoint, n: usize, rng: &mut Rng, nodes: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (mut right, mut wrong) = (vec![0.0; nodes.len()], vec![0.0; nodes.len()]);
        let step = nodes[1] - nodes[0];
        for _ in 0..n {
            let theta = rng.normal();
            let q = (((theta - nodes[0]) / step).round().max(0.0) as usize).min(nodes.len() - 1);
            if rng.uniform() < curve(&truth, nodes[q]) {
                right[q] += 1.0;
            } else {
                wrong[q] += 1.0;
            }
        }
        (right, wrong)
    }

    fn pull_of(
        counts: &(Vec<f64>, Vec<f64>),
        nodes: &[f64],
        stored: ItemPoint,
        slope: f64,
    ) -> Pull {
        let counts = ItemCounts::dichotomous(
            ArrayView1::from(&counts.0),
            ArrayView1::from(&counts.1),
            nodes,
        );
        pull(&counts, &stored.into(), true, slope).unwrap()
    }

    /// The pull is one Newton step of the item's log-likelihood from the stored values, and
    /// its covariance the inverse of the information there, carried to (ln a, b): on counts
    /// that follow the truth exactly, the step from a stored b half a logit off is about the
    /// half logit back, and from the truth itself exactly nothing.
    #[test]
    fn the_pull_steps_from_the_stored_values_to_the_answers() {
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        let nodes = grid.nodes();
        let truth = point(1.3, 0.4);
        let w = Grid::log_weights_at(nodes, Latent::STANDARD);
        let exact: (Vec<f64>, Vec<f64>) = (
            nodes
                .iter()
                .zip(&w)
                .map(|(&t, &lw)| 1000.0 * lw.exp() * curve(&truth, t))
                .collect(),
            nodes
                .iter()
                .zip(&w)
                .map(|(&t, &lw)| 1000.0 * lw.exp() * (1.0 - curve(&truth, t)))
                .collect(),
        );
        let at_truth = pull_of(&exact, nodes, truth, 1.0);
        assert!(at_truth.step.iter().all(|s| s.abs() < 1e-9), "{at_truth:?}");
        let off = pull_of(&exact, nodes, point(1.3, 0.9), 1.0);
        assert!(
            (off.step[1] + 0.5).abs() < 0.05 && off.step[0].abs() < 0.1,
            "{off:?}"
        );
        // The information of a 2PL item in (a, d) is Σ n P Q (θ, 1)(θ, 1)'; b = −d/a.
        let (mut i_aa, mut i_ad, mut i_dd) = (0.0, 0.0, 0.0);
        for (&t, &lw) in nodes.iter().zip(&w) {
            let pq = 1000.0 * lw.exp() * curve(&truth, t) * (1.0 - curve(&truth, t));
            (i_aa, i_ad, i_dd) = (i_aa + pq * t * t, i_ad + pq * t, i_dd + pq);
        }
        let det = i_aa * i_dd - i_ad * i_ad;
        let (v_aa, v_ad, v_dd) = (i_dd / det, -i_ad / det, i_aa / det);
        let (a, d) = (truth.a, -truth.a * truth.b);
        let var_b = (d * d * v_aa / a.powi(4)) - 2.0 * d * v_ad / a.powi(3) + v_dd / (a * a);
        assert!((at_truth.covariance[1][1] - var_b).abs() < 1e-12 * var_b.max(1.0));
        assert!((at_truth.covariance[0][0] - v_aa / (a * a)).abs() < 1e-12);
        // On a fit whose scale is the anchors' stretched by A = 2, the same answers pull b
        // twice as far on the anchors' scale, and ln a as far as before.
        let stretched = pull_of(&exact, nodes, point(1.3, 0.9), 2.0);
        assert!((stretched.step[1] - 2.0 * off.step[1]).abs() < 1e-12);
        assert!((stretched.covariance[1][1] - 4.0 * off.covariance[1][1]).abs() < 1e-12);
    }

    /// An item in categories: on counts that follow a graded and a partial credit item exactly,
    /// the pull from the truth is nothing, from thresholds stored 0.1 too high about the 0.1
    /// back in δ, from a slope stored 1.1 times too steep about ln 1.1 back in ln a (one Newton
    /// step: close, not exact); and δ stretches with the link's A.
    #[test]
    fn the_pull_of_an_item_in_categories_moves_its_slope_and_location() {
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        let nodes = grid.nodes();
        let w = Grid::log_weights_at(nodes, Latent::STANDARD);
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let b = [-1.0, 0.2, 1.1];
            let truth = ItemParams::from_thresholds(steps, 1.2, &b).unwrap();
            let mut rows = vec![vec![0.0; nodes.len()]; 4];
            let mut logs = [0.0; 4];
            for (q, (&t, &lw)) in nodes.iter().zip(&w).enumerate() {
                truth.log_category_probs(t, &mut logs);
                for (row, l) in rows.iter_mut().zip(&logs) {
                    row[q] = 2000.0 * (lw + l).exp();
                }
            }
            let counts = ItemCounts::in_categories(rows.iter().map(ArrayView1::from), nodes);
            let pull_from = |a: f64, shift: f64, link: f64| {
                let moved: Vec<f64> = b.iter().map(|x| x + shift).collect();
                let stored = ItemParams::from_thresholds(steps, a, &moved).unwrap();
                pull(&counts, &stored, true, link).unwrap()
            };
            let at_truth = pull_from(1.2, 0.0, 1.0);
            assert!(at_truth.step.iter().all(|s| s.abs() < 1e-9), "{at_truth:?}");
            assert!(at_truth.covariance[0][0] > 0.0 && at_truth.covariance[1][1] > 0.0);
            let high = pull_from(1.2, 0.1, 1.0);
            assert!(
                (high.step[1] + 0.1).abs() < 0.01 && high.step[0].abs() < 0.02,
                "{steps:?} {high:?}"
            );
            let steep = pull_from(1.32, 0.0, 1.0);
            assert!(
                (steep.step[0] + 1.1f64.ln()).abs() < 0.01 && steep.step[1].abs() < 0.01,
                "{steps:?} {steep:?}"
            );
            let stretched = pull_from(1.2, 0.1, 2.0);
            assert!((stretched.step[1] - 2.0 * high.step[1]).abs() < 1e-12);
            assert!((stretched.covariance[1][1] - 4.0 * high.covariance[1][1]).abs() < 1e-12);
            // A model whose slopes are shared moves the location only.
            let stored = ItemParams::from_thresholds(steps, 1.2, &[-0.9, 0.3, 1.2]).unwrap();
            let shared = pull(&counts, &stored, false, 1.0).unwrap();
            assert!(
                shared.step[0] == 0.0 && (shared.step[1] + 0.1).abs() < 0.01,
                "{shared:?}"
            );
        }
    }

    /// Under the null the score test of complete data is χ² with 2 df: over 4,000 items
    /// answered 300 times each by persons of known θ, its 1 % level is kept (within sampling
    /// error: 40 expected, 2.5 SD is 16), and a drift of one logit in b is found.
    #[test]
    fn the_score_test_keeps_its_level_and_finds_a_logit_of_drift() {
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        let nodes = grid.nodes();
        let mut rng = Rng::new(24);
        let level = two_sided_level(DEFAULT_THRESHOLD);
        let (mut alarms, mut hits) = (0, 0);
        for k in 0..4000 {
            let truth = point((0.3 * rng.normal()).exp(), rng.normal());
            let counts = answers(truth, 300, &mut rng, nodes);
            let stored = if k % 10 == 0 {
                point(truth.a, truth.b + 1.0)
            } else {
                truth
            };
            let pull = pull_of(&counts, nodes, stored, 1.0);
            let mut check = screen(
                &[Evidence {
                    stored: stored.into(),
                    new: stored.into(),
                    pull: Some(pull),
                    stored_se: None,
                }],
                Latent::STANDARD,
                true,
                DEFAULT_THRESHOLD,
                DriftRule::ScoreTest,
            )[0];
            assert!(check.p_value.unwrap() >= 0.0 && check.chi2.unwrap() >= 0.0);
            if k % 10 == 0 {
                hits += check.flagged as usize;
            } else {
                alarms += check.flagged as usize;
            }
            // Stored SEs the size of the answers' widen the test.
            let se = [check.se_a.unwrap() * stored.a, check.se_b.unwrap()];
            let (before, se_b) = (check.chi2.unwrap(), check.se_b.unwrap());
            check = screen(
                &[Evidence {
                    stored: stored.into(),
                    new: stored.into(),
                    pull: Some(pull),
                    stored_se: Some(se),
                }],
                Latent::STANDARD,
                true,
                DEFAULT_THRESHOLD,
                DriftRule::ScoreTest,
            )[0];
            assert!((check.se_b.unwrap() - se_b * 2f64.sqrt()).abs() < 1e-12);
            assert!(check.chi2.unwrap() <= before);
        }
        let expected = level * 3600.0;
        assert!(
            (alarms as f64 - expected).abs() < 2.5 * expected.sqrt(),
            "{alarms} false alarms of 3600, {expected:.0} expected"
        );
        assert!(hits >= 380, "{hits} of 400 drifted items flagged");
    }

    /// The median displacement is taken out: a shift common to every anchor (a link a drifted
    /// set pulled) flags none of them, and one anchor that moved alone is still found.
    #[test]
    fn a_shift_of_every_anchor_is_the_links_and_one_anchors_own_is_drift() {
        let pull = |step_b: f64| Pull {
            step: [0.0, step_b],
            covariance: [[0.01, 0.0], [0.0, 0.01]],
        };
        let mut evidence: Vec<Evidence> = (0..10)
            .map(|i| Evidence {
                stored: point(1.0, -1.0 + 0.2 * i as f64).into(),
                new: point(1.0, -1.0 + 0.2 * i as f64).into(),
                pull: Some(pull(0.5 + 0.01 * (i % 3) as f64)),
                stored_se: None,
            })
            .collect();
        evidence[3].pull = Some(pull(1.5));
        let checks = screened(&evidence, true, DriftRule::ScoreTest);
        let flagged: Vec<usize> = (0..10).filter(|&i| checks[i].flagged).collect();
        assert_eq!(flagged, [3]);
        assert!(
            (checks[3].z_b.unwrap() - 9.9).abs() < 1e-9,
            "{:?}",
            checks[3]
        );
        // Without slopes only b is tested, with one degree of freedom: |z_b| ≥ 2.576 exactly.
        let checks = screened(&evidence, false, DriftRule::ScoreTest);
        assert!(checks.iter().all(|c| c.z_a.is_none() && c.se_a.is_none()));
        assert!(checks
            .iter()
            .all(|c| c.flagged == (c.z_b.unwrap().abs() >= DEFAULT_THRESHOLD)));
        // An anchor without a pull (no answers in the fit) is recorded, neither tested nor flagged.
        evidence[3].pull = None;
        let checks = screened(&evidence, true, DriftRule::ScoreTest);
        assert!(checks[3].z_b.is_none() && checks[3].p_value.is_none() && !checks[3].flagged);
    }

    #[test]
    fn the_robust_z_flags_one_shifted_anchor_among_noisy_ones() {
        let noise = [
            0.03, -0.05, 0.01, 0.04, -0.02, 0.0, -0.04, 0.02, 0.05, -0.01,
        ];
        let evidence: Vec<Evidence> = (0..10)
            .zip(noise)
            .map(|(i, e)| {
                let stored = point(1.0 + 0.1 * i as f64, -1.0 + 0.2 * i as f64);
                let shift = if i == 3 { 1.0 } else { 0.0 };
                Evidence {
                    stored: stored.into(),
                    new: point(stored.a * (1.0 + e), stored.b + e + shift).into(),
                    pull: None,
                    stored_se: None,
                }
            })
            .collect();
        let checks = screened(&evidence, true, DriftRule::RobustZ);
        let flagged: Vec<usize> = (0..10).filter(|&i| checks[i].flagged).collect();
        assert_eq!(flagged, [3]);
        assert!(checks[3].z_b.unwrap() > 10.0);
        // Its curve moved by a logit in b: a large area; the others' are small.
        assert!(checks[3].area > 0.1 && checks[0].area < 0.02, "{checks:?}");
        // Too few anchors for quartiles: no z.
        let checks = screened(&evidence[..3], true, DriftRule::RobustZ);
        assert!(checks
            .iter()
            .all(|c| c.z_a.is_none() && c.z_b.is_none() && !c.flagged));
    }

    #[test]
    fn the_area_is_zero_for_the_same_curve_and_the_rms_distance_otherwise() {
        let p = point(1.2, 0.3);
        assert_eq!(area_between(&p.into(), &p.into(), Latent::STANDARD), 0.0);
        // A constant lower asymptote shift of 0.1 moves the curve by 0.1·(1 − P).
        let q = ItemPoint { c: 0.1, ..p };
        let (nodes, weights) = normal_quadrature(200);
        let exact: f64 = nodes
            .iter()
            .zip(&weights)
            .map(|(&t, &w)| w * (0.1 * (1.0 - curve(&p, t))).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((area_between(&p.into(), &q.into(), Latent::STANDARD) - exact).abs() < 1e-10);
    }

    #[test]
    fn anchor_drift_names_parse() {
        assert_eq!(AnchorDrift::parse(" Purify ").unwrap(), AnchorDrift::Purify);
        assert_eq!(AnchorDrift::parse("off").unwrap().name(), "off");
        assert!(AnchorDrift::parse("sometimes")
            .unwrap_err()
            .to_string()
            .contains("purify, flag, off"));
    }
}
