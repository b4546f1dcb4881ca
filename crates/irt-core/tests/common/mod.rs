//! Shared by the integration tests: where R mirt's reference files are, and how to read them.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use irt_core::{ItemModel, Responses};

/// `PG_IRT_FIXTURES`, else the first `shared/fixtures` found beside an ancestor of this crate.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_IRT_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .flat_map(|a| [a.join("shared/fixtures"), a.join("../shared/fixtures")])
        .find(|p| p.join("README.md").is_file())
        .expect("fixtures not found: set PG_IRT_FIXTURES to the shared/fixtures directory")
}

pub fn read_json(relative: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures_dir().join(relative)).expect(relative);
    serde_json::from_str(&text).expect(relative)
}

/// Rows of a CSV file (gzip when the name ends in .gz), header skipped, as numbers.
pub fn read_csv(relative: &str) -> Vec<Vec<f64>> {
    let file = std::fs::File::open(fixtures_dir().join(relative)).expect(relative);
    let reader: Box<dyn Read> = if relative.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    BufReader::new(reader)
        .lines()
        .skip(1)
        .map(|l| {
            l.unwrap()
                .split(',')
                .map(|v| v.trim().parse().unwrap())
                .collect()
        })
        .collect()
}

/// A long-format file of 1-based (person, item, correct) rows.
pub fn read_long(relative: &str) -> Responses {
    let rows = read_csv(relative);
    let triples: Vec<(u32, u32, bool)> = rows
        .iter()
        .map(|r| (r[0] as u32 - 1, r[1] as u32 - 1, r[2] == 1.0))
        .collect();
    let n_persons = triples.iter().map(|t| t.0).max().unwrap() as usize + 1;
    let n_items = triples.iter().map(|t| t.1).max().unwrap() as usize + 1;
    Responses::from_triples(n_persons, n_items, &triples).unwrap()
}

pub fn model(name: &str) -> ItemModel {
    ItemModel::parse(name).unwrap()
}

pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Largest absolute difference, with the index where it occurs.
pub fn worst(pairs: impl IntoIterator<Item = (f64, f64)>) -> (f64, usize) {
    pairs
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |m, x| if x.0 > m.0 { x } else { m })
}

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

/// A simulated 2PL (or 3PL where `guessing`) population: a ~ lognormal(0, 0.3), b ~ N(0, 1),
/// θ ~ N(mean, sd²); each person answers `per_person` random items of `n_items`.
pub struct Simulation {
    pub items: Vec<irt_core::ItemParams>,
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
    let items: Vec<irt_core::ItemParams> = (0..n_items)
        .map(|_| irt_core::ItemParams::from_irt((0.3 * rng.normal()).exp(), rng.normal(), 0.0))
        .collect();
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
        data.push_person(answers).unwrap();
    }
    Simulation {
        items,
        thetas,
        data,
    }
}

/// Linking constants without standard errors, to move items by a known A and B.
pub fn known(slope: f64, intercept: f64) -> irt_core::linking::LinkingConstants {
    irt_core::linking::LinkingConstants {
        slope,
        intercept,
        slope_se: None,
        intercept_se: None,
        criterion: None,
    }
}

pub fn rmse(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    let (sum, n) = pairs
        .into_iter()
        .fold((0.0, 0usize), |(s, n), (a, b)| (s + (a - b).powi(2), n + 1));
    (sum / n as f64).sqrt()
}

/// mirt's EAP scores (`fscores(method = 'EAP')`): 121 points on [−6, 6] under the fitted latent
/// distribution.
pub fn mirt_eap(data: &Responses, result: &irt_core::FitResult) -> Vec<irt_core::Score> {
    let grid = irt_core::Grid::new(121, -6.0, 6.0).unwrap();
    irt_core::score(
        data,
        &result.item_params(),
        result.latent,
        &grid,
        irt_core::ScoreMethod::Eap,
        &pool(2),
    )
}
