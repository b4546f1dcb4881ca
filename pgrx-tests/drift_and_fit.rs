// Anchor drift, item fit and item status through the SQL path.

/// 4,000 users from N(0.5, 1.3²) answer 40 of 80 items; items 1–40 are anchors. Anchors 1–8
/// drifted: their stored b is one logit above what the answers now follow.
const DRIFTED_BANK: &str = "
SELECT setseed(0.3);
CREATE TEMP TABLE drift_truth AS
SELECT q AS id,
       exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS a,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS b
FROM generate_series(1, 80) q;
CREATE TABLE drift_question AS
SELECT id, CASE WHEN id <= 40 THEN jsonb_build_object('tags', '[\"anchor\"]'::jsonb,
                  'irt', jsonb_build_object('a', a, 'b', b + CASE WHEN id <= 8 THEN 1 ELSE 0 END))
                ELSE '{}'::jsonb END AS meta
FROM drift_truth;
CREATE TEMP TABLE drift_users AS
SELECT u AS user_id, 0.5 + 1.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS theta
FROM generate_series(1, 4000) u;
CREATE TABLE drift_attempt AS
SELECT u.user_id, t.id AS question_id, random() < 1 / (1 + exp(-t.a * (u.theta - t.b))) AS correct,
       now() - interval '1 day' AS created_at
FROM drift_users u CROSS JOIN LATERAL (SELECT id, a, b FROM drift_truth ORDER BY random() + u.user_id * 0 LIMIT 40) t;
";

fn calibrate_drifted(arguments: &str) -> (f64, f64) {
    let (slope, intercept) = Spi::get_two::<f64, f64>(&format!(
        "SELECT slope, intercept FROM mirt_calibrate('2PL', 60, source => 'drift_attempt', items => 'drift_question'{arguments})"
    ))
    .unwrap();
    (slope.unwrap(), intercept.unwrap())
}

fn last_run() -> String {
    one("SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")
}

/// The anchors the last screening of the latest run flagged, as sorted ids.
fn flagged_anchors() -> Vec<i32> {
    Spi::connect(|c| {
        c.select(
            "SELECT item_id::int FROM mirt_anchor_drift d WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)
               AND iteration = (SELECT max(iteration) FROM mirt_anchor_drift WHERE run_id = d.run_id) AND flagged ORDER BY 1",
            None,
            &[],
        )
        .unwrap()
        .map(|r| r.get::<i32>(1).unwrap().unwrap())
        .collect()
    })
}

#[pg_test]
fn drifted_anchors_are_caught_and_the_link_purified() {
    hold_run_lock();
    Spi::run(DRIFTED_BANK).unwrap();
    // Linked over every anchor, the 8 drifted ones pull the scale by about a fifth of a logit.
    let (_, all_intercept) = calibrate_drifted(", anchor_drift => 'flag'");
    let flagged = flagged_anchors();
    assert!((1..=8).all(|i| flagged.contains(&i)), "flag mode flagged {flagged:?}");
    assert!((all_intercept - 0.5).abs() > 0.1, "the drift should move the unpurified link: {all_intercept}");
    let used: i64 = one(&format!("SELECT jsonb_array_length(model_spec->'anchors_used') FROM mirt_fit_meta WHERE run_id = '{}'", last_run()));
    assert_eq!(used, 40, "flag mode links with every anchor");

    for linking in ["stocking_lord", "fixed"] {
        Spi::run("DELETE FROM mirt_anchor_drift").unwrap();
        let (slope, intercept) = calibrate_drifted(&format!(", linking => '{linking}'"));
        let flagged = flagged_anchors();
        notice!("{linking}: slope {slope:.3}, intercept {intercept:.3}, flagged {flagged:?}");
        assert!((1..=8).all(|i| flagged.contains(&i)) && flagged.len() <= 10, "{linking}: flagged {flagged:?}");
        assert!((slope - 1.3).abs() < 0.1 && (intercept - 0.5).abs() < 0.08, "{linking}: {slope} {intercept}");
        let run = last_run();
        let used: Vec<String> = Spi::get_one::<pgrx::JsonB>(&format!("SELECT model_spec->'anchors_used' FROM mirt_fit_meta WHERE run_id = '{run}'"))
            .unwrap()
            .map(|j| serde_json::from_value(j.0).unwrap())
            .unwrap();
        assert!(used.iter().all(|id| !flagged.contains(&id.parse().unwrap())), "{linking}: {used:?}");
        assert_eq!(used.len() + flagged.len(), 40);
        // Every screening recorded; the drifted anchors' statuses say so.
        let first: i64 = one(&format!("SELECT count(*) FROM mirt_anchor_drift WHERE run_id = '{run}' AND iteration = 1"));
        assert_eq!(first, 40);
        let drifted: i64 = one(&format!("SELECT count(*) FROM mirt_item_fit WHERE run_id = '{run}' AND status = 'drifted' AND item_id::int <= 8"));
        assert_eq!(drifted, 8, "{linking}");
        let z: f64 = one(&format!("SELECT min(z_b) FROM mirt_anchor_drift WHERE run_id = '{run}' AND item_id::int <= 8"));
        assert!(z < -2.576, "stored b above the data's: negative displacement, {z}");
        // Each anchor is judged by its own precision: every screened row has its SEs and
        // p-value, and a flag is exactly a p-value at most the recorded level (1 % for drift_z
        // 2.576).
        let untested: i64 = one(&format!("SELECT count(*) FROM mirt_anchor_drift WHERE run_id = '{run}' AND (se_a IS NULL OR se_b IS NULL OR chi2 IS NULL OR p_value IS NULL)"));
        assert_eq!(untested, 0, "{linking}");
        let wrong: i64 = one(&format!("SELECT count(*) FROM mirt_anchor_drift WHERE run_id = '{run}' AND flagged <> (p_value <= (SELECT (model_spec->'anchor_drift'->>'level')::float8 FROM mirt_fit_meta WHERE run_id = '{run}'))"));
        let level: f64 = one(&format!("SELECT (model_spec->'anchor_drift'->>'level')::float8 FROM mirt_fit_meta WHERE run_id = '{run}'"));
        assert!((level - 0.01).abs() < 1e-4, "{level}");
        assert_eq!(wrong, 0, "{linking}");
    }
}

