//! The report of a run built from mirt's LSAT7 2PL estimates (shared/fixtures/classic/
//! LSAT7_2PL.json) with made-up but consistent run metadata, and of documents that lack pieces
//! or are not report documents at all.

use irt_report::render;
use serde_json::{json, Value};

/// mirt 1.46.1's LSAT7 2PL slope–intercept estimates (a1, d), items 1–5.
const LSAT7_2PL: [(f64, f64); 5] = [
    (0.987925399745112, 1.85606045856675),
    (1.08088470444055, 0.807978642147462),
    (1.70580060870275, 1.80421874718711),
    (0.765185299281648, 0.485996602637005),
    (0.735797967264795, 1.8545127300244),
];

const SECTIONS: [&str; 11] = [
    "summary",
    "linking",
    "test-curves",
    "item-curves",
    "parameters",
    "anchors",
    "dif",
    "trends",
    "abilities",
    "convergence",
    "failures",
];

fn fit(status: &str, reason: Value) -> Value {
    json!({"s_x2": 3.1, "s_x2_df": 2, "s_x2_p": 0.21, "s_x2_rmsea": 0.01, "infit": 0.98,
           "infit_z": -0.4, "outfit": 1.02, "outfit_z": 0.3, "rmsd": 0.02, "status": status,
           "reason": reason})
}

/// A 2PL item row as the report query returns it; b = −d/a.
fn item(id: &str, a: f64, d: f64, status: &str, reason: Value) -> Value {
    json!({"item_id": id, "model": "2PL",
           "params": {"a": a, "b": -d / a, "c": 0.0, "d": d, "se_a": 0.1 * a, "se_b": 0.08,
                      "se_c": 0.0, "se_d": 0.07, "fixed": false},
           "n_responses": 1000, "p_value": 0.6, "fit": fit(status, reason)})
}

/// Anchors 1–3, two screenings, anchor 3 flagged in both: its stored b is a logit higher.
fn drift() -> Vec<Value> {
    let mut rows = Vec::new();
    for iteration in 1..=2 {
        for (k, &(a, d)) in LSAT7_2PL.iter().take(3).enumerate() {
            let b = -d / a;
            let flagged = k == 2;
            let stored_b = if flagged { b + 1.0 } else { b + 0.02 };
            rows.push(
                json!({"iteration": iteration, "item_id": (k + 1).to_string(),
                "stored_a": a * 1.01, "stored_b": stored_b, "stored_c": 0.0,
                "new_a": a, "new_b": b, "new_c": 0.0,
                "d_a": -(1.01f64).ln(), "d_b": b - stored_b,
                "z_a": 0.3, "z_b": if flagged { -4.1 } else { 0.2 },
                "area": if flagged { 0.21 } else { 0.01 }, "flagged": flagged}),
            );
        }
    }
    rows
}

/// N(0, 1) abilities of 1,000 users in bins of 0.25 on [−3, 3].
fn abilities() -> Value {
    let bins: Vec<Value> = (0..24)
        .map(|k| {
            let lo = -3.0 + 0.25 * k as f64;
            let mid = lo + 0.125;
            let density = (-0.5 * mid * mid).exp() / (2.0 * std::f64::consts::PI).sqrt();
            json!({"lo": lo, "hi": lo + 0.25, "count": (1000.0 * 0.25 * density).round()})
        })
        .collect();
    json!({"n": 1000, "mean": 0.01, "sd": 0.83, "bins": bins})
}

