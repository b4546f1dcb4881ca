//! Item histories with known truth for the trend CUSUM (`trend`): run after run, a window of the
//! last m runs' answers, the item's estimate from it, and the CUSUM's step. Two worlds:
//! - `Gaussian`: each run's answers move the estimate by a normal error of variance m·se², so
//!   the window's estimate has SE se exactly and shares (m − 1)/m of it with the run before; it
//!   is fast enough for average run lengths of thousands of runs, and chooses the constants;
//! - `Logistic`: each run brings answers of persons of known θ ~ N(0, 1) to a 2PL item, and the
//!   window's (a, b) are their maximum-likelihood estimate with its SEs from the information —
//!   the CUSUM on estimates and SEs as a calibration makes them, for the tests.
//!
//! The truth drifts in b by `drift` per run from run `drift_from` (0: never).

use crate::simulate::Rng;
use crate::trend::{step, Estimate, Previous};

/// An item's truth and how it is observed.
#[derive(Clone, Copy, Debug)]
pub struct History {
    /// Runs to a window (the window's days over the days between runs).
    pub runs_per_window: usize,
    /// The item's slope; its b starts at 0.
    pub a: f64,
    /// The SE of b from a full window (Gaussian world), or answers per run (logistic world,
    /// through `answers_per_run`).
    pub se_b: f64,
    pub answers_per_run: usize,
    /// Logits of b per run, from run `drift_from`.
    pub drift: f64,
    pub drift_from: usize,
}

/// Which world makes the estimates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    Gaussian,
    Logistic,
}

/// The first run (counted from the first full window) whose CUSUM exceeds `decision`, up to
/// `runs`; None if none did.
pub fn first_alarm(
    h: &History,
    world: World,
    decision: f64,
    runs: usize,
    rng: &mut Rng,
) -> Option<usize> {
    let m = h.runs_per_window;
    let mut window = Window::new(m);
    // The first window fills before the series starts.
    for t in 0..m - 1 {
        window.push(h, world, t, rng);
    }
    let mut previous: Option<Previous> = None;
    for run in 0..runs {
        let t = m - 1 + run;
        window.push(h, world, t, rng);
        let Some(estimate) = window.estimate(h, world) else {
            continue;
        };
        let trend = step(previous.as_ref(), estimate, "2PL", m as f64);
        if trend.cusum.max() > decision {
            return Some(run + 1);
        }
        previous = Some(Previous {
            estimate,
            cusum: trend.cusum,
            runs: trend.runs,
            model: "2PL".into(),
            window_days: m as f64,
            days_before: 1.0,
        });
    }
    None
}

/// The item's true b at run `t`.
fn truth(h: &History, t: usize) -> f64 {
    if h.drift_from > 0 && t >= h.drift_from {
        h.drift * (t - h.drift_from + 1) as f64
    } else {
        0.0
    }
}

/// The last m runs of what the world keeps of each.
struct Window {
    m: usize,
    /// Gaussian: each run's (b error, ln a error, true b); logistic: its answers (θ, right).
    runs: std::collections::VecDeque<Run>,
}

enum Run {
    Errors { b: f64, log_a: f64, truth: f64 },
    Answers(Vec<(f64, bool)>),
}

impl Window {
    fn new(m: usize) -> Self {
        Self {
            m,
            runs: std::collections::VecDeque::with_capacity(m + 1),
        }
    }

    fn push(&mut self, h: &History, world: World, t: usize, rng: &mut Rng) {
        let b = truth(h, t);
        self.runs.push_back(match world {
            World::Gaussian => Run::Errors {
                b: rng.normal(),
                log_a: rng.normal(),
                truth: b,
            },
            World::Logistic => Run::Answers(
                (0..h.answers_per_run)
                    .map(|_| {
                        let theta = rng.normal();
                        let p = 1.0 / (1.0 + (-h.a * (theta - b)).exp());
                        (theta, rng.uniform() < p)
                    })
                    .collect(),
            ),
        });
        if self.runs.len() > self.m {
            self.runs.pop_front();
        }
    }

