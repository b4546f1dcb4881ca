//! One pass over the answers at the persons' θ: the residual sums of infit and outfit per item
//! and Zh per person.

use rayon::ThreadPool;

use crate::alloc;
use crate::error::Result;
use crate::exp::exp_nonpositive;
use crate::interrupt::Interrupt;
use crate::model::{ItemParams, MAX_CATEGORIES};
use crate::reduce::Leaves;
use crate::responses::Responses;
use crate::simd;

/// Wilson–Hilferty: mirt caps the SD of the mean square at its literal 1.4142 (not √2).
#[allow(clippy::approx_constant)]
const MAX_MEAN_SQUARE_SD: f64 = 1.4142;
/// Binomial variances below √1e-5 are raised to it in the mean squares, as mirt does.
const MIN_VARIANCE: f64 = 3.1622776601683795e-3;
/// Persons between two polls of the interrupt in the per-person passes.
const POLL_PERSONS: usize = 1_024;

/// One pass over the answers at the persons' θ: every item's residual sums (infit and outfit)
/// and every person's Zh, in fixed leaves of persons merged along a fixed tree, so that the sums
/// do not depend on the threads. Each answer's P, Q and log-odds come once for both.
pub(super) fn answer_fit(
    data: &Responses,
    leaves: &Leaves,
    items: &[ItemParams],
    thetas: &[f64],
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<(Vec<Residuals>, Vec<f64>)> {
    pool.install(|| {
        leaves.reduce(
            |persons| {
                let mut residuals =
                    alloc::filled(data.n_items(), Residuals::default(), "the infit sums")?;
                let mut zh = alloc::with_capacity(persons.len(), "the person fit")?;
                let mut at = Vec::new();
                for i in persons.clone() {
                    if (i - persons.start).is_multiple_of(POLL_PERSONS) {
                        interrupt.check()?;
                    }
                    let (answered, correct) = data.person(i);
                    at.clear();
                    alloc::grow(&mut at, answered.len(), "the person fit")?;
                    at.extend(answered.iter().map(|&j| {
                        let item = &items[j as usize];
                        Odds {
                            log_odds: item.slope() * thetas[i] + item.intercept(),
                            ..Odds::default()
                        }
                    }));
                    odds(&mut at);
                    let mut person = PersonFit::default();
                    for ((&j, &x), at) in answered.iter().zip(correct).zip(&at) {
                        let item = &items[j as usize];
                        if item.steps().is_some() {
                            let answer = CategoryAnswer::new(item, thetas[i], x);
                            residuals[j as usize].add_moments(answer.moments);
                            person.add_terms(answer.zh_terms);
                            continue;
                        }
                        let at = if !item.has_guessing() {
                            *at
                        } else {
                            Odds::with_guessing(item, thetas[i])
                        };
                        residuals[j as usize].add(at.p, x);
                        person.add(&at, x);
                    }
                    zh.push(person.lz());
                }
                Ok((residuals, zh))
            },
            |left, right| {
                let ((mut residuals, mut zh), (r, z)) = (left?, right?);
                for (a, b) in residuals.iter_mut().zip(&r) {
                    a.merge(b);
                }
                alloc::grow(&mut zh, z.len(), "the person fit")?;
                zh.extend(z);
                Ok((residuals, zh))
            },
        )
    })
}

/// An answer's P and Q at a person's θ and the log-odds log(P/Q), which Zh weighs the answer
/// by; without guessing (c = 0) that is the logit z = aθ + d itself.
#[derive(Clone, Copy, Debug, Default)]
struct Odds {
    log_odds: f64,
    p: f64,
    q: f64,
}

impl Odds {
    /// With a lower asymptote: Q from its logarithm, exact where P rounds to 1.
    fn with_guessing(item: &ItemParams, theta: f64) -> Self {
        let (log_p, log_q) = item.log_probs(theta);
        Self {
            log_odds: log_p - log_q,
            p: item.prob(theta),
            q: log_q.exp(),
        }
    }
}

simd::multiversion! {
/// P and Q from each answer's logit, taken as without guessing (answers with guessing are
/// recomputed by [`Odds::with_guessing`]): with e = exp(−|z|), the larger of the two is
/// 1/(1 + e) and the smaller e/(1 + e). No branch and no library call, so the loop vectorises.
fn odds(at: &mut [Odds]) {
    for at in at.iter_mut() {
        let e = exp_nonpositive(-at.log_odds.abs());
        let big = 1.0 / (1.0 + e);
        let small = e * big;
        let right = at.log_odds >= 0.0;
        at.p = if right { big } else { small };
        at.q = if right { small } else { big };
    }
}
}

/// The smallest category probability whose logarithm is taken from the probability itself: a
/// difference of curves known to ε, so to 1e-8 relatively.
const DIRECT_LOG: f64 = 1e-8;

/// An answer to an item in categories at a person's θ, from its category probabilities P_k:
/// the residual x − E X, the variance W = Σ (k − E X)² P_k and the fourth central moment
/// C = Σ (k − E X)⁴ P_k (Wright & Masters, as mirt's `itemfit` takes them), and Zh's terms
/// log P_x − Σ P_k log P_k and the variance of log P_X.
struct CategoryAnswer {
    moments: [f64; 3],
    zh_terms: [f64; 2],
}

impl CategoryAnswer {
    fn new(item: &ItemParams, theta: f64, x: u8) -> Self {
        let k = item.categories();
        // This runs once per answer: the probabilities and their logarithms directly, with a
        // transcendental function each, where every category is likely enough for its
        // difference of curves to keep eight digits; else the logarithms in their stable form.
        let (mut p, mut logs) = ([0.0; MAX_CATEGORIES], [0.0; MAX_CATEGORIES]);
        item.category_probs(theta, &mut p[..k]);
        if p[..k].iter().all(|&v| v >= DIRECT_LOG) {
            for (l, v) in logs.iter_mut().zip(&p[..k]) {
                *l = v.ln();
            }
        } else {
            item.log_category_probs(theta, &mut logs[..k]);
            for (v, l) in p.iter_mut().zip(&logs[..k]) {
                *v = l.exp();
            }
        }
        let mean: f64 = (0..k).map(|c| c as f64 * p[c]).sum();
        let central = |power: i32| (0..k).map(|c| (c as f64 - mean).powi(power) * p[c]).sum();
        // Categories with P = 0 add nothing to the mean log-likelihood (P log P → 0).
        let mean_log: f64 = (0..k).filter(|&c| p[c] > 0.0).map(|c| p[c] * logs[c]).sum();
        let var_log: f64 = (0..k)
            .filter(|&c| p[c] > 0.0)
            .map(|c| p[c] * (logs[c] - mean_log).powi(2))
            .sum();
        Self {
            moments: [f64::from(x) - mean, central(2), central(4)],
            zh_terms: [logs[usize::from(x)] - mean_log, var_log],
        }
    }
}

/// An item's sums over its answers at the persons' θ: R = x − P, W = P(1 − P) (at least √1e-5),
/// C = P(1 − P)((1 − P)³ + P³), the fourth central moment; an item in categories' from its
/// score's moments ([`CategoryAnswer`]).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Residuals {
    /// Σ R²/W
    outfit: f64,
    /// Σ C/W²
    outfit_moment: f64,
    /// Σ R²
    squared: f64,
    /// Σ W
    variance: f64,
    /// Σ (C − W²)
    infit_moment: f64,
    /// The answers.
    pub(super) n: f64,
}