fn lsat7() -> Value {
    let items = vec![
        item("1", LSAT7_2PL[0].0, LSAT7_2PL[0].1, "ok", Value::Null),
        item("2", LSAT7_2PL[1].0, LSAT7_2PL[1].1, "ok", Value::Null),
        item(
            "3",
            LSAT7_2PL[2].0,
            LSAT7_2PL[2].1,
            "drifted",
            json!("anchor flagged by drift screening: z_a 0.30, z_b -4.10, area 0.210"),
        ),
        item(
            "4",
            LSAT7_2PL[3].0,
            LSAT7_2PL[3].1,
            "misfit",
            json!("RMSD 0.106 > 0.1"),
        ),
        item(
            "5",
            LSAT7_2PL[4].0,
            LSAT7_2PL[4].1,
            "low_discrimination",
            json!("proportion correct 0.961 outside [0.05, 0.95]"),
        ),
        json!({"item_id": "6", "model": "2PL", "params": null, "n_responses": 3, "p_value": 1.0,
               "fit": {"status": "excluded", "reason": "3 answers, fewer than min_responses 50"}}),
    ];
    json!({
        "requested": null,
        "run": {
            "run_id": "fit-2026-11-30T19:48:17Z", "status": "succeeded",
            "fitted_at": "2026-11-30T19:48:17.1+00:00",
            "model_spec": {
                "model": "2PL", "n_items": 5, "n_users": 1000, "n_anchors": 2,
                "n_observations": 5000, "linking_method": "stocking_lord",
                "linking_constants": {"slope": 0.99, "slope_se": 0.008, "intercept": 0.012,
                                      "intercept_se": 0.009},
                "latent": {"mean": 0.012, "variance": 0.979}, "priors": "default",
                "algorithm": "squarem",
                "window": {"start": "2026-10-01T19:48:17+00:00", "end": "2026-11-30T19:48:17+00:00"},
                "lookback_days": 60, "source": "attempt", "items": "question", "threads": 2,
                "tolerance": 1e-4, "quadrature": {"points": 61, "range": [-6, 6]},
                "written_by": "extension", "extension_version": "0.2.0",
                "excluded_items": [{"item_id": "6", "reason": "3 answers, fewer than min_responses 50"}],
                "anchors_used": ["1", "2"],
                "anchor_drift": {"mode": "purify", "z": 2.576, "screenings": 2, "flagged": ["3"]},
                "skipped_rows": {"null_correct": 4},
                "se_method": "crossprod"
            },
            "metrics": {
                "ms": {"load": 115.2, "fit": 365.4, "link": 3.3, "score": 26.6, "item_fit": 111.6,
                       "write": 69.6, "total": 695.4},
                "loglik": -2658.80512782027, "aic": 5337.61025564054, "bic": 5386.68780843037,
                "n_params": 10, "converged": true, "em_cycles": 6, "max_change": 3.6e-5,
                "se_status": "ok",
                "item_status": {"ok": 2, "misfit": 1, "drifted": 1, "excluded": 1,
                                "low_discrimination": 1},
                "anchors_flagged": 1, "persons_zh_below_-1.96": 29,
                "em_trace": [-2900.4, -2701.2, -2665.0, -2659.6, -2658.9, -2658.81]
            }
        },
        "items": items,
        "drift": drift(),
        "abilities": abilities(),
        "failures": [{"at": "2026-12-01T02:00:00+00:00",
                      "message": "ERROR: could not obtain lock on relation \"mirt_fit_meta\""}]
    })
}

/// The `<figure class="icc" …>` elements: (data-item, inner markup).
fn icc_figures(html: &str) -> Vec<(String, String)> {
    html.split("<figure class=\"icc\" data-item=\"")
        .skip(1)
        .map(|rest| {
            let (id, rest) = rest.split_once('"').expect("data-item is quoted");
            let (inner, _) = rest.split_once("</figure>").expect("figure is closed");
            (id.to_string(), inner.to_string())
        })
        .collect()
}

/// "NaN", or "inf" standing alone as Rust prints an infinite float ("inf", "-inf").
fn non_finite(html: &str) -> Option<String> {
    if html.contains("NaN") {
        return Some("NaN".into());
    }
    html.match_indices("inf").find_map(|(i, _)| {
        let before = html[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic);
        let after = html[i + 3..]
            .chars()
            .next()
            .is_some_and(char::is_alphabetic);
        (!before && !after)
            .then(|| html[i.saturating_sub(40)..(i + 10).min(html.len())].to_string())
    })
}

fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..].find("</section>").expect("section closed");
    &html[start..start + end]
}

#[test]
fn every_section_is_there() {
    let html = render(&lsat7());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in SECTIONS {
        assert_eq!(
            html.matches(&format!("<section id=\"{id}\">")).count(),
            1,
            "{id}"
        );
    }
    assert!(!html.contains("<script"));
    assert!(html.contains("fit-2026-11-30T19:48:17Z"));
    assert!(html.contains("1,000"), "user count grouped");
}