#[pg_test]
fn too_few_anchors_after_purification_is_an_error_and_nothing_is_written() {
    hold_run_lock();
    Spi::run(DRIFTED_BANK).unwrap();
    let runs: i64 = one("SELECT count(*) FROM mirt_fit_meta");
    let error = error_of("SELECT mirt_calibrate('2PL', 60, source => 'drift_attempt', items => 'drift_question', min_anchors => 35)").unwrap();
    assert!(error.starts_with("22000: only ") && error.contains("fewer than min_anchors = 35"), "{error}");
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_fit_meta"), runs);
    // Recording the drift without purifying links with all 40.
    calibrate_drifted(", min_anchors => 35, anchor_drift => 'flag'");
}

/// The stored values' SEs, where `meta->'irt'` records them (`se_a`, `se_b`, as
/// `mirt_item_params.params` writes them), enter each anchor's test: its SE of b is the
/// answers' and the stored value's in quadrature, and a stored b known only to ±1 is not called
/// drifted for a logit.
#[pg_test]
fn recorded_standard_errors_of_the_stored_values_widen_the_drift_test() {
    hold_run_lock();
    Spi::run(DRIFTED_BANK).unwrap();
    let se_b = |item: i32| -> f64 {
        one(&format!("SELECT se_b FROM mirt_anchor_drift WHERE run_id = '{}' AND iteration = 1 AND item_id = '{item}'", last_run()))
    };
    let flagged_first = || -> i64 {
        one(&format!("SELECT count(*) FROM mirt_anchor_drift WHERE run_id = '{}' AND iteration = 1 AND flagged", last_run()))
    };
    calibrate_drifted(", linking => 'stocking_lord', anchor_drift => 'flag'");
    let before: Vec<f64> = [3, 20, 33].map(se_b).to_vec();
    assert!(flagged_first() >= 8);
    Spi::run("UPDATE drift_question SET meta = jsonb_set(meta, '{irt}', meta->'irt' || '{\"se_a\": 0.5, \"se_b\": 1.0}') WHERE id <= 40").unwrap();
    calibrate_drifted(", linking => 'stocking_lord', anchor_drift => 'flag'");
    for (item, before) in [3, 20, 33].into_iter().zip(before) {
        let after = se_b(item);
        // The answers' SE of b, widened by the spread of the pulls before, not after.
        assert!(after >= 1.0 && after * after - 1.0 <= before * before + 1e-9, "{item}: {before} → {after}");
    }
    assert_eq!(flagged_first(), 0);
}

fn anchors_used() -> Vec<i32> {
    let used: Vec<String> = Spi::get_one::<pgrx::JsonB>("SELECT model_spec->'anchors_used' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")
        .unwrap()
        .map(|j| serde_json::from_value(j.0).unwrap())
        .unwrap();
    used.iter().map(|id| id.parse().unwrap()).collect()
}

#[pg_test]
fn a_flagged_anchor_is_never_used_silently() {
    hold_run_lock();
    Spi::run(DRIFTED_BANK).unwrap();
    calibrate_drifted("");
    let flagged = flagged_anchors();
    // A run that does not screen holds them out and says why.
    calibrate_drifted(", anchor_drift => 'off'");
    let run = last_run();
    let screened: i64 = one(&format!("SELECT count(*) FROM mirt_anchor_drift WHERE run_id = '{run}'"));
    assert_eq!(screened, 0);
    let held: i64 = one(&format!(
        "SELECT count(*) FROM mirt_item_fit WHERE run_id = '{run}' AND status = 'drifted' AND reason LIKE 'anchor held out: flagged as drifted by run %'"
    ));
    assert_eq!(held as usize, flagged.len());
    assert!(anchors_used().iter().all(|i| !flagged.contains(i)));
    assert_eq!(anchors_used().len(), 40 - flagged.len());
    let review: i64 = one("SELECT count(*) FROM mirt_items_for_review WHERE status = 'drifted'");
    assert_eq!(review as usize, flagged.len());
    // A screening run starts without them and screens them again: still drifted, still out.
    calibrate_drifted("");
    assert!(anchors_used().iter().all(|i| !flagged.contains(i)));
    assert!((1..=8).all(|i| flagged_anchors().contains(&i)));
    // Reviewed: anchor 1's stored parameters corrected to what the answers follow; it passes
    // the screening and is back in the link.
    Spi::run("UPDATE drift_question q SET meta = jsonb_set(meta, '{irt,b}', to_jsonb(t.b)) FROM drift_truth t WHERE q.id = 1 AND t.id = 1").unwrap();
    calibrate_drifted("");
    assert!(!flagged_anchors().contains(&1) && anchors_used().contains(&1), "{:?}", flagged_anchors());
}

