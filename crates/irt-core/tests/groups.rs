//! Multiple-group calibration against R mirt 1.46.1's `multipleGroup` (shared fixtures
//! `dif/sim_dif_mirt.json`, `baseline`): two groups of 1,500, items 6–25 shared, items 1–5
//! estimated in each group, the reference group N(0, 1) and the focal group's latent mean and
//! variance estimated on its scale.

mod common;

use common::pool;
use irt_core::bank::{Bank, BankRow};
use irt_core::pipeline::{calibrate, Answers, Calibration, Quiet, Relations};
use irt_core::settings::{Arguments, Settings};
use irt_core::window::GroupsRead;
use irt_core::{fit, log_likelihood, FitParams, Grid, ItemModel, ItemParams, Latent, Responses};
use irt_core::{score, ScoreMethod};
use std::ops::ControlFlow;

/// Items 1–5 are estimated apart in each group.
const FREE: usize = 5;

fn baseline() -> serde_json::Value {
    common::read_json("dif/sim_dif_mirt.json")["baseline"].clone()
}

/// The two-group set, the focal group as group 1.
fn two_groups() -> Responses {
    let (triples, focal) = common::two_group_set();
    let mut data = Responses::from_triples(focal.len(), 25, &triples).unwrap();
    data.set_groups(focal.iter().map(|&f| u16::from(f)).collect())
        .unwrap();
    data
}

/// The two-group set with items 1–5 apart by group: a focal person's answers to them are to
/// items 26–30.
fn split_data() -> Responses {
    let tested: Vec<usize> = (0..FREE).collect();
    let (split, origin) = two_groups().apart_by_group(&tested).unwrap();
    assert_eq!(origin, (0..25).chain(0..5).collect::<Vec<_>>());
    split
}

/// mirt's items in the split order: the reference group's 1–25, then the focal group's 1–5.
fn mirt_items(fixture: &serde_json::Value) -> Vec<(f64, f64)> {
    let items = fixture["items"].as_array().unwrap();
    let of = |i: &serde_json::Value, group: &str| {
        (
            i[group]["a1"].as_f64().unwrap(),
            i[group]["d"].as_f64().unwrap(),
        )
    };
    items
        .iter()
        .map(|i| of(i, "ref"))
        .chain(items[..FREE].iter().map(|i| of(i, "focal")))
        .collect()
}

fn mirt_focal(fixture: &serde_json::Value) -> (Latent, [f64; 2]) {
    let g = &fixture["groups"]["focal"];
    let v = |k: &str| g[k].as_f64().unwrap();
    (
        Latent {
            mean: v("latent_mean"),
            variance: v("latent_var"),
        },
        [v("latent_mean_SE"), v("latent_var_SE")],
    )
}

/// Our log-likelihood at mirt's estimates is mirt's: each group's persons integrate under
/// their own latent distribution.
#[test]
fn the_log_likelihood_at_mirts_estimates_is_mirts() {
    let fixture = baseline();
    let items: Vec<ItemParams> = mirt_items(&fixture)
        .iter()
        .map(|&(a, d)| ItemParams::new(a, d, 0.0))
        .collect();
    let (focal, _) = mirt_focal(&fixture);
    let grid = Grid::new(61, -6.0, 6.0).unwrap();
    let ours = log_likelihood(
        &split_data(),
        &items,
        &[Latent::STANDARD, focal],
        &grid,
        &pool(2),
    )
    .unwrap();
    let mirt = fixture["logLik"].as_f64().unwrap();
    assert!((ours - mirt).abs() < 1e-8, "{ours} against mirt's {mirt}");
}