#[test]
fn without_failures_there_is_no_failures_section() {
    for failures in [json!([]), Value::Null] {
        let mut doc = lsat7();
        doc["failures"] = failures;
        let html = render(&doc);
        let ids: Vec<&str> = html
            .match_indices("<section id=\"")
            .map(|(at, m)| {
                let rest = &html[at + m.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(ids, SECTIONS[..10]);
    }
}

#[test]
fn one_icc_per_anchor_and_item_to_review() {
    let html = render(&lsat7());
    let figures = icc_figures(&html);
    let ids: Vec<&str> = figures.iter().map(|(id, _)| id.as_str()).collect();
    // Anchors used (1, 2), then the screened anchor 3, then items 4 and 5 to review; the
    // excluded item 6 has no parameters and is listed in words.
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    for (id, inner) in &figures {
        assert_eq!(inner.matches("<svg").count(), 1, "item {id}");
        let curves = if ["1", "2", "3"].contains(&id.as_str()) {
            2
        } else {
            1
        };
        assert_eq!(inner.matches("<polyline").count(), curves, "item {id}");
    }
    let item_curves = section(&html, "item-curves");
    assert!(item_curves.contains("No curve can be drawn"));
    assert!(item_curves.contains("<code>6</code> (excluded: 3 answers"));
}

/// An item scored in categories draws one curve per category, from its written params.
#[test]
fn an_item_in_categories_draws_its_category_curves() {
    let mut doc = lsat7();
    doc["items"][3]["params"] = json!({
        "model": "GRM", "categories": 4, "scores": [0, 1, 2, 3], "a": 1.3, "b": 0.1, "c": 0,
        "thresholds": [-1.0, 0.2, 1.1], "intercepts": [1.3, -0.26, -1.43], "fixed": false
    });
    let html = render(&doc);
    let figures = icc_figures(&html);
    let (_, inner) = figures
        .iter()
        .find(|(id, _)| id == "4")
        .expect("item 4 is drawn");
    assert_eq!(inner.matches("<polyline").count(), 4);
}

#[test]
fn flagged_anchors_are_listed_and_marked() {
    let html = render(&lsat7());
    let anchors = section(&html, "anchors");
    assert!(anchors.contains("number 2 of the run"));
    assert!(anchors.contains("Flagged</span> (1): <code>3</code>"));
    assert_eq!(anchors.matches("<svg").count(), 2, "b and a scatters");
    // Each scatter: the line of no change is its one polyline, the flagged anchor a cross.
    assert_eq!(anchors.matches("<polyline").count(), 2);
    assert_eq!(anchors.matches("<tr class=\"flagged\">").count(), 1);
}

#[test]
fn the_linking_constants_have_intervals() {
    let html = render(&lsat7());
    let linking = section(&html, "linking");
    // 0.99 ± 1.959964 · 0.008
    assert!(linking.contains("[0.9743, 1.006]"), "{linking}");
    assert!(linking.contains("0.99·θ + 0.012"));
    assert!(!linking.contains("No standard errors"));
}

/// A run with groups: the histogram's line is the groups' mixture, each group's share is a line
/// of its own, and the caption names each by colour with its distribution and persons; a group
/// recorded without a usable distribution is left out.
#[test]
fn a_run_with_groups_draws_each_group_s_density() {
    let mut doc = lsat7();
    doc["run"]["model_spec"]["groups"] = json!({"column": "cohort", "reference": "ref", "groups": [
        {"group": "ref", "persons": 600, "mean": 0.0, "variance": 1.0},
        {"group": "<focal>", "persons": 400, "mean": -0.5, "variance": 1.2},
        {"group": "empty", "persons": 0, "mean": 0.0, "variance": 1.0},
    ]});
    let html = render(&doc);
    let abilities = section(&html, "abilities");
    assert_eq!(
        abilities.matches("<polyline").count(),
        3,
        "the mixture and two groups"
    );
    assert!(
        abilities.contains(
            "blue: ref N(0, 1), 600 persons; red: &lt;focal&gt; N(-0.5, 1.2), 400 persons"
        ),
        "{abilities}"
    );
    assert!(!abilities.contains("empty"));
}

/// A run with groups: the DIF section says what each focal group's screening did, draws each
/// flagged item's curve in the reference and the focal group (one curve where only
/// Mantel–Haenszel flagged it), and lists its statistics; unflagged items are not drawn. A run
/// without groups says it screened nothing.
#[test]
fn a_run_with_groups_shows_its_dif() {
    let without = render(&lsat7());
    assert!(section(&without, "dif").contains("This run has no groups of persons"));
    let mut doc = lsat7();
    doc["run"]["model_spec"]["dif"] = json!({"level": 0.05, "flagged": 2, "focal_groups": [
        {"group": "<focal>", "matching": "number_right", "screenings": 3, "lr_tested": 1, "lr_skipped": null},
    ]});
    let row = |id: &str, class: &str, flagged: bool, tested: bool| {
        let params = |b: f64| {
            if tested {
                json!({"a": 1.2, "b": b, "c": 0.0})
            } else {
                Value::Null
            }
        };
        json!({"item_id": id, "focal_group": "<focal>", "reference_group": "ref", "n_focal": 400,
               "n_reference": 600, "ets_delta": -1.8, "ets_class": class, "mh_p_adjusted": 1e-6,
               "lr_x2": if tested { json!(40.2) } else { Value::Null }, "lr_df": 2,
               "lr_p_adjusted": 2e-9, "signed_area": 0.7, "unsigned_area": 0.7,
               "reference_params": params(0.1), "focal_params": params(0.8), "flagged": flagged})
    };
    doc["dif"] = json!([
        row("1", "C", true, true),
        row("2", "B", true, false),
        row("3", "A", false, false)
    ]);
    let html = render(&doc);
    let dif = section(&html, "dif");
    assert!(
        dif.contains("<code>&lt;focal&gt;</code>: matched on the number-right score"),
        "{dif}"
    );
    assert!(
        dif.contains("3 screenings; 1 item tested by likelihood ratio; 2 items flagged"),
        "{dif}"
    );
    let figures = icc_figures(dif);
    assert_eq!(
        figures
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(
        figures[0].1.matches("<polyline").count(),
        2,
        "reference and focal"
    );
    assert_eq!(
        figures[1].1.matches("<polyline").count(),
        1,
        "the run's one curve"
    );
    assert!(figures[1].1.contains("not tested by likelihood ratio"));
    assert!(figures[0].1.contains("&lt;focal&gt; against ref: ETS C"));
    assert_eq!(dif.matches("<tr class=\"dif\">").count(), 2);
}

#[test]
fn an_alarming_trend_shows_its_series() {
    let without = render(&lsat7());
    assert!(section(&without, "trends").contains("no trends across runs"));
    let mut doc = lsat7();
    doc["run"]["model_spec"]["trend"] =
        json!({"reference": 0.25, "decision": 18, "items": 5, "alarms": 1});
    assert!(section(&render(&doc), "trends").contains("No item's trend alarms."));
    let history: Vec<Value> = (0..12)
        .map(|i| json!({"b": 0.1 * i as f64, "se_b": 0.2}))
        .collect();
    doc["trend"] = json!([{"item_id": "<7>", "runs": 12, "b": 1.1, "z_b": 6.5, "z_a": -0.3,
        "cusum_b_up": 19.2, "cusum_b_down": 0, "cusum_a_up": 0.4, "cusum_a_down": 0,
        "history": history}]);
    let html = render(&doc);
    let trends = section(&html, "trends");
    assert!(
        trends.contains("5 items with a series this run, 1 alarming"),
        "{trends}"
    );
    let (_, figure) = trends
        .split_once("<figure class=\"trend\" data-item=\"&lt;7&gt;\"")
        .expect("the item's series is drawn");
    let (figure, _) = figure.split_once("</figure>").unwrap();
    assert_eq!(figure.matches("<polyline").count(), 3, "b and its band");
    assert!(figure.contains("b over its last 12 runs"));
    assert_eq!(trends.matches("<tr class=\"trending\">").count(), 1);
    assert!(trends.contains("19.2"));
}

#[test]
fn curves_histogram_and_trace_are_drawn() {
    let html = render(&lsat7());
    let tests = section(&html, "test-curves");
    assert_eq!(tests.matches("<svg").count(), 3);
    assert_eq!(tests.matches("<polyline").count(), 3);
    assert!(tests.contains("Over the 5 items with parameters"));
    let abilities = section(&html, "abilities");
    assert_eq!(
        abilities.matches("<polyline").count(),
        1,
        "the latent density"
    );
    assert!(abilities.matches("<rect").count() >= 24, "one bar per bin");
    let convergence = section(&html, "convergence");
    assert_eq!(convergence.matches("<polyline").count(), 1);
    assert_eq!(
        convergence.matches("<circle").count(),
        6,
        "one marker per cycle"
    );
}

#[test]
fn the_summary_shows_settings_metrics_and_unknown_keys() {
    let html = render(&lsat7());
    let summary = section(&html, "summary");
    for expected in [
        "extension 0.2.0",
        "61 points on [-6, 6]",
        "-2658.8",
        "2 ok, 1 misfit, 1 low_discrimination, 1 drifted, 1 excluded",
        "<code>6</code> (3 answers, fewer than min_responses 50)",
        "se_method",
        "crossprod",
        "item_fit",
        "695.4",
    ] {
        assert!(summary.contains(expected), "{expected}");
    }
    assert!(!summary.contains("class=\"warning\""));
    let failures = section(&html, "failures");
    assert!(failures.contains("could not obtain lock on relation &quot;mirt_fit_meta&quot;"));
}

#[test]
fn no_number_is_nan_or_infinite() {
    let mut doc = lsat7();
    // An item far off the scale, an anchor whose stored b is absurd, a tiny slope.
    doc["items"][0]["params"]["b"] = json!(1e6);
    doc["items"][1]["params"]["a"] = json!(1e-300);
    doc["drift"][3]["stored_b"] = json!(1e300);
    doc["run"]["metrics"]["aic"] = json!(1e308);
    let html = render(&doc);
    assert_eq!(non_finite(&html), None);
    assert!(section(&html, "anchors").contains("Not drawn: 1 anchor outside [-10, 10]"));
    assert_eq!(non_finite(&render(&lsat7())), None);
}

#[test]
fn the_c_column_shows_only_with_guessing() {
    assert!(!section(&render(&lsat7()), "parameters").contains("c (SE)"));
    let mut doc = lsat7();
    doc["items"][0]["params"]["c"] = json!(0.2);
    let parameters = render(&doc);
    let parameters = section(&parameters, "parameters");
    assert!(parameters.contains("c (SE)"));
    assert!(parameters.contains("0.200 (0.000)"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render(&lsat7()), render(&lsat7()));
}

#[test]
fn text_from_the_document_is_escaped() {
    let hostile = "<script>alert('x')</script>";
    let mut doc = lsat7();
    doc["items"][3]["item_id"] = json!(hostile);
    doc["items"][3]["fit"]["reason"] = json!("<img src=x onerror=alert(1)>");
    doc["run"]["run_id"] = json!("fit-\"><b>");
    doc["failures"][0]["message"] = json!("</code><script>");
    let html = render(&doc);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("\"><b>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    let ids: Vec<String> = icc_figures(&html).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;".to_string()));
}

#[test]
fn a_run_without_anchors_says_so() {
    let mut doc = lsat7();
    let spec = doc["run"]["model_spec"].as_object_mut().unwrap();
    for key in ["linking_constants", "anchors_used", "anchor_drift"] {
        spec.remove(key);
    }
    spec.insert("linking_method".into(), json!("none"));
    spec.insert("n_anchors".into(), json!(0));
    doc["drift"] = json!([]);
    for k in 0..3 {
        doc["items"][k]["fit"]["status"] = json!("ok");
    }
    let html = render(&doc);
    assert!(section(&html, "linking")
        .contains("This run has no anchors: the scale is the calibration's own"));
    assert!(section(&html, "anchors").contains("This run has no anchors"));
    assert!(section(&html, "item-curves").contains("This run has no anchors"));
    assert!(
        html.contains("no anchors"),
        "as mirt_report's test reads it"
    );
    let ids: Vec<String> = icc_figures(&html).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["4", "5"]);
    assert!(!section(&html, "parameters").contains("anchor</span>"));
}

#[test]
fn a_run_without_standard_errors_says_so() {
    let mut doc = lsat7();
    for item in doc["items"].as_array_mut().unwrap() {
        if let Some(params) = item["params"].as_object_mut() {
            params.retain(|k, _| !k.starts_with("se_"));
        }
    }
    let constants = doc["run"]["model_spec"]["linking_constants"]
        .as_object_mut()
        .unwrap();
    constants.insert("slope_se".into(), Value::Null);
    constants.remove("intercept_se");
    doc["run"]["metrics"]["se_status"] = json!("skipped");
    let html = render(&doc);
    assert!(section(&html, "linking").contains("no standard errors of the linking constants"));
    assert!(section(&html, "summary").contains("no standard errors: none were asked for"));
    let parameters = section(&html, "parameters");
    assert!(parameters.contains("there are no standard errors of the item parameters"));
    assert!(parameters.contains("<td>0.988</td>"), "a without an SE");
    assert!(!parameters.contains("(0.0"));
}

#[test]
fn a_run_without_item_fit_trace_or_abilities_says_so() {
    let mut doc = lsat7();
    for item in doc["items"].as_array_mut().unwrap() {
        item["fit"] = Value::Null;
    }
    doc["run"]["metrics"]
        .as_object_mut()
        .unwrap()
        .remove("em_trace");
    doc["abilities"] = json!({"n": 0, "bins": []});
    doc["run"]["status"] = json!("not_converged");
    let html = render(&doc);
    assert!(section(&html, "item-curves").contains("No item fit is recorded"));
    assert!(section(&html, "convergence").contains("not recorded for this run"));
    assert!(section(&html, "abilities").contains("No abilities of this run remain"));
    assert!(section(&html, "summary").contains("This run did not converge"));
    // Anchors are still drawn; nothing else is to review.
    assert_eq!(icc_figures(&html).len(), 3);
}

#[test]
fn no_run_explains_why_and_lists_failures() {
    let doc = json!({"requested": "fit-2026-11-30T02:00:00Z", "run": null, "items": [],
                     "drift": [], "abilities": null,
                     "failures": [{"at": "2026-11-30T02:00:00+00:00", "message": "ERROR: boom"}]});
    let html = render(&doc);
    let summary = section(&html, "summary");
    assert!(summary.contains("There is no run with id <code>fit-2026-11-30T02:00:00Z</code>"));
    assert!(summary.contains("its transaction rolls back"));
    assert!(section(&html, "failures").contains("ERROR: boom"));
    assert!(!html.contains("<section id=\"linking\">"));

    let html = render(&json!({"requested": null, "run": null, "failures": []}));
    assert!(section(&html, "summary").contains("There is no run yet"));
    assert!(html.contains("no run"), "as mirt_report's test reads it");
    assert!(section(&html, "summary").contains("No failed scheduled run is recorded either"));
    assert!(!html.contains("<section id=\"failures\">"));
}

#[test]
fn anything_that_is_not_a_report_renders_without_panicking() {
    let garbage = [
        json!({}),
        json!(null),
        json!([1, 2]),
        json!("a string"),
        json!(42),
        json!({"run": {"model_spec": 5, "metrics": "x", "status": 3, "run_id": ["x"]},
               "items": [1, {"item_id": {}}, {"params": "x", "fit": []},
                         {"item_id": "9", "params": {"a": "1", "b": null}, "fit": {"status": 7}}],
               "drift": "no", "abilities": {"n": "many", "bins": [1, {"lo": 2, "hi": 1}]},
               "failures": [3, {"at": 1}]}),
        json!({"run": {"model_spec": {"latent": {"mean": 1e300, "variance": -1},
                                      "linking_constants": {"slope": "x"},
                                      "excluded_items": "all", "quadrature": [1],
                                      "anchors_used": [1, null, {"x": 1}]},
                       "metrics": {"em_trace": [null, "x", -5], "ms": [1], "item_status": 3}},
               "items": [{"item_id": 1, "params": {"a": 1, "b": 0, "c": 2},
                          "fit": {"status": "misfit"}}],
               "drift": [{"item_id": 1, "iteration": "x", "flagged": "yes"}],
               "abilities": {"n": 10, "bins": [{"lo": 0, "hi": 1, "count": 10}]}}),
        // Numbers at the ends of f64: axes that cannot be drawn are said to be so.
        json!({"run": {"model_spec": {"latent": {"mean": 0.5, "variance": 1e-300},
                                      "anchors_used": ["1"]},
                       "metrics": {"em_trace": [-1e300, 1e300, 5]}},
               "items": [{"item_id": "1", "params": {"a": 1e-300, "b": 1e300, "c": 0.0},
                          "fit": {"status": "misfit"}},
                         {"item_id": "2", "params": {"a": 1e300, "b": -1e300, "c": 0.5},
                          "fit": {"status": "ok"}}],
               "drift": [{"item_id": "1", "iteration": 1, "stored_a": 1e308, "stored_b": -1e308,
                          "stored_c": 0, "new_a": 1e-308, "new_b": 1e308, "new_c": 0,
                          "flagged": true}],
               "abilities": {"n": 1e300, "bins": [{"lo": -1e308, "hi": 1e308, "count": 1e308},
                                                  {"lo": 5, "hi": 5.0000000000001, "count": 1}]}}),
        json!({"run": {"metrics": {"em_trace": [-654642.9, -654642.9]}},
               "abilities": {"n": 5, "bins": [{"lo": 1e6, "hi": 1.0000000000001e6, "count": 5}]}}),
    ];
    for doc in &garbage {
        let html = render(doc);
        assert!(html.ends_with("</html>\n"), "{doc}");
        assert_eq!(non_finite(&html), None, "{doc}");
        assert!(html.contains("<section id=\"summary\">"), "{doc}");
    }
    assert!(render(&json!({})).contains("There is no run yet"));
    assert!(render(&json!([1, 2])).contains("not a JSON object"));
    assert!(render(&json!("a string")).contains("not a JSON object"));
    let wrong = render(&garbage[5]);
    assert!(wrong.contains("<code>model_spec</code> is not recorded"));
    assert!(wrong.contains("<code>3</code>, which this report does not know"));
}

/// 400 items (60 anchors, 34 more to review), 20,000 users: the size a real run's report has.
fn bank_of_400() -> Value {
    let mut doc = lsat7();
    let items: Vec<Value> = (0..400)
        .map(|k| {
            let a = 0.6 + 0.9 * ((k as f64 * 0.37).sin() + 1.0) / 2.0;
            let d = -2.5 * (k as f64 * 0.61).cos();
            let (status, reason) = match k % 10 {
                3 => ("misfit", json!("RMSD 0.114 > 0.1")),
                _ => ("ok", Value::Null),
            };
            item(&(k + 1).to_string(), a, d, status, reason)
        })
        .collect();
    let drift: Vec<Value> = (0..60)
        .map(|k| {
            let p = &items[k]["params"];
            let (a, b) = (p["a"].as_f64().unwrap(), p["b"].as_f64().unwrap());
            json!({"iteration": 1, "item_id": (k + 1).to_string(), "stored_a": a, "stored_b": b + 0.05,
                   "stored_c": 0.0, "new_a": a, "new_b": b, "new_c": 0.0, "d_a": 0.0,
                   "d_b": -0.05, "z_a": 0.1, "z_b": -0.2, "area": 0.01, "flagged": k == 48})
        })
        .collect();
    doc["items"] = Value::Array(items);
    doc["drift"] = Value::Array(drift);
    doc["run"]["model_spec"]["anchors_used"] =
        json!((1..=60).map(|k| k.to_string()).collect::<Vec<_>>());
    doc["abilities"]["n"] = json!(20000);
    doc
}

#[test]
fn a_400_item_report_stays_small() {
    let html = render(&bank_of_400());
    eprintln!("400-item report: {} bytes", html.len());
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    assert_eq!(icc_figures(&html).len(), 60 + 34);
    assert!(section(&html, "parameters").matches("<tr").count() == 401);
}

/// With IRT_REPORT_EXAMPLE=path, writes the LSAT7 report there to look at in a browser.
#[test]
fn example_report_on_request() {
    if let Some(path) = std::env::var_os("IRT_REPORT_EXAMPLE") {
        std::fs::write(&path, render(&lsat7())).expect("the example report is written");
    }
}
