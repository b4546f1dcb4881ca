// Standard errors through the SQL path: what is written agrees with mirt, and when they cannot be
// computed the run says so instead of leaving them out silently.

/// LSAT7 (Bock & Lieberman, 1970; bundled with mirt): 1,000 persons, 5 items, as its 32
/// response patterns and their counts.
fn lsat7() -> String {
    patterns_table(
        "lsat7",
        "('00000', 12), ('00001', 19), ('00010', 1), ('00011', 7), ('00100', 3), ('00101', 19),
                 ('00110', 3), ('00111', 17), ('01000', 10), ('01001', 5), ('01010', 3), ('01011', 7),
                 ('01100', 7), ('01101', 23), ('01110', 8), ('01111', 28), ('10000', 7), ('10001', 39),
                 ('10010', 11), ('10011', 34), ('10100', 14), ('10101', 51), ('10110', 15), ('10111', 90),
                 ('11000', 6), ('11001', 25), ('11010', 7), ('11011', 35), ('11100', 18), ('11101', 136),
                 ('11110', 32), ('11111', 308)",
        5,
        "ch = '1' AS correct",
    )
}

fn calibrate_lsat7(model: &str) {
    calibrate_unlinked(model, "lsat7");
}

fn last_se_status() -> String {
    one("SELECT metrics->>'se_status' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")
}

#[pg_test]
fn written_standard_errors_are_mirts() {
    hold_run_lock();
    Spi::run(&lsat7()).unwrap();
    calibrate_lsat7("2PL");
    assert_eq!(last_se_status(), "ok");
    // mirt 1.46.1, SE.type = 'crossprod', TOL = 1e-8 (shared/fixtures/se/mirt_item_se.json).
    let mirt = [
        (0.17633846, 0.26518819),
        (0.16935118, 0.10999196),
        (0.3214577, 0.11580841),
        (0.1352922, 0.13233685),
        (0.15333583, 0.45486949),
    ];
    for (j, (se_a, se_b)) in mirt.iter().enumerate() {
        let (ours_a, ours_b) = Spi::get_two::<f64, f64>(&format!(
            "SELECT (params->>'se_a')::float8, (params->>'se_b')::float8 FROM mirt_item_params WHERE item_id = '{}'",
            j + 1
        ))
        .unwrap();
        let (ours_a, ours_b) = (ours_a.unwrap(), ours_b.unwrap());
        assert!((ours_a / se_a - 1.0).abs() < 1e-6, "item {}: SE(a) {ours_a}, mirt {se_a}", j + 1);
        assert!((ours_b / se_b - 1.0).abs() < 1e-6, "item {}: SE(b) {ours_b}, mirt {se_b}", j + 1);
    }
}

/// LSAT7's 3PL without priors runs its lower asymptotes off towards 0, where the information
/// is not positive definite (mirt's own second-order test fails there too): the run is written
/// with `se_status = 'not_positive_definite'` and no standard error anywhere.
#[pg_test]
fn standard_errors_never_vanish_silently() {
    hold_run_lock();
    Spi::run(&lsat7()).unwrap();
    calibrate_lsat7("3PL");
    assert_eq!(last_se_status(), "not_positive_definite");
    let with_se: i64 = one("SELECT count(*) FROM mirt_item_params WHERE params ? 'se_a' OR params ? 'se_b'");
    assert_eq!(with_se, 0);
    // With the default priors the same data give standard errors.
    Spi::run(
        "SELECT mirt_calibrate('3PL', 60, source => 'lsat7', items => 'lsat7_items', linking => 'none')",
    )
    .unwrap();
    assert_eq!(last_se_status(), "ok");
    let with_se: i64 = one("SELECT count(*) FROM mirt_item_params WHERE (params->>'se_c')::float8 > 0");
    assert_eq!(with_se, 5);
}

/// The modes of `standard_errors`: per-item blocks say so in the record, `none` skips them.
#[pg_test]
fn standard_errors_by_blocks_or_none() {
    hold_run_lock();
    Spi::run(&lsat7()).unwrap();
    let run = |mode: &str| {
        Spi::run(&format!(
            "SELECT mirt_calibrate('2PL', 60, source => 'lsat7', items => 'lsat7_items', linking => 'none', \
             standard_errors => '{mode}')"
        ))
        .unwrap();
        let method: String = one("SELECT model_spec->>'se_method' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
        let with_se: i64 = one("SELECT count(*) FROM mirt_item_params WHERE params ? 'se_a'");
        (method, last_se_status(), with_se)
    };
    assert_eq!(run("item"), ("crossprod, per-item blocks".into(), "ok".into(), 5));
    assert_eq!(run("auto"), ("crossprod".into(), "ok".into(), 5));
    assert_eq!(run("none").1, "skipped");
    assert_eq!(run("none").2, 0);
}