/// The fit finds mirt's estimates (mirt's TOL 1e-8): item parameters and the focal group's
/// latent mean and variance within 1e-4, the log-likelihood at them within 1e-6 of mirt's
/// maximum, and crossprod SEs within 1 %; scores come from each person's own group's prior.
#[test]
fn a_two_group_fit_equals_mirts_multiple_group() {
    let fixture = baseline();
    let data = split_data();
    let config = FitParams::new(ItemModel::TwoPL)
        .tolerance(1e-8)
        .max_cycles(5_000)
        .check(30)
        .unwrap();
    let result = fit(&data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap();
    // The focal group reaches below −6 within 5.5 SD, so the fit widened its grid (mirt keeps
    // [−6, 6]): the maximum is compared on mirt's grid.
    assert!(result.grid.nodes()[0] < -6.0);
    let items: Vec<ItemParams> = result.items.iter().map(|i| i.params).collect();
    let on_mirts_grid = log_likelihood(
        &data,
        &items,
        &result.group_latents,
        &Grid::new(61, -6.0, 6.0).unwrap(),
        &pool(2),
    )
    .unwrap();
    let mirt_log_lik = fixture["logLik"].as_f64().unwrap();
    assert!(
        (on_mirts_grid - mirt_log_lik).abs() < 1e-6,
        "{on_mirts_grid} against mirt's {mirt_log_lik}"
    );
    let (focal, focal_se) = mirt_focal(&fixture);
    assert_eq!(result.group_latents[0], Latent::STANDARD);
    let ours = result.group_latents[1];
    assert!(
        (ours.mean - focal.mean).abs() < 1e-4,
        "mean {ours:?} against {focal:?}"
    );
    assert!(
        (ours.variance - focal.variance).abs() < 1e-4,
        "variance {ours:?} against {focal:?}"
    );
    let by_item = fixture["items"].as_array().unwrap();
    for (j, (&(a, d), item)) in mirt_items(&fixture).iter().zip(&result.items).enumerate() {
        let p = item.params;
        assert!(
            (p.slope() - a).abs() < 1e-4 && (p.intercept() - d).abs() < 1e-4,
            "item {j}: ({}, {}) against mirt's ({a}, {d})",
            p.slope(),
            p.intercept()
        );
        let (fixture_item, group) = if j < 25 {
            (&by_item[j], "ref")
        } else {
            (&by_item[j - 25], "focal")
        };
        let se = item.covariance.as_ref().unwrap().standard_errors();
        let mirt_se = fixture_item[group]["SE_a"].as_f64().unwrap();
        assert!(
            (se[0] / mirt_se - 1.0).abs() < 0.01,
            "item {j}: SE of a {} against mirt's {mirt_se}",
            se[0]
        );
    }
    let cov = result.group_latent_covariances.as_ref().unwrap()[1];
    for (k, want) in focal_se.iter().enumerate() {
        let se = cov[k][k].sqrt();
        assert!(
            (se / want - 1.0).abs() < 0.01,
            "latent SE {k}: {se} against {want}"
        );
    }
    // A person's EAP is under their group's prior: the same answers score lower in the focal
    // group, whose mean is below the reference group's.
    let mut twins = Responses::with_items(30);
    let answers: Vec<(u32, bool)> = (5..25).map(|j| (j, j % 2 == 0)).collect();
    twins.push_person(answers.clone()).unwrap();
    twins.push_person(answers).unwrap();
    twins.set_groups(vec![0, 1]).unwrap();
    let grid = irt_core::scoring::scoring_grid(&result.group_latents).unwrap();
    let scores = score(
        &twins,
        &items,
        &result.group_latents,
        &grid,
        ScoreMethod::Eap,
        &pool(1),
        &irt_core::Interrupt::never(),
    )
    .unwrap();
    assert!(scores[1].theta < scores[0].theta, "{scores:?}");
}

/// The likelihood-ratio test of each of items 1–5 from the anchored baseline equals mirt's
/// `DIF(baseline, c('a1', 'd'), scheme = 'add', items2test = 1:5)`: on mirt's grid (61 points
/// on [−6, 6], held there as mirt holds it) X² within 1e-6 (7.6e-8 measured); on the grid a
/// run uses, which follows the focal group past −6, within 1e-4 (5.5e-5); df 2, and p. The signed areas are the shifts in
/// b of mirt's baseline.
#[test]
fn likelihood_ratio_tests_equal_mirts_dif() {
    let data = two_groups();
    let tested: Vec<usize> = (0..FREE).collect();
    let fixture = common::read_json("dif/sim_dif_mirt.json");
    let baseline = &fixture["baseline"];
    let results = fixture["DIF_add"]["results"].as_array().unwrap();
    for (mirts_grid, tolerance) in [(true, 1e-6), (false, 1e-4)] {
        let configure = |origin: &[usize]| {
            let params = FitParams::new(ItemModel::TwoPL)
                .tolerance(1e-8)
                .max_cycles(5_000)
                .standard_errors(irt_core::StandardErrors::None);
            let params = if mirts_grid {
                params.fixed_grid()
            } else {
                params
            };
            params.check(origin.len())
        };
        let lr = irt_core::dif::likelihood_ratio(&data, &tested, tested.len(), configure, &pool(2))
            .unwrap();
        assert_eq!(lr.baseline.items.len(), 30);
        let mut worst: f64 = 0.0;
        for (test, want) in lr.tests.iter().zip(results) {
            let x2 = want["X2"].as_f64().unwrap();
            worst = worst.max((test.x2 - x2).abs());
            assert!(
                (test.x2 - x2).abs() < tolerance,
                "item {} (mirt's grid: {mirts_grid}): X² {} against mirt's {x2}",
                test.item,
                test.x2
            );
            assert_eq!(test.df, 2);
            // The signed area between two 2PL curves is the shift in b (Raju 1988): mirt's
            // baseline's b_focal − b_ref (item 1: 0.69), and the unsigned area at least as large.
            let mirt = &baseline["items"][test.item];
            let shift = mirt["focal"]["b"].as_f64().unwrap() - mirt["ref"]["b"].as_f64().unwrap();
            let area = test.areas[0];
            assert!(
                (area.signed - shift).abs() < 1e-3,
                "item {}: {area:?} against {shift}",
                test.item
            );
            assert!(area.unsigned >= area.signed.abs() - 1e-12, "{area:?}");
            let p = chi2_2_tail(x2);
            assert!(
                (test.p / p - 1.0).abs() < 1e-2,
                "item {}: p {} against {p}",
                test.item,
                test.p
            );
        }
        println!("mirt's grid: {mirts_grid}: largest X² difference {worst:.2e}");
    }
}

/// The chi-square(2) upper tail, exp(−x/2), exact where mirt's 1 − pchisq floors at 2.2e-16.
fn chi2_2_tail(x2: f64) -> f64 {
    (-x2 / 2.0).exp()
}

/// A run with a groups column (every item shared, no anchors, no priors) is mirt's
/// all-invariant `multipleGroup` (`DIF_drop.all_invariant_model`): its log-likelihood and the
/// focal group's mean and variance within 1e-4 (3e-5 and 2e-5 measured: our grid follows the
/// focal group's wider spread, mirt's stays on [−6, 6]); the reference group is the largest or the one named, is
/// N(0, 1), and comes first in the record; item fit is computed under each group's density.
#[test]
fn a_run_with_groups_is_mirts_all_invariant_model() {
    let mirt = &common::read_json("dif/sim_dif_mirt.json")["DIF_drop"]["all_invariant_model"];
    let (_, focal) = common::two_group_set();
    let run = |reference| grouped_run(reference, "none", &Bank::default());
    // Equal sizes: the first by name ("focal") would be the reference; "ref" is named.
    let c = run(Some("ref")).unwrap();
    let groups = c.groups.as_ref().unwrap();
    assert_eq!(groups.names, ["ref", "focal"]);
    assert_eq!(groups.persons, [1500, 1500]);
    assert_eq!(groups.latents[0], Latent::STANDARD);
    let v = |k: &str| mirt[k].as_f64().unwrap();
    let focal_latent = groups.latents[1];
    assert!((c.fit.log_lik - v("logLik")).abs() < 1e-4);
    assert!((focal_latent.mean - v("latent_mean_focal")).abs() < 1e-4);
    assert!((focal_latent.variance - v("latent_var_focal")).abs() < 1e-4);
    assert_eq!(c.fit.n_params, v("n_free_params") as usize);
    let [mean_se, variance_se] = groups.latent_ses[1];
    assert!(mean_se.unwrap() > 0.0 && variance_se.unwrap() > 0.0);
    assert!(groups.latent_ses[0].iter().all(Option::is_none));
    // Every item fits (no DIF-free item misfits badly) and S-X2 was computed with groups.
    assert!(c.s_x2_skipped.is_none());
    assert!(c
        .reviews
        .iter()
        .all(|r| r.fit.is_some_and(|f| f.rmsd.is_finite())));
    // Scored under their own group's prior: the focal group's mean EAP is below the reference's.
    let mean_theta = |focal_group: bool| {
        let thetas: Vec<f64> = c
            .abilities
            .iter()
            .zip(&focal)
            .filter(|(_, &f)| f == focal_group)
            .map(|(s, _)| s.theta)
            .collect();
        thetas.iter().sum::<f64>() / thetas.len() as f64
    };
    assert!((mean_theta(true) - mean_theta(false) - v("latent_mean_focal")).abs() < 0.05);

    let by_name = run(None).unwrap();
    assert_eq!(by_name.groups.unwrap().names, ["focal", "ref"]);
    let err = run(Some("other")).map(drop).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reference_group \"other\" is not a group of group in the window (its groups: \"focal\", \"ref\")"
    );
}