impl Residuals {
    fn add(&mut self, p: f64, x: u8) {
        let raw = p * (1.0 - p);
        self.add_moments([f64::from(x) - p, raw, raw * ((1.0 - p).powi(3) + p.powi(3))]);
    }

    /// An answer's residual r, variance and fourth central moment c.
    fn add_moments(&mut self, [r, raw, c]: [f64; 3]) {
        let w = if raw * raw < MIN_VARIANCE * MIN_VARIANCE {
            MIN_VARIANCE
        } else {
            raw
        };
        self.outfit += r * r / w;
        self.outfit_moment += c / (w * w);
        self.squared += r * r;
        self.variance += w;
        self.infit_moment += c - w * w;
        self.n += 1.0;
    }

    fn merge(&mut self, o: &Self) {
        self.outfit += o.outfit;
        self.outfit_moment += o.outfit_moment;
        self.squared += o.squared;
        self.variance += o.variance;
        self.infit_moment += o.infit_moment;
        self.n += o.n;
    }

    /// The outfit mean square and its z.
    pub(super) fn outfit(&self) -> (f64, f64) {
        let n = self.n;
        let mean_square = self.outfit / n;
        let variance = self.outfit_moment / (n * n) - 1.0 / n;
        (mean_square, wilson_hilferty(mean_square, variance))
    }