    fn estimate(&self, h: &History, world: World) -> Option<Estimate> {
        let m = self.m as f64;
        match world {
            World::Gaussian => {
                let (mut eb, mut ea, mut truth) = (0.0, 0.0, 0.0);
                for r in &self.runs {
                    if let Run::Errors { b, log_a, truth: t } = r {
                        (eb, ea, truth) = (eb + b, ea + log_a, truth + t);
                    }
                }
                // ln a's SE: the b SE's share of a slope near 1.
                let se = h.se_b;
                Some(Estimate {
                    log_a: Some((h.a.ln() + se * ea / m.sqrt(), se)),
                    b: (truth / m + se * eb / m.sqrt(), se),
                    answers: 100 * self.m as u64,
                })
            }
            World::Logistic => {
                let answers: Vec<(f64, bool)> = self
                    .runs
                    .iter()
                    .filter_map(|r| match r {
                        Run::Answers(a) => Some(a.iter().copied()),
                        Run::Errors { .. } => None,
                    })
                    .flatten()
                    .collect();
                logistic_estimate(&answers, h.a)
            }
        }
    }
}

/// The 2PL's maximum-likelihood (a, b) from answers of persons of known θ, by Newton in
/// (a, d), logit = aθ + d, with the delta method's SEs of ln a and b = −d/a.
fn logistic_estimate(answers: &[(f64, bool)], start_a: f64) -> Option<Estimate> {
    let (mut a, mut d) = (start_a, 0.0);
    let mut info = [[0.0; 2]; 2];
    for _ in 0..50 {
        let (mut g, mut i) = ([0.0; 2], [[0.0; 2]; 2]);
        for &(theta, right) in answers {
            let p = 1.0 / (1.0 + (-(a * theta + d)).exp());
            let r = f64::from(u8::from(right)) - p;
            let w = p * (1.0 - p);
            g = [g[0] + r * theta, g[1] + r];
            i[0][0] += w * theta * theta;
            i[0][1] += w * theta;
            i[1][1] += w;
        }
        i[1][0] = i[0][1];
        let det = i[0][0] * i[1][1] - i[0][1] * i[1][0];
        if det <= 0.0 {
            return None;
        }
        let da = (i[1][1] * g[0] - i[0][1] * g[1]) / det;
        let dd = (i[0][0] * g[1] - i[1][0] * g[0]) / det;
        (a, d, info) = (a + da, d + dd, i);
        if da.abs().max(dd.abs()) < 1e-10 {
            break;
        }
    }
    let det = info[0][0] * info[1][1] - info[0][1] * info[1][0];
    let cov = [
        [info[1][1] / det, -info[0][1] / det],
        [-info[1][0] / det, info[0][0] / det],
    ];
    // b = −d/a: gradient (d/a², −1/a) in (a, d).
    let gb = [d / (a * a), -1.0 / a];
    let var_b =
        gb[0] * gb[0] * cov[0][0] + 2.0 * gb[0] * gb[1] * cov[0][1] + gb[1] * gb[1] * cov[1][1];
    (a > 0.0 && var_b > 0.0).then(|| Estimate {
        log_a: Some((a.ln(), cov[0][0].sqrt() / a)),
        b: (-d / a, var_b.sqrt()),
        answers: answers.len() as u64,
    })
}

/// The average run length to an alarm over `reps` histories, each cut at `cap` runs (a cut one
/// counts as `cap`, so the average is a lower bound), and how many were cut.
pub fn average_run_length(
    h: &History,
    world: World,
    decision: f64,
    reps: usize,
    cap: usize,
    seed: u64,
) -> (f64, usize) {
    let mut rng = Rng::new(seed);
    let (mut total, mut cut) = (0usize, 0usize);
    for _ in 0..reps {
        match first_alarm(h, world, decision, cap, &mut rng) {
            Some(run) => total += run,
            None => {
                total += cap;
                cut += 1;
            }
        }
    }
    (total as f64 / reps as f64, cut)
}
