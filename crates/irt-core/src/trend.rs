//! Trends across runs: a CUSUM over each item's estimates, run after run, that catches a drift
//! too slow for one night's screening to see.
//!
//! The CUSUM adds up the item's standardised *change* since its previous run, not its distance
//! from a target: nightly windows overlap (a 60-day window shares 59 days with the night
//! before), so two runs' estimates share most of their answers and a distance from a target
//! would carry one chance deviation through every run of a window. The change between two runs
//! is what the answers that arrived and left make of it; its variance is
//! se_t² + se_p² − 2ρ·se_t·se_p, ρ = n_shared / √(n_t·n_p) the share of answers the two
//! estimates have in common, n_shared taken as the previous run's answers in the part of its
//! window the new one still covers (its answers spread evenly over its window: an item whose
//! use is growing shares fewer, which widens the variance; an item whose use shrinks shares at
//! most all of the new run's). Standardised so, successive changes are nearly independent,
//! whatever the overlap, and a CUSUM's tables apply: the sum of k runs' changes is the change
//! over those runs, so a CUSUM on changes asks whether an item moved by more than
//! (k·REFERENCE + DECISION) of the change's SE over any k runs — a steady drift of more than
//! REFERENCE·√2·se/√m per run (m runs to a window) ends in an alarm, a stable item's
//! fluctuations do not.
//!
//! Each item has four one-sided CUSUMs, up and down in b and in ln a (ln a only where the model
//! gives each item a slope): S = max(0, S_prev + z − REFERENCE) and S = max(0, S_prev − z −
//! REFERENCE). The item alarms while any of them exceeds DECISION. REFERENCE and DECISION were
//! chosen by simulation (`trend_worlds`, docs/accuracy.md): with them about 1 in 100 stable
//! items alarms within 365 nightly runs (the average run length is over 15,000 runs), and a
//! drift of 0.05 logit per run in b is caught within the runs docs/accuracy.md tabulates.

/// The CUSUM's reference value k, in SEs of a run's change.
pub const REFERENCE: f64 = 0.25;
/// The CUSUM's decision interval h, in SEs of a run's change.
pub const DECISION: f64 = 18.0;

/// An item's estimate in one run on the anchors' scale, each with its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// ln a and its SE, where the model gives each item a slope.
    pub log_a: Option<(f64, f64)>,
    pub b: (f64, f64),
    /// The item's answers in the run's window.
    pub answers: u64,
}

/// The four one-sided sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cusum {
    pub a_up: f64,
    pub a_down: f64,
    pub b_up: f64,
    pub b_down: f64,
}

impl Cusum {
    /// The largest of the four sums.
    pub fn max(&self) -> f64 {
        self.a_up.max(self.a_down).max(self.b_up).max(self.b_down)
    }

    pub fn alarm(&self) -> bool {
        self.max() > DECISION
    }
}

/// What the item's latest earlier trend row says.
#[derive(Clone, Debug, PartialEq)]
pub struct Previous {
    pub estimate: Estimate,
    pub cusum: Cusum,
    /// The runs the series holds.
    pub runs: u32,
    /// The model the item had then: a change of model starts a new series.
    pub model: String,
    /// The length of that run's window, in days.
    pub window_days: f64,
    /// How many days before this run's window ended that run's ended.
    pub days_before: f64,
}

/// The item's trend after this run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    pub estimate: Estimate,
    /// The standardised change since the previous run (None: a series' first run, or a window
    /// that has not moved).
    pub z_a: Option<f64>,
    pub z_b: Option<f64>,
    pub cusum: Cusum,
    pub runs: u32,
}

impl Trend {
    pub fn alarm(&self) -> bool {
        self.cusum.alarm()
    }
}

