//! Seeded simulation of answers under a 2PL or a graded response model, for recovery tests and
//! the benchmark's data sets: the same seed and shape give the same answers on every machine.

use crate::model::{ItemParams, Steps, MAX_CATEGORIES};
use crate::responses::Responses;

/// SplitMix64: small, seeded, good enough for simulation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }

    /// An answer to `item` at θ: right with probability P(θ) (one uniform, as ever), or a
    /// category by the inverse of its distribution.
    pub fn answer(&mut self, item: &ItemParams, theta: f64) -> u8 {
        let u = self.uniform();
        if item.steps().is_none() {
            return u8::from(u < item.prob(theta));
        }
        let k = item.categories();
        let mut logs = [0.0; MAX_CATEGORIES];
        item.log_category_probs(theta, &mut logs[..k]);
        let mut below = 0.0;
        for (x, l) in logs[..k - 1].iter().enumerate() {
            below += l.exp();
            if u < below {
                return x as u8;
            }
        }
        (k - 1) as u8
    }

    /// `k` distinct indices below `n`.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<u32> {
        let mut all: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = i + (self.next_u64() % (n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all.sort_unstable();
        all
    }
}

/// A simulated 2PL population: a ~ lognormal(0, 0.3), b ~ N(0, 1),
/// θ ~ N(mean, sd²); each person answers `per_person` random items of `n_items`.
pub struct Simulation {
    pub items: Vec<ItemParams>,
    pub thetas: Vec<f64>,
    pub data: Responses,
}

pub fn simulate(
    seed: u64,
    n_persons: usize,
    n_items: usize,
    per_person: usize,
    mean: f64,
    sd: f64,
) -> Simulation {
    let mut rng = Rng::new(seed);
    let items = draw_items(&mut rng, n_items);
    let (thetas, data) = respond(&mut rng, &items, n_persons, per_person, mean, sd);
    Simulation {
        items,
        thetas,
        data,
    }
}

/// `n` 2PL items, a ~ lognormal(0, 0.3) and b ~ N(0, 1), each drawing its a before its b.
pub fn draw_items(rng: &mut Rng, n: usize) -> Vec<ItemParams> {
    (0..n)
        .map(|_| ItemParams::from_irt((0.3 * rng.normal()).exp(), rng.normal(), 0.0))
        .collect()
}

/// A simulated graded response population, items in `categories` categories: a ~ lognormal(0,
/// 0.3), an item's location ~ N(0, 1) with its thresholds 0.8 apart around it, θ ~ N(0, 1).
pub fn simulate_graded(
    seed: u64,
    n_persons: usize,
    n_items: usize,
    per_person: usize,
    categories: usize,
) -> Simulation {
    let mut rng = Rng::new(seed);
    let items: Vec<ItemParams> = (0..n_items)
        .map(|_| {
            let (a, location) = ((0.3 * rng.normal()).exp(), rng.normal());
            let d: Vec<f64> = (1..categories)
                .map(|m| -a * (location + 0.8 * (m as f64 - categories as f64 / 2.0)))
                .collect();
            ItemParams::in_categories(Steps::Graded, a, &d).expect("2 to 10 categories")
        })
        .collect();
    let (thetas, data) = respond(&mut rng, &items, n_persons, per_person, 0.0, 1.0);
    Simulation {
        items,
        thetas,
        data,
    }
}

/// Persons θ ~ N(mean, sd²), each answering `per_person` random items of `items`: the
/// abilities and the answers.
pub fn respond(
    rng: &mut Rng,
    items: &[ItemParams],
    n_persons: usize,
    per_person: usize,
    mean: f64,
    sd: f64,
) -> (Vec<f64>, Responses) {
    let n_items = items.len();
    let mut data = Responses::with_items(n_items);
    let mut thetas = Vec::with_capacity(n_persons);
    for _ in 0..n_persons {
        let theta = mean + sd * rng.normal();
        thetas.push(theta);
        let chosen = if per_person == n_items {
            (0..n_items as u32).collect()
        } else {
            rng.sample(n_items, per_person)
        };
        let answers: Vec<(u32, u8)> = chosen
            .into_iter()
            .map(|j| (j, rng.answer(&items[j as usize], theta)))
            .collect();
        data.push_scored_person(answers)
            .expect("sampled items are distinct and below n_items");
    }
    (thetas, data)
}