/// LSAT7 (as in standard_errors.rs) fitted to mirt's estimates: the written item fit is mirt's
/// itemfit() (shared/fixtures/fit/mirt_itemfit.json, LSAT7_2PL) to 1e-6.
#[pg_test]
fn written_item_fit_is_mirts() {
    hold_run_lock();
    Spi::run(&lsat7()).unwrap();
    // mirt's estimates: its own EM path, no priors, its tolerance.
    Spi::run("SELECT mirt_calibrate('2PL', 60, source => 'lsat7', items => 'lsat7_items', linking => 'none', priors => 'none', algorithm => 'mirt')").unwrap();
    // (S-X2, df, p, RMSEA, outfit, z.outfit, infit, z.infit)
    let mirt = [
        (4.74909403058855, 2, 0.0930566328961886, 0.0370934352444271, 0.775658443289269, -3.14327576276169, 0.958139297090626, -0.70286945165799),
        (14.4526794223193, 2, 0.000727177678168761, 0.0789466420023238, 0.736722226630387, -7.76690480128142, 0.815930139288434, -6.36349822912621),
        (1.27021731245296, 2, 0.529877910655272, 0.0, 0.484863124444731, -7.05177016769543, 0.75035998362935, -5.21285677853113),
        (5.23751733354703, 2, 0.0728932915545265, 0.0402539320541402, 0.855120324908769, -6.56652172317016, 0.881351303382758, -5.81075016345452),
        (0.940669910911318, 2, 0.62479295542034, 0.0, 0.866174985535893, -1.90322634728016, 0.989214942184945, -0.154214418864698),
    ];
    let close = |ours: f64, theirs: f64| (ours - theirs).abs() <= 1e-6 * theirs.abs().max(1e-3);
    for (j, m) in mirt.iter().enumerate() {
        let row = Spi::connect(|c| {
            let r = c
                .select(
                    &format!("SELECT s_x2, s_x2_df, s_x2_p, s_x2_rmsea, outfit, outfit_z, infit, infit_z, status FROM mirt_item_fit \
                              WHERE item_id = '{}' AND run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)", j + 1),
                    None,
                    &[],
                )
                .unwrap()
                .first();
            let f = |i| r.get::<f64>(i).unwrap().unwrap();
            (f(1), r.get::<i32>(2).unwrap().unwrap(), f(3), f(4), f(5), f(6), f(7), f(8), r.get::<String>(9).unwrap().unwrap())
        });
        assert!(close(row.0, m.0) && row.1 == m.1 && close(row.2, m.2) && close(row.3, m.3), "item {}: {row:?} vs {m:?}", j + 1);
        assert!(close(row.4, m.4) && close(row.5, m.5) && close(row.6, m.6) && close(row.7, m.7), "item {}: {row:?} vs {m:?}", j + 1);
        // Item 2 misfits by S-X2 at 0.01, as mirt's p says.
        assert_eq!(row.8, if j == 1 { "misfit" } else { "ok" }, "item {}", j + 1);
    }
    // RMSD_DIF on 201 points.
    let rmsd = [0.00362699411794013, 0.00486289244994806, 0.000497863396694392, 0.00717186431451576, 0.0017995721817276];
    for (j, m) in rmsd.iter().enumerate() {
        let ours: f64 = one(&format!("SELECT rmsd FROM mirt_item_fit WHERE item_id = '{}' ORDER BY run_id DESC LIMIT 1", j + 1));
        assert!((ours / m - 1.0).abs() < 1e-6, "item {}: RMSD {ours}, mirt {m}", j + 1);
    }
    // personfit(): every person's Zh; their mean, SD and the count below -1.96.
    let (written, mean, sd) = Spi::get_three::<i64, f64, f64>("SELECT count(zh), avg(zh), stddev(zh) FROM mirt_ability").unwrap();
    assert_eq!(written, Some(1000));
    assert!((mean.unwrap() / 0.189487464555342 - 1.0).abs() < 1e-6, "{mean:?}");
    assert!((sd.unwrap() / 0.740597305093709 - 1.0).abs() < 1e-6, "{sd:?}");
    let below: i64 = one("SELECT (metrics->>'persons_zh_below_-1.96')::bigint FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert_eq!(below, 21);
}