/// The trend after a run that estimated the item as `now`, under `model`, in a window of
/// `window_days`.
pub fn step(previous: Option<&Previous>, now: Estimate, model: &str, window_days: f64) -> Trend {
    let start = Trend {
        estimate: now,
        z_a: None,
        z_b: None,
        cusum: Cusum::default(),
        runs: 1,
    };
    let Some(p) = previous.filter(|p| p.model == model) else {
        return start;
    };
    let Some(rho) = shared_share(p, &now, window_days) else {
        // The window has not moved: nothing new to add, the series stands.
        return Trend {
            cusum: p.cusum,
            runs: p.runs,
            ..start
        };
    };
    let change = |(x, se): (f64, f64), (xp, sep): (f64, f64)| {
        let var = se * se + sep * sep - 2.0 * rho * se * sep;
        (var > 0.0 && var.is_finite()).then(|| (x - xp) / var.sqrt())
    };
    let z_b = change(now.b, p.estimate.b);
    let z_a = now
        .log_a
        .zip(p.estimate.log_a)
        .and_then(|(n, p)| change(n, p));
    let add = |s: f64, z: Option<f64>| z.map_or(s, |z| (s + z - REFERENCE).max(0.0));
    let c = &p.cusum;
    Trend {
        estimate: now,
        z_a,
        z_b,
        cusum: Cusum {
            a_up: add(c.a_up, z_a),
            a_down: add(c.a_down, z_a.map(|z| -z)),
            b_up: add(c.b_up, z_b),
            b_down: add(c.b_down, z_b.map(|z| -z)),
        },
        runs: p.runs + 1,
    }
}

/// ρ = n_shared / √(n_t·n_p): the previous run's answers in the part of its window this run's
/// still covers, at most this run's answers. None when the window has not moved.
fn shared_share(p: &Previous, now: &Estimate, window_days: f64) -> Option<f64> {
    if !(p.days_before > 0.0 && p.window_days > 0.0) {
        return None;
    }
    // Days before this run's end: the previous window is [before + its length, before], this
    // one [its length, 0].
    let covered = (window_days - p.days_before).clamp(0.0, p.window_days);
    let (n_p, n_t) = (p.estimate.answers as f64, now.answers as f64);
    let shared = (n_p * covered / p.window_days).min(n_t);
    Some(if n_p > 0.0 && n_t > 0.0 {
        shared / (n_p * n_t).sqrt()
    } else {
        0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(b: f64, answers: u64) -> Estimate {
        Estimate {
            log_a: Some((0.1, 0.05)),
            b: (b, 0.1),
            answers,
        }
    }

    fn previous(b: f64, days_before: f64) -> Previous {
        Previous {
            estimate: estimate(b, 600),
            cusum: Cusum {
                b_up: 1.0,
                ..Cusum::default()
            },
            runs: 3,
            model: "2PL".into(),
            window_days: 60.0,
            days_before,
        }
    }

    #[test]
    fn a_change_is_standardised_by_the_answers_the_runs_do_not_share() {
        // One day of sixty moved: ρ = 59/60, the change's SE 0.1·√(2/60).
        let t = step(Some(&previous(0.0, 1.0)), estimate(0.05, 600), "2PL", 60.0);
        let se = 0.1 * (2.0f64 / 60.0).sqrt();
        approx::assert_relative_eq!(t.z_b.unwrap(), 0.05 / se, max_relative = 1e-12);
        approx::assert_relative_eq!(
            t.cusum.b_up,
            1.0 + 0.05 / se - REFERENCE,
            max_relative = 1e-12
        );
        assert_eq!((t.cusum.b_down, t.runs), (0.0, 4));
        assert_eq!(t.z_a, Some(0.0));
        // Windows that do not overlap are independent.
        let t = step(Some(&previous(0.0, 60.0)), estimate(0.05, 600), "2PL", 60.0);
        approx::assert_relative_eq!(
            t.z_b.unwrap(),
            0.05 / (0.1 * 2f64.sqrt()),
            max_relative = 1e-12
        );
    }

    #[test]
    fn a_new_model_or_a_first_run_starts_a_series_and_a_still_window_keeps_it() {
        let fresh = step(Some(&previous(0.0, 1.0)), estimate(0.05, 600), "3PL", 60.0);
        assert_eq!(
            (fresh.runs, fresh.cusum, fresh.z_b),
            (1, Cusum::default(), None)
        );
        assert_eq!(step(None, estimate(0.0, 1), "2PL", 60.0).runs, 1);
        let still = step(Some(&previous(0.0, 0.0)), estimate(0.05, 600), "2PL", 60.0);
        assert_eq!((still.runs, still.cusum.b_up, still.z_b), (3, 1.0, None));
    }

    #[test]
    fn a_shrinking_item_shares_at_most_its_new_answers() {
        // 600 answers then 300 of them: the new estimate is the old one's subset, so the
        // change's variance is se_t² − se_p².
        let p = previous(0.0, 1.0);
        let now = Estimate {
            b: (0.05, 0.1 * 2f64.sqrt()),
            ..estimate(0.05, 300)
        };
        let t = step(Some(&p), now, "2PL", 60.0);
        approx::assert_relative_eq!(t.z_b.unwrap(), 0.05 / 0.1, max_relative = 1e-12);
    }
}
