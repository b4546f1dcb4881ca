//! Differential item functioning against base R: Mantel–Haenszel (`mantelhaen.test`) on the
//! shared fixtures' two-group set.

mod common;

use irt_core::dif::{screen, EtsClass, MantelHaenszel, Matching, Side};
use irt_core::Responses;

/// The shared two-group set: its answers and each person's group.
fn two_groups() -> (Responses, Vec<Option<Side>>) {
    let (triples, focal) = common::two_group_set();
    let side = focal
        .iter()
        .map(|&f| Some(if f { Side::Focal } else { Side::Reference }))
        .collect::<Vec<_>>();
    let data = Responses::from_triples(side.len(), 25, &triples).unwrap();
    (data, side)
}

/// `got`'s statistics against base R's `want` (the fixture's keys), within 1e-8 relatively;
/// the largest relative difference.
fn assert_statistics(item: usize, got: &MantelHaenszel, want: &serde_json::Value) -> f64 {
    let mut worst = 0.0_f64;
    for (ours, key) in [
        (got.chi2, "MH_chisq"),
        (got.p, "p"),
        (got.alpha, "alpha_MH"),
        (got.delta, "ETS_delta"),
        (got.delta_se, "SE_delta"),
    ] {
        let theirs = want[key].as_f64().unwrap();
        let relative = (ours - theirs).abs() / theirs.abs();
        worst = worst.max(relative);
        assert!(
            relative < 1e-8,
            "item {item}: {key} {ours} against {theirs}"
        );
    }
    assert_eq!(
        got.class.name(),
        want["ETS_class"].as_str().unwrap(),
        "item {item}"
    );
    worst
}

/// Every item's Mantel–Haenszel statistics on the total score (Holland–Thayer) equal base R's
/// `mantelhaen.test(correct = TRUE)` and the fixture's Robins–Breslow–Greenland SE and ETS
/// classes (shared fixtures `dif/sim_dif_mh.json`, variant `total`).
#[test]
fn mantel_haenszel_equals_base_r() {
    let (data, side) = two_groups();
    let fixture = common::read_json("dif/sim_dif_mh.json");
    let screening = screen(&data, &side, &[true; 25], false, &Matching::NumberRight).unwrap();
    assert_eq!(screening.screenings, 1);
    let mut worst = 0.0_f64;
    for (j, want) in fixture["variants"]["total"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let got = screening.items[j].expect("every item has statistics");
        worst = worst.max(assert_statistics(j + 1, &got, want));
        let se = want["SE_ln_alpha_RBG"].as_f64().unwrap();
        assert!(
            (got.ln_alpha_se - se).abs() < 1e-8 * se,
            "item {}: SE {}",
            j + 1,
            got.ln_alpha_se
        );
        assert_eq!(
            got.strata as u64,
            want["n_strata_used"].as_u64().unwrap(),
            "item {}",
            j + 1
        );
    }
    println!("Mantel–Haenszel against base R: worst relative difference {worst:.1e}");
    // Item 1 carries uniform DIF against the focal group; item 2's is significant but small.
    assert_eq!(screening.items[0].unwrap().class, EtsClass::C);
    assert_eq!(screening.items[1].unwrap().class, EtsClass::A);
}

/// Purification (items classed B or C leave the matching score of the others, until the flagged
/// set repeats) and the Benjamini–Hochberg adjustment, screening by screening, against base R
/// (`scripts/fixtures/dif_mh_purified.R`): item 1 flagged first, item 2 once item 1 is out of
/// the score, then the same set again.
#[test]
fn purification_and_the_false_discovery_control_equal_base_r() {
    let (data, side) = two_groups();
    let fixture = common::read_local_json("dif_mh_purified.json");
    let screenings = fixture["screenings"].as_array().unwrap();
    let purified = screen(&data, &side, &[true; 25], true, &Matching::NumberRight).unwrap();
    assert_eq!(purified.screenings, screenings.len());
    let last = screenings.last().unwrap()["items"].as_array().unwrap();
    for (j, want) in last.iter().enumerate() {
        assert_statistics(j + 1, &purified.items[j].unwrap(), want);
        let bh = fixture["bh_adjusted_p"][j].as_f64().unwrap();
        let ours = purified.adjusted_p[j].unwrap();
        assert!(
            (ours - bh).abs() <= 1e-8 * bh,
            "item {}: BH {ours} against {bh}",
            j + 1
        );
    }
    let flagged: Vec<usize> = (0..25)
        .filter(|&j| purified.items[j].unwrap().class != EtsClass::A)
        .collect();
    assert_eq!(flagged, [0, 1]);
}

/// Items in categories are not tested (the statistic is of right/wrong answers) and leave the
/// adjustment's count; the others are as before.
#[test]
fn items_in_categories_are_left_out() {
    let (data, side) = two_groups();
    let mut right_wrong = [true; 25];
    right_wrong[4] = false;
    let all = screen(&data, &side, &[true; 25], false, &Matching::NumberRight).unwrap();
    let some = screen(&data, &side, &right_wrong, false, &Matching::NumberRight).unwrap();
    assert!(some.items[4].is_none() && some.adjusted_p[4].is_none());
    assert_eq!(some.items[0], all.items[0]);
    assert!(some.adjusted_p[0].unwrap() < all.adjusted_p[0].unwrap());
}

/// On worlds without DIF (the accuracy study's, `accuracy::dif_world`: impact between the
/// groups, 25 items, 500 persons per group), the purified Mantel–Haenszel test flags at its
/// nominal level, and Benjamini–Hochberg keeps the share of worlds with any flag (every flag a
/// false discovery there) within its 5 %.
#[test]
fn false_alarms_on_dif_free_worlds_are_at_the_nominal_level() {
    let (worlds, items) = (200, 25);
    let (mut flagged, mut tests, mut any_bh) = (0, 0, 0);
    for seed in 0..worlds {
        let world = irt_core::accuracy::dif_world(500, items, 0, 0.0, 9000 + seed);
        let screening = screen(
            &world.responses,
            &world.side,
            &[true; 25],
            true,
            &Matching::NumberRight,
        )
        .unwrap();
        for item in screening.items.iter().flatten() {
            tests += 1;
            flagged += usize::from(item.p < 0.05);
        }
        any_bh += usize::from(screening.adjusted_p.iter().flatten().any(|&q| q < 0.05));
    }
    let rate = flagged as f64 / tests as f64;
    let any = any_bh as f64 / worlds as f64;
    println!(
        "false alarms at p < .05: {rate:.4} of {tests} tests; worlds with a BH flag: {any:.3}"
    );
    assert!((0.035..=0.065).contains(&rate), "{rate}");
    assert!(any <= 0.07, "{any}");
}