    /// The infit mean square and its z.
    pub(super) fn infit(&self) -> (f64, f64) {
        let mean_square = self.squared / self.variance;
        let variance = self.infit_moment / (self.variance * self.variance);
        (mean_square, wilson_hilferty(mean_square, variance))
    }
}

/// The mean square's z by the cube root, with its SD capped as mirt does (a NaN stays NaN).
fn wilson_hilferty(mean_square: f64, variance: f64) -> f64 {
    let sd = variance.sqrt();
    let sd = if sd > MAX_MEAN_SQUARE_SD {
        MAX_MEAN_SQUARE_SD
    } else {
        sd
    };
    (mean_square.cbrt() - 1.0) * (3.0 / sd) + sd / 3.0
}

/// Zh's parts over a person's answers at their θ. The log-likelihood less its mean over the
/// answers the model would give is Σ (x − P) log(P/Q), and its variance Σ P Q log²(P/Q): the
/// logarithms of P and Q themselves cancel.
#[derive(Default)]
struct PersonFit {
    deviation: f64,
    variance: f64,
}

impl PersonFit {
    fn add(&mut self, at: &Odds, x: u8) {
        // x − P is Q for a right answer, exact where P rounds to 1.
        self.add_terms([
            if x == 1 { at.q } else { -at.p } * at.log_odds,
            at.p * at.q * at.log_odds * at.log_odds,
        ]);
    }

    /// An answer's log-likelihood less its mean, and its variance.
    fn add_terms(&mut self, [deviation, variance]: [f64; 2]) {
        self.deviation += deviation;
        self.variance += variance;
    }

    /// Zh (lz): the log-likelihood standardised.
    fn lz(&self) -> f64 {
        self.deviation / self.variance.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{respond, Rng};

    /// Infit, outfit and Zh by their definitions, from P alone and the logarithms of P and
    /// 1 − P, against the pass that gets them from each answer's log-odds: items with and
    /// without guessing, persons far in the tails, and the AVX2 and portable copies bit for bit.
    #[test]
    fn the_residual_pass_computes_the_definitions() {
        let mut items: Vec<ItemParams> = (0..12)
            .map(|j| ItemParams::from_irt(0.5 + 0.2 * j as f64, -2.0 + 0.35 * j as f64, 0.0))
            .collect();
        for j in [2, 7, 11] {
            items[j] = ItemParams::from_irt(items[j].slope(), 0.3, 0.15 + 0.01 * j as f64);
        }
        let mut rng = Rng::new(5);
        let (mut thetas, data) = respond(&mut rng, &items, 300, 9, 0.0, 1.5);
        thetas[0] = -9.0;
        thetas[1] = 40.0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let leaves = Leaves::new(&data, 7);
        let (wide, portable) = crate::simd::tests::both(|| {
            answer_fit(&data, &leaves, &items, &thetas, &pool, &Interrupt::never()).unwrap()
        });
        let bits = |r: &Residuals| [r.outfit, r.squared, r.variance].map(f64::to_bits);
        assert!(wide
            .0
            .iter()
            .zip(&portable.0)
            .all(|(a, b)| bits(a) == bits(b)));
        assert!(wide
            .1
            .iter()
            .zip(&portable.1)
            .all(|(a, b)| a.to_bits() == b.to_bits()));

        let (residuals, zh) = wide;
        let mut expected = vec![Residuals::default(); items.len()];
        for (i, &theta) in thetas.iter().enumerate() {
            let (answered, correct) = data.person(i);
            let (mut log_lik, mut mean, mut variance) = (0.0, 0.0, 0.0);
            for (&j, &x) in answered.iter().zip(correct) {
                let item = &items[j as usize];
                let p = item.prob(theta);
                let (log_p, log_q) = item.log_probs(theta);
                let q = log_q.exp();
                expected[j as usize].add(p, x);
                log_lik += if x == 1 { log_p } else { log_q };
                mean += p * log_p + q * log_q;
                variance += p * q * (log_p - log_q).powi(2);
            }
            let lz = (log_lik - mean) / variance.sqrt();
            approx::assert_relative_eq!(zh[i], lz, max_relative = 1e-9, epsilon = 1e-12);
        }
        for (ours, want) in residuals.iter().zip(&expected) {
            assert_eq!(ours.n, want.n);
            for (u, v) in [(ours.infit(), want.infit()), (ours.outfit(), want.outfit())] {
                approx::assert_relative_eq!(u.0, v.0, max_relative = 1e-12);
                approx::assert_relative_eq!(u.1, v.1, max_relative = 1e-9, epsilon = 1e-12);
            }
        }
    }
}