/// The two-group set calibrated with groups => 'group' (every item shared, no priors), linked
/// by `linking` to `bank`.
fn grouped_run(
    reference: Option<&str>,
    linking: &str,
    bank: &Bank,
) -> irt_core::Result<Calibration> {
    let (triples, focal) = common::two_group_set();
    let arguments = Arguments {
        linking: Some(linking),
        priors: Some("none"),
        tolerance: Some(1e-6),
        groups: Some("group"),
        reference_group: reference,
        ..Arguments::defaults()
    };
    run_with_groups(&triples, &focal, &arguments, bank)
}

/// `triples` of the two-group set's persons, in groups `ref` and `focal` read in that order,
/// calibrated under `arguments`.
fn run_with_groups(
    triples: &[(u32, u32, bool)],
    focal: &[bool],
    arguments: &Arguments,
    bank: &Bank,
) -> irt_core::Result<Calibration> {
    let responses = Responses::from_triples(focal.len(), 25, triples).unwrap();
    let answers = Answers {
        scores: false,
        user_ids: (1..=focal.len()).map(|i| i.to_string()).collect(),
        item_ids: (1..=25).map(|j| j.to_string()).collect(),
        rows_in_window: triples.len() as i64,
        responses,
        null_answers: 0,
        repeated: 0,
        groups: Some(GroupsRead {
            names: vec!["ref".into(), "focal".into()],
            of_user: focal.iter().map(|&f| u32::from(f)).collect(),
        }),
        null_groups: 0,
    };
    let relations = Relations {
        source: "dif",
        items: "dif_items",
    };
    let settings = Settings::from_arguments(arguments).unwrap();
    calibrate(
        answers,
        bank,
        &std::collections::HashMap::new(),
        settings,
        &relations,
        &pool(2),
        &mut Quiet,
        u128::MAX,
    )
}

