//! Seeded simulation of answers under a 2PL, for recovery tests and the benchmark's data sets:
//! the same seed and shape give the same answers on every machine.

use crate::model::ItemParams;
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
    let items: Vec<ItemParams> = (0..n_items)
        .map(|_| ItemParams::from_irt((0.3 * rng.normal()).exp(), rng.normal(), 0.0))
        .collect();
    let (thetas, data) = respond(&mut rng, &items, n_persons, per_person, mean, sd);
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
        let answers: Vec<(u32, bool)> = chosen
            .into_iter()
            .map(|j| (j, rng.uniform() < items[j as usize].prob(theta)))
            .collect();
        data.push_person(answers)
            .expect("sampled items are distinct and below n_items");
    }
    (thetas, data)
}
