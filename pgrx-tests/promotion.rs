// Promotion and retirement of anchors through SQL: a dry run proposes, `apply` changes the bank
// and records each change, and the next run anchors on what was promoted.

#[pg_test]
fn stable_new_items_are_promoted_and_a_drifted_anchor_retired() {
    load_demo();
    // Anchor 1's stored b three logits off what its answers say: flagged, then held out.
    Spi::run("UPDATE question SET meta = jsonb_set(meta, '{irt,b}', to_jsonb((meta->'irt'->>'b')::float8 + 3)) WHERE id = 1")
        .unwrap();
    for _ in 0..3 {
        Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    }
    let bank = "SELECT md5(string_agg(id || meta::text, ',' ORDER BY id)) FROM question";
    let before: String = one(bank);
    let rules = "min_responses => 50, max_se_b => 0.5";
    let proposed = |action: &str| -> i64 {
        one(&format!("SELECT count(*) FROM mirt_promote({rules}) WHERE action = '{action}'"))
    };
    let (promote, retire) = (proposed("promote"), proposed("retire"));
    assert_eq!(retire, 1, "anchor 1 drifted in each of the three runs");
    // The rule, read from the tables: new items ok in all three runs, with enough answers and a
    // small enough SE in the latest.
    let expected: i64 = one(
        "WITH latest AS (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)
         SELECT count(*) FROM mirt_item_params_history h, latest
         WHERE h.run_id = latest.run_id AND h.n_responses >= 50 AND (h.params->>'se_b')::float8 <= 0.5
           AND h.item_id::int > 50
           AND (SELECT count(*) FROM mirt_item_fit f WHERE f.item_id = h.item_id AND f.status = 'ok') = 3",
    );
    assert!(promote > 10 && promote == expected, "{promote} proposed, {expected} by the rule");
    assert_eq!(one::<String>(bank), before, "a dry run changes nothing");
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_bank_changes"), 0);

    let applied: i64 = one(&format!("SELECT count(*) FROM mirt_promote({rules}, apply => true) WHERE applied"));
    assert_eq!(applied, promote + 1);
    let run: String = one("SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    // Each promoted item carries the run's parameters and the anchor tag; the retired one lost it.
    let promoted_ok: i64 = one(&format!(
        "SELECT count(*) FROM question q JOIN mirt_item_params_history h ON h.item_id = q.id::text AND h.run_id = '{run}'
         WHERE q.id > 50 AND q.meta->'tags' @> '[\"anchor\"]' AND q.meta->'irt'->>'run_id' = '{run}'
           AND (q.meta->'irt'->>'b')::float8 = (h.params->>'b')::float8
           AND (q.meta->'irt'->>'se_b')::float8 = (h.params->>'se_b')::float8 AND NOT q.meta->'irt' ? 'fixed'"
    ));
    assert_eq!(promoted_ok, promote);
    assert!(!one::<bool>("SELECT meta->'tags' @> '[\"anchor\"]' FROM question WHERE id = 1"));
    let recorded: String = one(
        "SELECT count(*) FILTER (WHERE action = 'promote') || ' ' || count(*) FILTER (WHERE action = 'retire')
                || ' ' || bool_and(meta_before IS DISTINCT FROM meta_after) FROM mirt_bank_changes",
    );
    assert_eq!(recorded, format!("{promote} 1 true"));
    // The next run anchors on the bank as changed: 49 old anchors and the promoted items.
    let anchors: i32 = one("SELECT n_anchors FROM mirt_calibrate('2PL', 60)");
    assert_eq!(i64::from(anchors), 49 + promote);
    // Judged again at the same run, nothing is left to do.
    assert_eq!(one::<i64>(&format!("SELECT count(*) FROM mirt_promote({rules}, run_id => '{run}')")), 0);
}

#[pg_test]
fn promotion_input_is_checked() {
    load_demo();
    assert_eq!(
        error_of("SELECT * FROM mirt_promote()").as_deref(),
        Some("22023: no run is recorded in mirt_fit_meta yet: calibrate first")
    );
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    for (call, expected) in [
        ("stable_runs => 0", "22023: stable_runs must be between 1 and 365, got 0"),
        ("min_responses => 0", "22023: min_responses must be at least 1, got 0"),
        ("max_se_b => -1", "22023: max_se_b must be a positive number, got -1"),
        ("run_id => 'fit-none'", "22023: no run fit-none is recorded in mirt_fit_meta"),
        ("apply => NULL", "22004: argument apply must not be NULL"),
    ] {
        let got = error_of(&format!("SELECT * FROM mirt_promote({call})"));
        assert_eq!(got.as_deref(), Some(expected), "{call}");
    }
    let missing = error_of("SELECT * FROM mirt_promote(items => 'no_such_bank')").unwrap();
    assert!(missing.starts_with("42P01: "), "{missing}");
}