/// Anchored with groups: items 6–25 are anchors at their true reference-group parameters
/// (`_true_items.csv`). Whether the anchors are held fixed or the run is linked by
/// Stocking–Lord, the reference group lands at its true N(0, 1) (within 0.1) and the focal
/// group's mean below it by the all-invariant model's gap (within 0.05): the groups' latent
/// distributions are carried onto the anchors' scale with the items.
#[test]
fn groups_are_carried_onto_the_anchors_scale() {
    let path = common::fixtures_dir().join("dif/sim_dif_2x1500x25_true_items.csv");
    let truth = std::fs::read_to_string(path).unwrap();
    let rows = truth
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == "ref" && f[1].parse::<usize>().unwrap() >= 6)
        .map(|f| BankRow {
            id: f[1].into(),
            anchor: true,
            irt: Some(serde_json::json!({"a": f[2].parse::<f64>().unwrap(), "b": f[3].parse::<f64>().unwrap()})),
        });
    let bank = Bank::from_rows(rows, "dif_items", |w| panic!("{w}"));
    let gap = -0.5673859126495431;
    for linking in ["fixed", "stocking_lord"] {
        let c = grouped_run(Some("ref"), linking, &bank).unwrap();
        let groups = c.groups.unwrap();
        let (reference, focal) = (groups.latents[0], groups.latents[1]);
        assert!(
            reference.mean.abs() < 0.1 && (reference.variance - 1.0).abs() < 0.1,
            "{linking}: {reference:?}"
        );
        assert!(
            (focal.mean - reference.mean - gap).abs() < 0.05,
            "{linking}: {focal:?}"
        );
        assert!(groups.latent_ses[1][0].is_some(), "{linking}");
    }
}

