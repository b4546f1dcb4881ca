//! Accuracy against known truth, through the pipeline the front ends run (issue 16; the full
//! study is `scripts/accuracy.sh`, its tables in docs/accuracy.md). Worlds from
//! `irt_core::accuracy`: truth on the anchors' scale, θ ~ N(0.3, 1.1²), anchors stored with noise.

mod common;

use irt_core::accuracy::{world, Measures, Scenario, Shape, World};
use irt_core::drift::DriftRule;
use irt_core::lifecycle::Status;
use irt_core::linking::LinkingMethod;
use irt_core::settings::{Arguments, Linking};

/// The demo database's shape: 500 users answering 24 of 150 items (50 anchors), 80 answers per
/// item.
const SEED_SHAPE: Shape = Shape {
    persons: 500,
    items: 150,
    anchors: 50,
    per_person: 24,
};

fn measures(w: &World, linking: &str, priors: &str) -> Measures {
    let c = w
        .calibrate(
            &Arguments {
                linking: Some(linking),
                priors: Some(priors),
                ..Arguments::defaults()
            },
            DriftRule::ScoreTest,
            &common::pool(2),
        )
        .unwrap_or_else(|e| panic!("{linking}, {priors}: {e:?}"));
    w.measure(&c)
}

fn mean(ms: &[Measures], f: impl Fn(&Measures) -> f64) -> f64 {
    ms.iter().map(f).sum::<f64>() / ms.len() as f64
}

/// The defaults on the seed's shape, 8 worlds: RMSE of a within the 0.22; RMSE of b at
/// most 0.30 — in these worlds even anchors held at their true values and the generating
/// distribution as prior leave about 0.28 over all items (docs/accuracy.md), so 0.24 is not
/// reachable on average — and both clearly below the former defaults' (Stocking–Lord, default
/// priors: 0.28 and 0.34); no |b| more than half a logit beyond the truth's largest.
#[test]
fn the_defaults_are_accurate_on_the_seed_shape() {
    let scenario = Scenario {
        shape: SEED_SHAPE,
        noise: 0.05,
        noise_recorded: false,
        drifted: 0,
        drift: 0.0,
    };
    let (mut ours, mut former) = (Vec::new(), Vec::new());
    for seed in 0..8 {
        let w = world(&scenario, 1_000 + seed);
        let d = Arguments::defaults();
        ours.push(measures(&w, d.linking.unwrap(), d.priors.unwrap()));
        former.push(measures(&w, "stocking_lord", "default"));
    }
    let (a, b) = (mean(&ours, |m| m.rmse_a), mean(&ours, |m| m.rmse_b));
    let (a0, b0) = (mean(&former, |m| m.rmse_a), mean(&former, |m| m.rmse_b));
    eprintln!(
        "defaults: RMSE a {a:.3}, b {b:.3}; stocking_lord + default priors: {a0:.3}, {b0:.3}"
    );
    assert!(a <= 0.22 && b <= 0.30, "RMSE a {a:.3}, b {b:.3}");
    assert!(
        a < a0 - 0.03 && b < b0 - 0.03,
        "{a:.3} {b:.3} vs {a0:.3} {b0:.3}"
    );
    for m in &ours {
        assert!(m.max_abs_b <= m.max_abs_b_true + 0.5, "{m:?}");
    }
}

/// `auto` holds the anchors fixed on thin data and links a separate calibration on large data
/// (with the default priors), and says why in the record.
#[test]
fn auto_chooses_by_answers_per_anchor() {
    let pool = common::pool(2);
    let auto = Arguments {
        linking: Some("auto"),
        ..Arguments::defaults()
    };
    let thin = world(
        &Scenario {
            shape: SEED_SHAPE,
            noise: 0.05,
            noise_recorded: false,
            drifted: 0,
            drift: 0.0,
        },
        1,
    );
    let c = thin.calibrate(&auto, DriftRule::ScoreTest, &pool).unwrap();
    assert_eq!(c.settings.linking, Linking::Fixed);
    assert!(c.linking_reason.as_ref().unwrap().contains("fewer than"));
    assert!(c.items.iter().any(|i| i.fixed));
    // 600 answers per item.
    let large = world(
        &Scenario {
            shape: Shape {
                persons: 3_000,
                items: 60,
                anchors: 20,
                per_person: 12,
            },
            noise: 0.05,
            noise_recorded: false,
            drifted: 0,
            drift: 0.0,
        },
        2,
    );
    let c = large.calibrate(&auto, DriftRule::ScoreTest, &pool).unwrap();
    assert_eq!(
        c.settings.linking,
        Linking::Separate(LinkingMethod::StockingLord)
    );
    assert!(!c.items.iter().any(|i| i.fixed));
    // There the bank's priors would need a fit of their own for a few per cent: the default
    // priors, and the record says why.
    assert!(c.priors_used["fallback"]
        .as_str()
        .unwrap()
        .starts_with("the median anchor has 600 answers"));
    assert_eq!(c.priors_used["b"]["sd"], 2.0);
}

