// `mirt_calibrate` end to end on the demo database, checked with the seed's own queries.

#[pg_test]
fn seed_verification_queries_report_the_demo_counts() {
    load_demo();
    let summary: String = one("SELECT concat_ws('/', model, n_items, n_users, n_anchors, n_observations, converged) FROM mirt_calibrate('2PL', 60)");
    assert_eq!(summary, "2PL/150/500/50/12000/t");
    // 5.1, 5.2, 5.3 and 5.4 of the seed's verification.sql, verbatim in their counts.
    assert_eq!(one::<i64>("SELECT COUNT(*) FROM mirt_item_params WHERE fitted_at >= NOW() - INTERVAL '1 hour'"), 150);
    assert_eq!(one::<i64>("SELECT COUNT(*) FROM mirt_ability WHERE fitted_at >= NOW() - INTERVAL '1 hour'"), 500);
    let n_anchors: String = one("SELECT model_spec->>'n_anchors' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert_eq!(n_anchors, "50");
    // The demo's users are drawn on the anchors' scale: the link must map N(0, 1) onto their
    // sample's mean and SD, within three of its own standard errors.
    let constant = |key: &str| -> f64 {
        one(&format!("SELECT (model_spec->'linking_constants'->>'{key}')::float FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"))
    };
    let (true_mean, true_sd): (Option<f64>, Option<f64>) =
        Spi::get_two("SELECT avg(theta), stddev_pop(theta) FROM demo_users").unwrap();
    let (true_mean, true_sd) = (true_mean.unwrap(), true_sd.unwrap());
    let (slope, slope_se) = (constant("slope"), constant("slope_se"));
    let (intercept, intercept_se) = (constant("intercept"), constant("intercept_se"));
    assert!((slope - true_sd).abs() < 3.0 * slope_se, "slope {slope} ± {slope_se}, sample sd {true_sd}");
    assert!((intercept - true_mean).abs() < 3.0 * intercept_se, "intercept {intercept} ± {intercept_se}, sample mean {true_mean}");
    let correlation: f64 = one("SELECT corr(a.theta, u.theta) FROM mirt_ability a JOIN demo_users u ON u.user_id::text = a.user_id");
    assert!(correlation > 0.9, "{correlation}");
    assert!(one::<bool>("SELECT (metrics->>'aic')::float > 0 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"));
    assert_eq!(one::<i64>("SELECT COUNT(*) FROM question WHERE meta->'tags' @> '[\"anchor\"]'::jsonb"), 50);
    // The demo population has mean 0.3 and sd 1.1 on the anchors' scale.
    let (mean, sd): (Option<f64>, Option<f64>) = Spi::get_two("SELECT AVG(theta), STDDEV(theta) FROM mirt_ability").unwrap();
    let (mean, sd) = (mean.unwrap(), sd.unwrap());
    assert!((mean - 0.3).abs() < 0.2 && (sd - 1.1).abs() < 0.25, "mean {mean}, sd {sd}");
}

#[pg_test]
fn plain_select_form_works_and_two_runs_in_one_second_get_distinct_ids() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    assert_eq!(one::<i64>("SELECT count(DISTINCT run_id) FROM mirt_fit_meta"), 2);
    // Current tables keep one row per item and user; the history keeps every run.
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_item_params"), 150);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_item_params_history"), 300);
    assert!(one::<bool>("SELECT bool_and(run_id ~ '^fit-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?Z$') FROM mirt_fit_meta"));
}

#[pg_test]
fn every_linking_method_and_model_runs() {
    load_demo();
    for linking in ["stocking_lord", "haebara", "mean_sigma", "mean_mean", "fixed", "none"] {
        let n_anchors: i32 = one(&format!("SELECT n_anchors FROM mirt_calibrate('2PL', 60, linking => '{linking}')"));
        assert_eq!(n_anchors, if linking == "none" { 0 } else { 50 }, "{linking}");
        let method: String = one("SELECT model_spec->>'linking_method' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
        assert_eq!(method, linking);
    }
    for model in ["Rasch", "1PL", "3PL"] {
        assert!(one::<bool>(&format!("SELECT converged FROM mirt_calibrate('{model}', 60)")), "{model}");
        let stored: String = one("SELECT DISTINCT model FROM mirt_item_params");
        assert_eq!(stored, model);
    }
}

#[pg_test]
fn fixed_anchors_keep_their_stored_values() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60, linking => 'fixed')").unwrap();
    // The anchors the link used are held at their stored values; one the drift screening
    // flagged is calibrated freely instead.
    let (worst, held) = Spi::get_two::<f64, i64>(
        "SELECT max(abs((p.params->>'a')::float - (q.meta->'irt'->>'a')::float) + abs((p.params->>'b')::float - (q.meta->'irt'->>'b')::float)), count(*) \
         FROM mirt_item_params p JOIN question q ON q.id::text = p.item_id \
         WHERE p.item_id IN (SELECT jsonb_array_elements_text(model_spec->'anchors_used') FROM mirt_fit_meta)",
    )
    .unwrap();
    assert!(worst.unwrap() < 1e-9, "{worst:?}");
    let flagged: i64 = one("SELECT jsonb_array_length(model_spec->'anchor_drift'->'flagged') FROM mirt_fit_meta");
    assert_eq!(held.unwrap() + flagged, 50);
    let free: i64 = one("SELECT count(*) FROM mirt_item_params WHERE NOT (params->>'fixed')::boolean AND item_id IN (SELECT jsonb_array_elements_text(model_spec->'anchor_drift'->'flagged') FROM mirt_fit_meta)");
    assert_eq!(free, flagged);
}

#[pg_test]
fn health_and_run_status_answer_when_it_last_succeeded() {
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_run_status"), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_health() WHERE status = 'FAIL'"), 4);
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_health() WHERE status = 'OK'"), 4);
    let status: String = one(
        "SELECT concat_ws('/', status, n_items, n_users, n_observations, converged, age_seconds < 60, last_success_age_seconds < 60, duration_ms > 0) FROM mirt_run_status",
    );
    assert_eq!(status, "succeeded/150/500/12000/t/t/t/t");
    // The seed's final verification, with its last branch parenthesised as in docs/operations.md.
    let ok: i64 = one(
        "SELECT count(*) FILTER (WHERE status = 'OK') FROM (
           SELECT 'ExternalSecret' AS component, 'OK' AS status
           UNION ALL SELECT 'mirt_item_params', CASE WHEN COUNT(*) > 0 THEN 'OK' ELSE 'FAIL' END FROM mirt_item_params WHERE fitted_at >= NOW() - INTERVAL '1 day'
           UNION ALL SELECT 'mirt_ability', CASE WHEN COUNT(*) > 0 THEN 'OK' ELSE 'FAIL' END FROM mirt_ability WHERE fitted_at >= NOW() - INTERVAL '1 day'
           UNION ALL (SELECT 'linking_constants', CASE WHEN model_spec->'linking_constants' IS NOT NULL THEN 'OK' ELSE 'FAIL' END FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)
         ) v",
    );
    assert_eq!(ok, 4);
}