/// A run with groups screens every item for DIF against the focal group. On complete answers
/// the purified Mantel–Haenszel statistics on the number-right score are base R's
/// (`mantelhaen.test`, `p.adjust(…, 'BH')`: `dif_mh_purified.json`) within 1e-8; the items it
/// does not clear (1 and 2, simulated with uniform DIF) go to the likelihood-ratio test with
/// the others as anchors, where both are significant and their signed areas are the shifts in
/// b of mirt's baseline (0.05: its anchor set is items 6–25); they get the status `dif`, and no
/// DIF-free item (4–25) is flagged.
#[test]
fn a_run_with_groups_screens_every_item_for_dif() {
    let c = grouped_run(Some("ref"), "none", &Bank::default()).unwrap();
    let dif = c.dif.as_ref().unwrap();
    assert_eq!(dif.rows.len(), 25);
    let focal = &dif.focal[0];
    assert_eq!((focal.matching, focal.screenings), ("number_right", 3));
    let purified = common::read_local_json("dif_mh_purified.json");
    let last = &purified["screenings"].as_array().unwrap().last().unwrap()["items"];
    let close = |ours: f64, theirs: &serde_json::Value| {
        let theirs = theirs.as_f64().unwrap();
        (ours - theirs).abs() <= 1e-8 * theirs.abs().max(1e-300)
    };
    let baseline = baseline();
    for row in &dif.rows {
        let id: usize = c.item_ids[row.item].parse().unwrap();
        let (mh, want) = (row.mh.unwrap(), &last[id - 1]);
        assert!(close(mh.chi2, &want["MH_chisq"]), "item {id}: {mh:?}");
        assert!(close(mh.p, &want["p"]), "item {id}: {mh:?}");
        assert!(close(mh.alpha, &want["alpha_MH"]), "item {id}: {mh:?}");
        assert!(close(mh.delta, &want["ETS_delta"]), "item {id}: {mh:?}");
        assert_eq!(mh.class.name(), want["ETS_class"].as_str().unwrap());
        assert!(close(
            row.mh_p_adjusted.unwrap(),
            &purified["bh_adjusted_p"][id - 1]
        ));
        assert_eq!((row.n_focal, row.n_reference), (1500, 1500));
        assert_eq!(row.flagged, id <= 2, "item {id}: {row:?}");
        if id <= 2 {
            let lr = row.lr.unwrap();
            assert!(lr.p_adjusted < 1e-4 && lr.df == 2 && lr.converged, "{lr:?}");
            let mirt = &baseline["items"][id - 1];
            let shift = mirt["focal"]["b"].as_f64().unwrap() - mirt["ref"]["b"].as_f64().unwrap();
            let area = row.areas.unwrap();
            assert!(
                (area.signed - shift).abs() < 0.05,
                "item {id}: {area:?} against {shift}"
            );
            let review = c
                .reviews
                .iter()
                .find(|r| r.item_id == id.to_string())
                .unwrap();
            assert_eq!(review.status, irt_core::lifecycle::Status::Dif);
            assert!(review
                .reason
                .as_ref()
                .unwrap()
                .starts_with("DIF against group focal: ETS "));
        } else {
            assert!(
                row.lr.is_none() && row.areas.is_none(),
                "item {id}: {row:?}"
            );
        }
    }
    assert_eq!(focal.lr_tested, 2);
}

/// Where persons took different items, the screen matches them on the expected score at a
/// common-prior EAP θ: with each person's answers to a random 60 % of the items kept, the
/// item with the largest DIF (item 1) is still flagged, and at most one of the 22 DIF-free
/// items (4–25) is.
#[test]
fn sparse_answers_are_matched_on_the_expected_score() {
    let (triples, focal) = common::two_group_set();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut keep = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 10 < 6
    };
    let sparse: Vec<(u32, u32, bool)> = triples.into_iter().filter(|_| keep()).collect();
    let arguments = Arguments {
        linking: Some("none"),
        priors: Some("none"),
        groups: Some("group"),
        reference_group: Some("ref"),
        ..Arguments::defaults()
    };
    let c = run_with_groups(&sparse, &focal, &arguments, &Bank::default()).unwrap();
    let dif = c.dif.unwrap();
    assert_eq!(dif.focal[0].matching, "expected_score");
    let flagged: Vec<usize> = dif
        .rows
        .iter()
        .filter(|r| r.flagged)
        .map(|r| c.item_ids[r.item].parse().unwrap())
        .collect();
    println!("flagged on sparse answers: {flagged:?}");
    assert!(flagged.contains(&1), "{flagged:?}");
    assert!(
        flagged.iter().filter(|&&id| id >= 4).count() <= 1,
        "{flagged:?}"
    );
}
