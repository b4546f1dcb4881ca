// The trend across runs through the SQL path: each run continues every item's series from its
// latest row, and an item whose answers turn against it alarms.

fn latest_run() -> String {
    one("SELECT quote_literal(run_id) FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")
}

/// The latest run's window, moved a day into the past: as if it had run last night (a test's
/// runs share one transaction, so one now()).
fn move_latest_run_back_a_day() {
    Spi::run(&format!(
        "UPDATE mirt_fit_meta SET model_spec = jsonb_set(jsonb_set(model_spec, '{{window,start}}',
             to_jsonb((model_spec->'window'->>'start')::timestamptz - interval '1 day')),
             '{{window,end}}', to_jsonb((model_spec->'window'->>'end')::timestamptz - interval '1 day'))
         WHERE run_id = {}",
        latest_run()
    ))
    .unwrap();
}

#[pg_test]
fn each_run_continues_every_item_s_trend_and_a_turned_item_alarms() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    let first = latest_run();
    // Every calibrated item held at no stored value has a first row: the 100 new items and
    // the anchors, from their screening.
    let (rows, firsts, nulls): (i64, i64, i64) = (
        one(&format!("SELECT count(*) FROM mirt_item_trend WHERE run_id = {first}")),
        one(&format!("SELECT count(*) FROM mirt_item_trend WHERE run_id = {first} AND runs = 1 AND NOT alarm AND cusum_b_up = 0")),
        one(&format!("SELECT count(*) FROM mirt_item_trend WHERE run_id = {first} AND z_b IS NULL")),
    );
    let calibrated: i64 = one(&format!("SELECT count(*) FROM mirt_item_params_history WHERE run_id = {first}"));
    assert_eq!((rows, firsts, nulls), (calibrated, calibrated, calibrated));

    // A second run in the same transaction sees a window that has not moved: each series stands.
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    let same: i64 = one(&format!(
        "SELECT count(*) FROM mirt_item_trend WHERE run_id = {} AND runs = 1 AND z_b IS NULL",
        latest_run()
    ));
    assert_eq!(same, calibrated);

    // Night after night, four more of item 150's right answers turn wrong: its b climbs by
    // more than a day's answers can move it, the sum grows by z − 0.25 each night, and the item
    // alarms within twelve nights.
    let mut sum = 0.0;
    let mut nights: i32 = 0;
    let now = loop {
        nights += 1;
        let before = latest_run();
        move_latest_run_back_a_day();
        Spi::run(
            "UPDATE attempt_log SET is_correct = false WHERE id IN (
                 SELECT id FROM attempt_log WHERE question_id = 150 AND is_correct ORDER BY id LIMIT 4)",
        )
        .unwrap();
        Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
        let now = latest_run();
        let row = |column: &str| format!("SELECT {column} FROM mirt_item_trend WHERE run_id = {now} AND item_id = '150'");
        let (z_b, up, runs): (f64, f64, i32) = (one(&row("z_b")), one(&row("cusum_b_up")), one(&row("runs")));
        assert!(z_b > 0.25 && runs == nights + 1, "night {nights}: z_b {z_b}, runs {runs}");
        sum = (sum + z_b - 0.25f64).max(0.0);
        assert!((up - sum).abs() < 1e-9 * sum, "night {nights}: {up} against {sum}");
        // The standardised change is (b − b_prev) / √(se² + se_p² − 2ρ·se·se_p), ρ the share of
        // the previous run's answers still in the window (59 of its 60 days).
        let recomputed: f64 = one(&format!(
            "SELECT (t.b - p.b) / sqrt(t.se_b ^ 2 + p.se_b ^ 2 - 2 * least(p.n_responses * 59.0 / 60, t.n_responses)
                    / sqrt(p.n_responses * t.n_responses) * t.se_b * p.se_b)
             FROM mirt_item_trend t, mirt_item_trend p
             WHERE t.run_id = {now} AND p.run_id = {before} AND t.item_id = '150' AND p.item_id = '150'"
        ));
        assert!((recomputed - z_b).abs() < 1e-9 * z_b, "{recomputed} against {z_b}");
        if one::<bool>(&row("alarm")) || nights == 12 {
            break now;
        }
    };
    assert!(sum > 18.0, "no alarm after {nights} nights: {sum}");
    notice!("item 150 alarmed after {nights} nights, its sum at {sum}");
    let (status, reason): (String, String) = (
        one(&format!("SELECT status FROM mirt_item_fit WHERE run_id = {now} AND item_id = '150'")),
        one("SELECT reason FROM mirt_items_for_review WHERE item_id = '150'"),
    );
    assert_eq!(status, "trending");
    assert!(reason.starts_with("trend across runs: CUSUM b up"), "{reason}");
    let counted: i64 = one(&format!(
        "SELECT (metrics->'item_status'->>'trending')::int8 FROM mirt_fit_meta WHERE run_id = {now}"
    ));
    assert!(counted >= 1);
}
