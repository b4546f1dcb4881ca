//! The whole pipeline on the misfit fixture (shared/fixtures/fit): item 7 answered by coin flips,
//! item 13 reversed for persons with θ > 1. mirt's S-X2 flags item 13 only; item 7 fits a 2PL
//! with a slope near 0, which the slope gate must catch.

mod common;

use common::{read_json, read_long};
use irt_core::bank::Bank;
use irt_core::lifecycle::Status;
use irt_core::pipeline::{calibrate, Answers, Quiet, Relations};
use irt_core::settings::{Arguments, Settings};

#[test]
fn the_misfit_fixture_s_items_get_their_status() {
    let responses = read_long("fit/sim_1000x20_misfit_long.csv");
    let answers = Answers {
        scores: false,
        user_ids: (1..=responses.n_persons()).map(|i| i.to_string()).collect(),
        item_ids: (1..=responses.n_items()).map(|j| j.to_string()).collect(),
        responses,
        rows_in_window: 20_000,
        null_answers: 0,
        repeated: 0,
        groups: None,
        null_groups: 0,
    };
    // mirt's own fit: no priors, its EM path, no linking.
    let settings = Settings::from_arguments(&Arguments {
        linking: Some("none"),
        priors: Some("none"),
        algorithm: Some("mirt"),
        ..Arguments::defaults()
    })
    .unwrap();
    let pool = common::pool(2);
    let c = calibrate(
        answers,
        &Bank::default(),
        &std::collections::HashMap::new(),
        settings,
        &Relations {
            source: "misfit",
            items: "misfit_items",
        },
        &pool,
        &mut Quiet,
        u128::MAX,
    )
    .unwrap();
    let status = |id: &str| {
        let r = c.reviews.iter().find(|r| r.item_id == id).unwrap();
        (r.status, r.reason.clone())
    };
    assert_eq!(status("13").0, Status::Misfit, "{:?}", status("13"));
    assert_eq!(
        status("7").0,
        Status::LowDiscrimination,
        "{:?}",
        status("7")
    );
    let others: Vec<_> = c
        .reviews
        .iter()
        .filter(|r| r.item_id != "7" && r.item_id != "13" && r.status != Status::Ok)
        .map(|r| (r.item_id.clone(), r.reason.clone()))
        .collect();
    assert!(others.is_empty(), "{others:?}");

    // The statistics behind them are mirt's, through the pipeline, to 1e-6.
    let fixture = read_json("fit/mirt_itemfit.json");
    let mirt = &fixture["datasets"]["sim_1000x20_misfit_2PL"]["itemfit_S_X2"];
    for (j, review) in c.reviews.iter().enumerate() {
        let fit = review.fit.unwrap();
        let theirs = mirt[j]["S_X2"].as_f64().unwrap();
        let ours = fit.s_x2.unwrap();
        assert!(
            (ours / theirs - 1.0).abs() < 1e-6,
            "item {}: S-X2 {ours}, mirt {theirs}",
            j + 1
        );
    }
}