/// 8 of 50 anchors whose stored b is a logit too high, 400 answers per item, where `auto` holds
/// anchors fixed: the screening (a separate calibration first) flags all 8, none is held at its
/// stored values, and the scale is recovered as without drift. On the seed's own 80 answers an
/// anchor's b is known to ±0.3 and about half the drifted ones go unnoticed (docs/accuracy.md).
#[test]
fn drifted_anchors_are_flagged_and_never_held_fixed() {
    let shape = Shape {
        persons: 2_500,
        items: 150,
        anchors: 50,
        per_person: 24,
    };
    let w = world(
        &Scenario {
            shape,
            noise: 0.05,
            noise_recorded: false,
            drifted: 8,
            drift: 1.0,
        },
        3,
    );
    let c = w
        .calibrate(
            &Arguments::defaults(),
            DriftRule::ScoreTest,
            &common::pool(2),
        )
        .unwrap();
    assert_eq!(c.settings.linking, Linking::Fixed);
    let m = w.measure(&c);
    assert_eq!((m.hits, m.drifted_held_fixed), (8, 0), "{m:?}");
    assert!(m.false_alarms <= 3, "{m:?}");
    assert!(m.mean_bias.abs() < 0.05, "{m:?}");
    for id in c.drifted() {
        let k = c.item_ids.iter().position(|i| i == id).unwrap();
        assert!(!c.items[k].fixed, "flagged anchor {id} held fixed");
    }
}

/// `priors => 'bank'` learns from the anchors, records the numbers, and with fewer than 10
/// usable anchors takes the default priors and says so.
#[test]
fn bank_priors_are_recorded_and_fall_back_on_a_small_bank() {
    let pool = common::pool(2);
    let bank = Arguments {
        priors: Some("bank"),
        ..Arguments::defaults()
    };
    let w = world(
        &Scenario {
            shape: Shape {
                persons: 400,
                items: 160,
                anchors: 100,
                per_person: 30,
            },
            noise: 0.0,
            noise_recorded: false,
            drifted: 0,
            drift: 0.0,
        },
        4,
    );
    let c = w.calibrate(&bank, DriftRule::ScoreTest, &pool).unwrap();
    let used = &c.priors_used;
    assert_eq!(used["learned_from_anchors"], 100);
    assert!(
        (used["b"]["sd"].as_f64().unwrap() - 1.0).abs() < 0.35,
        "{used}"
    );
    assert!(
        (used["log_a"]["sd"].as_f64().unwrap() - 0.3).abs() < 0.12,
        "{used}"
    );

    let small = world(
        &Scenario {
            shape: Shape {
                persons: 400,
                items: 60,
                anchors: 8,
                per_person: 20,
            },
            noise: 0.0,
            noise_recorded: false,
            drifted: 0,
            drift: 0.0,
        },
        5,
    );
    let c = small.calibrate(&bank, DriftRule::ScoreTest, &pool).unwrap();
    assert!(c.priors_used["fallback"]
        .as_str()
        .unwrap()
        .starts_with("8 usable anchors"));
    assert_eq!(c.priors_used["b"]["sd"], 2.0);
}

/// With the model true, on the seed's 80 answers per item, few items are called misfit: S-X2
/// holds its 1 % level, and RMSD, which passes 0.1 by sampling noise alone for 16 % of the held
/// anchors there, does not gate below `RMSD_MIN_ANSWERS`.
#[test]
fn a_true_model_is_rarely_called_misfit_on_thin_data() {
    let pool = common::pool(2);
    let scenario = Scenario {
        shape: SEED_SHAPE,
        noise: 0.0,
        noise_recorded: false,
        drifted: 0,
        drift: 0.0,
    };
    let (mut misfit, mut items) = (0, 0);
    for seed in 0..6 {
        let c = world(&scenario, 900 + seed)
            .calibrate(&Arguments::defaults(), DriftRule::ScoreTest, &pool)
            .unwrap();
        items += c.items.len();
        misfit += c
            .reviews
            .iter()
            .filter(|r| r.status == Status::Misfit)
            .count();
    }
    let share = misfit as f64 / items as f64;
    assert!(share < 0.03, "{misfit} of {items} items called misfit");
}

/// Issue 24: banks stored at their exact values — 20 anchors answered 1,000 times each, and the
/// seed's shape — over 10 worlds each, every argument at its default. The score test flags at
/// most its nominal 1 % (with room for sampling: at most 3 of 200 and 6 of 500 clean anchors;
/// the accuracy study measures 0.6–1.0 per 100), and fewer than the robust z it replaced, which
/// flagged about 5 per 100 on both.
#[test]
fn clean_banks_raise_no_more_than_the_nominal_false_alarms() {
    let pool = common::pool(2);
    let large = Shape {
        persons: 5_000,
        items: 60,
        anchors: 20,
        per_person: 12,
    };
    for (shape, most) in [(large, 3), (SEED_SHAPE, 6)] {
        let scenario = Scenario {
            shape,
            noise: 0.0,
            noise_recorded: false,
            drifted: 0,
            drift: 0.0,
        };
        let alarms = |rule| {
            (0..10)
                .map(|seed| {
                    let w = world(&scenario, 2_400 + seed);
                    let c = w.calibrate(&Arguments::defaults(), rule, &pool).unwrap();
                    w.measure(&c).false_alarms
                })
                .sum::<usize>()
        };
        let (score, robust) = (alarms(DriftRule::ScoreTest), alarms(DriftRule::RobustZ));
        eprintln!(
            "{:.0} answers per anchor: score test {score}, robust z {robust} false alarms of {}",
            shape.answers_per_item(),
            10 * shape.anchors
        );
        assert!(score <= most && score < robust, "{score} against {robust}");
    }
}
