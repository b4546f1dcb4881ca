//! Item and person fit (`irt_core::item_fit`) against R mirt 1.46.1 (shared/fixtures/fit):
//! S-X2 with df, p and RMSEA, its tables before and after collapsing, infit and outfit with z,
//! RMSD and person Zh, at mirt's own estimates, to 1e-6 relative. Then the sparse
//! generalisation of S-X2: it adds up each form's complete-data tables, its p-values are
//! uniform at the true parameters and it flags a reversed item; cancelling, thread counts and
//! the work budget. Each fixture test prints its largest relative deviation per field.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::*;
use irt_core::item_fit::{fit_statistics, score_tables, FitReport, ScoreTable, S_X2_POINTS};
use irt_core::scoring::scoring_grid;
use irt_core::{score, CoreError, Interrupt, ItemParams, Latent, Responses, ScoreMethod};
use serde_json::Value;

const REL_TOL: f64 = 1e-6;
/// Where mirt's value is this close to zero, the difference is taken as absolute.
const ABS_TOL: f64 = 1e-9;

/// The largest relative deviation per field, checked against the tolerance as it grows.
#[derive(Default)]
struct Deviations(BTreeMap<&'static str, f64>);

impl Deviations {
    fn check(&mut self, field: &'static str, ours: f64, mirt: f64, at: &str) {
        let diff = (ours - mirt).abs();
        assert!(
            diff <= REL_TOL * mirt.abs() || diff <= ABS_TOL,
            "{field} {at}: ours {ours}, mirt {mirt}"
        );
        let worst = self.0.entry(field).or_insert(0.0);
        *worst = worst.max(if mirt == 0.0 { diff } else { diff / mirt.abs() });
    }

    fn print(&self, dataset: &str) {
        for (field, worst) in &self.0 {
            println!("{dataset}: {field:<22} max relative difference {worst:.2e}");
        }
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn eap_thetas(data: &Responses, items: &[ItemParams], latent: Latent, threads: usize) -> Vec<f64> {
    let grid = scoring_grid(&[latent]).unwrap();
    score(
        data,
        items,
        &[latent],
        &grid,
        ScoreMethod::Eap,
        &pool(threads),
        &Interrupt::never(),
    )
    .unwrap()
    .iter()
    .map(|s| s.theta)
    .collect()
}

fn run(
    data: &Responses,
    items: &[ItemParams],
    estimated: usize,
    latent: Latent,
    thetas: &[f64],
    threads: usize,
) -> FitReport {
    fit_statistics(
        data,
        items,
        &vec![estimated; items.len()],
        &[latent],
        thetas,
        &pool(threads),
        &Interrupt::never(),
    )
    .unwrap()
}

fn tables(data: &Responses, items: &[ItemParams], latent: Latent) -> Vec<ScoreTable> {
    score_tables(data, items, &[latent], &pool(2), &Interrupt::never())
        .unwrap()
        .unwrap()
}

/// A fixture data set's items as mirt estimated them (a1, d).
fn mirt_items(dataset: &serde_json::Value) -> Vec<ItemParams> {
    dataset["model"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| ItemParams::new(num(&i["a1"]), num(&i["d"]), 0.0))
        .collect()
}

fn check_fixture(dataset: &str, csv: &str) {
    let reference = read_json("fit/mirt_itemfit.json");
    let mirt = &reference["datasets"][dataset];
    let data = read_long(csv);
    let items = mirt_items(mirt);
    let latent = Latent {
        mean: num(&mirt["model"]["latent_mean"]),
        variance: num(&mirt["model"]["latent_var"]),
    };
    let thetas = eap_thetas(&data, &items, latent, 2);
    let report = run(&data, &items, 2, latent, &thetas, 2);
    assert_eq!(report.s_x2_skipped, None);
    let mut dev = Deviations::default();

    for (j, m) in mirt["itemfit_S_X2"].as_array().unwrap().iter().enumerate() {
        let (ours, at) = (&report.items[j], format!("item {}", j + 1));
        assert_eq!(ours.s_x2_df, Some(num(&m["df.S_X2"]) as u32), "{at}");
        dev.check("S_X2", ours.s_x2.unwrap(), num(&m["S_X2"]), &at);
        dev.check("p.S_X2", ours.s_x2_p.unwrap(), num(&m["p.S_X2"]), &at);
        dev.check(
            "RMSEA.S_X2",
            ours.s_x2_rmsea.unwrap(),
            num(&m["RMSEA.S_X2"]),
            &at,
        );
    }
    for (j, m) in mirt["itemfit_infit"].as_array().unwrap().iter().enumerate() {
        let (ours, at) = (&report.items[j], format!("item {}", j + 1));
        dev.check("infit", ours.infit, num(&m["infit"]), &at);
        dev.check("z.infit", ours.infit_z, num(&m["z.infit"]), &at);
        dev.check("outfit", ours.outfit, num(&m["outfit"]), &at);
        dev.check("z.outfit", ours.outfit_z, num(&m["z.outfit"]), &at);
    }
    for (j, m) in mirt["RMSD"].as_array().unwrap().iter().enumerate() {
        dev.check(
            "RMSD",
            report.items[j].rmsd,
            num(&m["RMSD"]),
            &format!("item {}", j + 1),
        );
    }
    let persons = &mirt["personfit"];
    for p in persons["first50"].as_array().unwrap() {
        let i = num(&p["person_id"]) as usize - 1;
        let at = format!("person {}", i + 1);
        dev.check("theta_eap", thetas[i], num(&p["theta_eap"]), &at);
        dev.check("Zh", report.zh[i], num(&p["Zh"]), &at);
    }
    let summary = &persons["summary"];
    let below = report.zh.iter().filter(|&&z| z < -1.96).count();
    assert_eq!(below as f64, num(&summary["count_Zh_lt_neg1.96"]));
    let mean = report.zh.iter().sum::<f64>() / report.zh.len() as f64;
    dev.check("mean_Zh", mean, num(&summary["mean_Zh"]), "summary");
    let min = report.zh.iter().copied().fold(f64::INFINITY, f64::min);
    dev.check("min_Zh", min, num(&summary["min_Zh"]), "summary");

    let ours = tables(&data, &items, latent);
    let mirt_tables = read_json("fit/mirt_sx2_tables.json");
    for m in mirt_tables["datasets"][dataset].as_array().unwrap() {
        let j = num(&m["item_id"]) as usize - 1;
        let collapsed = ours[j].collapsed().unwrap();
        for (table, which, label) in [
            (&ours[j], "uncollapsed", "score"),
            (&collapsed, "collapsed", "row_label_score"),
        ] {
            let m = &m[which];
            let at = format!("item {} {which}", j + 1);
            let scores: Vec<usize> = table.rows.iter().map(|r| r.score).collect();
            let labels: Vec<usize> = m[label]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| num(s) as usize)
                .collect();
            assert_eq!(scores, labels, "{at}");
            for (r, row) in table.rows.iter().enumerate() {
                for k in 0..2 {
                    assert_eq!(row.observed[k], num(&m[format!("O{k}")][r]), "{at}");
                    dev.check(
                        "E (S-X2 tables)",
                        row.expected[k],
                        num(&m[format!("E{k}")][r]),
                        &at,
                    );
                }
            }
        }
    }
    dev.print(dataset);
}

#[test]
fn lsat7_matches_mirt() {
    check_fixture("LSAT7_2PL", "classic/LSAT7_long.csv");
}

#[test]
fn sim_1000x20_matches_mirt() {
    check_fixture("sim_1000x20_2PL", "sim/sim_1000x20_long.csv");
}

/// Item 13 (reversed for θ > 1) is flagged at p = .0002; item 7 (coin flips) fits a flat 2PL.
#[test]
fn the_misfit_fixture_matches_mirt() {
    check_fixture("sim_1000x20_misfit_2PL", "fit/sim_1000x20_misfit_long.csv");
}

/// The answers of `persons` to `items`, renumbered 0.. in that order.
fn subset(data: &Responses, persons: std::ops::Range<usize>, items: &[u32]) -> Responses {
    let mut out = Responses::with_items(items.len());
    for i in persons {
        let (answered, correct) = data.person(i);
        out.push_person(answered.iter().zip(correct).filter_map(|(j, &x)| {
            items
                .iter()
                .position(|k| k == j)
                .map(|k| (k as u32, x == 1))
        }))
        .unwrap();
    }
    out
}

fn assert_tables_close(ours: &ScoreTable, expected: &ScoreTable, at: &str) {
    assert_eq!(ours.rows.len(), expected.rows.len(), "{at}");
    for (a, b) in ours.rows.iter().zip(&expected.rows) {
        assert_eq!((a.score, a.observed), (b.score, b.observed), "{at}");
        for k in 0..2 {
            approx::assert_relative_eq!(a.expected[k], b.expected[k], max_relative = 1e-12);
        }
    }
}

/// Two forms over sim_1000x20: persons 1–500 answered items 1–14, persons 501–1000 items 7–20.
/// Each item's sparse table is the sum of the complete-data tables of the forms that hold it,
/// and an item of one form only has that form's complete-data statistics. Answers stored in
/// another order make other forms but the same tables.
#[test]
fn sparse_s_x2_adds_up_the_forms_complete_data_tables() {
    let full = read_long("sim/sim_1000x20_long.csv");
    let truth = read_json("fit/mirt_itemfit.json");
    let items = mirt_items(&truth["datasets"]["sim_1000x20_2PL"]);
    let latent = Latent::STANDARD;
    let (form_a, form_b): (Vec<u32>, Vec<u32>) = ((0..14).collect(), (6..20).collect());
    let mut sparse = Responses::with_items(20);
    for (i, form) in (0..1000).map(|i| (i, if i < 500 { &form_a } else { &form_b })) {
        let (answered, correct) = full.person(i);
        sparse
            .push_person(
                answered
                    .iter()
                    .zip(correct)
                    .filter(|(j, _)| form.contains(j))
                    .map(|(&j, &x)| (j, x == 1)),
            )
            .unwrap();
    }
    let (data_a, data_b) = (
        subset(&full, 0..500, &form_a),
        subset(&full, 500..1000, &form_b),
    );
    let pick =
        |form: &[u32]| -> Vec<ItemParams> { form.iter().map(|&j| items[j as usize]).collect() };
    let (items_a, items_b) = (pick(&form_a), pick(&form_b));
    let (ours, a, b) = (
        tables(&sparse, &items, latent),
        tables(&data_a, &items_a, latent),
        tables(&data_b, &items_b, latent),
    );
    for (j, table) in ours.iter().enumerate() {
        let in_a = form_a.iter().position(|&k| k as usize == j).map(|k| &a[k]);
        let in_b = form_b.iter().position(|&k| k as usize == j).map(|k| &b[k]);
        let mut expected = in_a.or(in_b).unwrap().clone();
        if let (Some(_), Some(b)) = (in_a, in_b) {
            for (row, other) in expected.rows.iter_mut().zip(&b.rows) {
                for k in 0..2 {
                    row.observed[k] += other.observed[k];
                    row.expected[k] += other.expected[k];
                }
            }
        }
        assert_tables_close(table, &expected, &format!("item {}", j + 1));
    }

    // Items 1–6 are in form A only: the complete-data statistics of its persons.
    let thetas = eap_thetas(&sparse, &items, latent, 2);
    let report = run(&sparse, &items, 2, latent, &thetas, 2);
    let report_a = run(&data_a, &items_a, 2, latent, &thetas[..500], 2);
    for j in 0..6 {
        let (x, y) = (&report.items[j], &report_a.items[j]);
        assert_eq!((x.s_x2, x.s_x2_df, x.s_x2_p), (y.s_x2, y.s_x2_df, y.s_x2_p));
        for (u, v) in [(x.infit, y.infit), (x.outfit, y.outfit), (x.rmsd, y.rmsd)] {
            approx::assert_relative_eq!(u, v, max_relative = 1e-12);
        }
    }
    assert_eq!(report.zh[..500], report_a.zh[..]);

    // Odd persons with their answers reversed: four forms, the same tables.
    let mut reordered = Responses::with_items(20);
    for i in 0..1000 {
        let (answered, correct) = sparse.person(i);
        let mut answers: Vec<(u32, bool)> = answered
            .iter()
            .zip(correct)
            .map(|(&j, &x)| (j, x == 1))
            .collect();
        if i % 2 == 1 {
            answers.reverse();
        }
        reordered.push_person(answers).unwrap();
    }
    for (j, table) in tables(&reordered, &items, latent).iter().enumerate() {
        assert_tables_close(table, &ours[j], &format!("reordered item {}", j + 1));
    }
}

/// `sim` with the answers to `item` redrawn from its curve reflected in θ.
fn reverse_item(sim: &Simulation, item: u32, seed: u64) -> Responses {
    let mut rng = Rng::new(seed);
    let original = sim.items[item as usize];
    let reflected = ItemParams::new(-original.slope(), original.intercept(), original.guessing());
    let mut out = Responses::with_items(sim.data.n_items());
    for i in 0..sim.data.n_persons() {
        let (answered, correct) = sim.data.person(i);
        out.push_person(answered.iter().zip(correct).map(|(&j, &x)| {
            let flipped = rng.uniform() < reflected.prob(sim.thetas[i]);
            (j, if j == item { flipped } else { x == 1 })
        }))
        .unwrap();
    }
    out
}

/// Sparse data with known truth: 6,000 persons each answering 10 of 40 items, nearly every
/// person a form of their own. At the true parameters (nothing estimated, so df = rows) the
/// 200 p-values of five such data sets look uniform and S-X2/df averages 1; an item whose
/// answers follow its curve reflected in θ is flagged (S-X2 and RMSD), and no other item is.
#[test]
fn on_sparse_data_the_true_model_fits_and_a_reversed_item_is_flagged() {
    let latent = Latent::STANDARD;
    let mut p = Vec::new();
    let mut per_df = 0.0;
    for seed in 11..16 {
        let sim = simulate(seed, 6_000, 40, 10, 0.0, 1.0);
        let thetas = eap_thetas(&sim.data, &sim.items, latent, 2);
        for f in run(&sim.data, &sim.items, 0, latent, &thetas, 2).items {
            p.push(f.s_x2_p.unwrap());
            per_df += f.s_x2.unwrap() / f64::from(f.s_x2_df.unwrap());
        }
    }
    p.sort_by(f64::total_cmp);
    let n = p.len() as f64;
    let ks = p
        .iter()
        .enumerate()
        .map(|(k, &p)| (p - k as f64 / n).abs().max(((k + 1) as f64 / n - p).abs()))
        .fold(0.0, f64::max);
    let below = p.iter().filter(|&&p| p < 0.05).count() as f64 / n;
    per_df /= n;
    println!("true model: KS {ks:.3}, {below:.3} below .05, mean S-X2/df {per_df:.3}");
    // 1.63/√200 = 0.115 is KS's critical value at α = .01.
    assert!(ks < 0.115 && (0.01..0.1).contains(&below) && (0.9..1.1).contains(&per_df));

    let sim = simulate(11, 6_000, 40, 10, 0.0, 1.0);
    let reversed = reverse_item(&sim, 3, 12);
    let thetas = eap_thetas(&reversed, &sim.items, latent, 2);
    let report = run(&reversed, &sim.items, 0, latent, &thetas, 2);
    let flagged: Vec<usize> = (0..40)
        .filter(|&j| report.items[j].s_x2_p.unwrap() < 0.001)
        .collect();
    let item = &report.items[3];
    println!(
        "reversed item 4: S-X2 {:.1} on {} df, RMSD {:.3}; flagged {flagged:?}",
        item.s_x2.unwrap(),
        item.s_x2_df.unwrap(),
        item.rmsd
    );
    assert_eq!(flagged, [3]);
    // The lifecycle's RMSD gate (0.1) catches it too, and only it.
    let high_rmsd: Vec<usize> = (0..40).filter(|&j| report.items[j].rmsd > 0.1).collect();
    assert_eq!(high_rmsd, [3]);
}

#[test]
fn an_interrupt_ends_it() {
    let sim = simulate(3, 2_000, 30, 12, 0.0, 1.0);
    let thetas = vec![0.0; 2_000];
    let result = fit_statistics(
        &sim.data,
        &sim.items,
        &[2; 30],
        &[Latent::STANDARD],
        &thetas,
        &pool(2),
        &Interrupt::new(|| true),
    );
    assert!(
        matches!(result, Err(CoreError::Interrupted { .. })),
        "{result:?}"
    );
    // One long form: the recursion over its 300 items polls too (8 polls in all; the 3rd fires).
    let complete = simulate(4, 200, 300, 300, 0.0, 1.0);
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let polls = std::sync::Arc::new(polls);
    let counter = polls.clone();
    let interrupt =
        Interrupt::new(move || counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2);
    let result = score_tables(
        &complete.data,
        &complete.items,
        &[Latent::STANDARD],
        &pool(2),
        &interrupt,
    );
    assert!(matches!(result, Err(CoreError::Interrupted { .. })));
}

/// Many small forms over several chunks, one long form split across threads, 16 leaves of
/// persons: bit for bit the same with 1 and 2 threads.
#[test]
fn one_and_two_threads_agree() {
    let sim = simulate(5, 12_000, 150, 8, 0.3, 1.2);
    let mut data = sim.data.clone();
    let complete = simulate(6, 300, 150, 150, 0.3, 1.2);
    for i in 0..300 {
        let (answered, correct) = complete.data.person(i);
        data.push_person(answered.iter().zip(correct).map(|(&j, &x)| (j, x == 1)))
            .unwrap();
    }
    let latent = Latent {
        mean: 0.3,
        variance: 1.44,
    };
    let thetas = eap_thetas(&data, &sim.items, latent, 2);
    let one = run(&data, &sim.items, 2, latent, &thetas, 1);
    let two = run(&data, &sim.items, 2, latent, &thetas, 2);
    assert_eq!(format!("{one:?}"), format!("{two:?}"));
    assert!(one.items.iter().all(|f| f.s_x2.is_some()));
}

/// 7,000 persons with 100 answers of their own: 7,000 · 61 · 100 · (100 + 1 · 7) = 4.6·10⁹ >
/// the budget, so S-X2 is left out with a reason; the rest is computed.
#[test]
fn past_the_budget_s_x2_is_skipped_with_a_reason() {
    let sim = simulate(7, 7_000, 400, 100, 0.0, 1.0);
    let report = run(
        &sim.data,
        &sim.items,
        2,
        Latent::STANDARD,
        &vec![0.0; 7_000],
        2,
    );
    let reason = report.s_x2_skipped.unwrap();
    assert!(
        reason.contains("4.57e9") && reason.contains("7000 distinct"),
        "{reason}"
    );
    assert!(report
        .items
        .iter()
        .all(|f| f.s_x2.is_none() && f.s_x2_df.is_none()));
    assert!(report
        .items
        .iter()
        .all(|f| f.infit.is_finite() && f.rmsd.is_finite()));
}

/// The work `S_X2_BUDGET` bounds, as `score_tables` counts it: 61 J (J + W ⌈log₂ J⌉) per
/// distinct form of J items whose persons' middle scores span W values.
fn s_x2_work(data: &Responses) -> f64 {
    let mut forms: std::collections::HashMap<&[u32], (usize, usize)> = Default::default();
    for i in 0..data.n_persons() {
        let (items, correct) = data.person(i);
        let s = correct.iter().map(|&x| usize::from(x)).sum::<usize>();
        let range = forms.entry(items).or_insert((usize::MAX, 0));
        if (1..items.len()).contains(&s) {
            *range = (range.0.min(s), range.1.max(s));
        }
    }
    let levels = |n: usize| (usize::BITS - (n - 1).leading_zeros()) as usize;
    forms
        .iter()
        .filter(|(_, (low, high))| low <= high)
        .map(|(items, (low, high))| {
            let n = items.len();
            (S_X2_POINTS * n * (n + (high - low + 1) * levels(n))) as f64
        })
        .sum()
}

/// The measurements behind `S_X2_BUDGET` (run with `--ignored --nocapture`; 2 threads): time per
/// unit of its measure for forms of various sizes, and whole runs at scale.
#[test]
#[ignore]
fn s_x2_cost_is_measured() {
    let latent = Latent::STANDARD;
    let pool = pool(2);
    let time = |data: &Responses, items: &[ItemParams]| {
        let t = Instant::now();
        let skipped = score_tables(data, items, &[latent], &pool, &Interrupt::never())
            .unwrap()
            .is_err();
        (t.elapsed().as_secs_f64(), skipped)
    };
    for (persons, n_items, per_person) in [
        (400_000, 200, 10),
        (100_000, 400, 20),
        (16_000, 400, 50),
        (4_000, 1_000, 100),
        (1_000, 1_000, 200),
        (100_000, 60, 60),
        (2_000, 1_000, 1_000),
        (200, 2_500, 2_500),
    ] {
        let sim = simulate(1, persons, n_items, per_person, 0.0, 1.0);
        let work = s_x2_work(&sim.data);
        let (seconds, skipped) = time(&sim.data, &sim.items);
        println!(
            "{persons} persons × {per_person} of {n_items}: {work:.2e} units, {seconds:.3} s{}, \
             {:.3} ns/unit",
            if skipped { " (skipped)" } else { "" },
            seconds / work * 1e9
        );
    }
    for (persons, n_items, per_person) in [(100_000, 1_000, 100), (250_000, 1_000, 30)] {
        let sim = simulate(2, persons, n_items, per_person, 0.0, 1.0);
        let (sx2, skipped) = time(&sim.data, &sim.items);
        let t = Instant::now();
        let thetas = eap_thetas(&sim.data, &sim.items, latent, 2);
        let eap = t.elapsed().as_secs_f64();
        let t = Instant::now();
        run(&sim.data, &sim.items, 2, latent, &thetas, 2);
        println!(
            "{persons} × {per_person} answers: S-X2 {} in {sx2:.3} s; fit_statistics {:.3} s \
             (EAP {eap:.3} s)",
            if skipped { "skipped" } else { "computed" },
            t.elapsed().as_secs_f64()
        );
        // A cancel at 50, 150, … ms: how long until the run returns.
        let mut late: f64 = 0.0;
        for at in [0.05, 0.15, 0.25, 0.35, 0.45, 0.55] {
            let start = Instant::now();
            let interrupt = Interrupt::new(move || start.elapsed().as_secs_f64() > at);
            let result = fit_statistics(
                &sim.data,
                &sim.items,
                &vec![2; n_items],
                &[latent],
                &thetas,
                &pool,
                &interrupt,
            );
            assert!(matches!(result, Err(CoreError::Interrupted { .. })));
            late = late.max(start.elapsed().as_secs_f64() - at);
        }
        println!("  cancelled within {:.1} ms", late * 1e3);
    }
    // Singleton forms within the budget: a cancel inside S-X2.
    let sim = simulate(3, 4_000, 1_000, 100, 0.0, 1.0);
    let mut late: f64 = 0.0;
    for at in [0.05, 0.1, 0.2, 0.3] {
        let start = Instant::now();
        let interrupt = Interrupt::new(move || start.elapsed().as_secs_f64() > at);
        let result = score_tables(&sim.data, &sim.items, &[latent], &pool, &interrupt);
        assert!(matches!(result, Err(CoreError::Interrupted { .. })));
        late = late.max(start.elapsed().as_secs_f64() - at);
    }
    println!(
        "S-X2 of 4,000 forms of 100 items: cancelled within {:.1} ms",
        late * 1e3
    );
}
