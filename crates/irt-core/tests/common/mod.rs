//! Shared by the integration tests: where R mirt's reference files are, and how to read them.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use irt_core::{FitResult, ItemModel, ItemParams, Responses};

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

/// This crate's own fixture `name` (tests/fixtures, made by scripts/fixtures/*.R).
pub fn local_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn read_local_json(name: &str) -> serde_json::Value {
    let path = local_fixture(name);
    let text = std::fs::read_to_string(&path).expect(name);
    serde_json::from_str(&text).expect(name)
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

/// The shared two-group set (`dif/sim_dif_2x1500x25_long.csv`): its 0-based (person, item,
/// correct) answers and whether each person is in the focal group.
pub fn two_group_set() -> (Vec<(u32, u32, bool)>, Vec<bool>) {
    let path = fixtures_dir().join("dif/sim_dif_2x1500x25_long.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut triples = Vec::new();
    let mut focal = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (person, item) = (
            f[0].parse::<u32>().unwrap() - 1,
            f[1].parse::<u32>().unwrap() - 1,
        );
        triples.push((person, item, f[2] == "1"));
        if focal.len() <= person as usize {
            focal.resize(person as usize + 1, false);
        }
        focal[person as usize] = f[3] != "ref";
    }
    (triples, focal)
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

/// The largest difference between one quantity of each fitted item and mirt's, with the item.
pub fn worst_item(
    result: &FitResult,
    of: impl Fn(&ItemParams) -> f64,
    mirt: impl IntoIterator<Item = f64>,
) -> (f64, usize) {
    worst(result.items.iter().map(|i| of(&i.params)).zip(mirt))
}

/// Largest absolute difference, with the index where it occurs.
pub fn worst(pairs: impl IntoIterator<Item = (f64, f64)>) -> (f64, usize) {
    pairs
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |m, x| if x.0 > m.0 { x } else { m })
}

#[allow(unused_imports)] // each test binary uses a different part
pub use irt_core::simulate::{simulate, Rng, Simulation};

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
        &[result.latent],
        &grid,
        irt_core::ScoreMethod::Eap,
        &pool(2),
        &irt_core::Interrupt::never(),
    )
    .unwrap()
}
