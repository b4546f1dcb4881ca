// Least privilege: functions run with the caller's rights, names cannot inject SQL.

#[pg_test]
fn hostile_relation_names_are_resolved_not_spliced() {
    load_demo();
    Spi::run(r#"CREATE VIEW "a""; DROP TABLE question; --" AS SELECT * FROM attempt"#).unwrap();
    // Unquoted, the name is not a valid identifier: an error, and nothing else happens.
    let err = error_of(r#"SELECT mirt_calibrate('2PL', 60, source => 'a"; DROP TABLE question; --')"#).unwrap();
    assert!(err.starts_with("42602") || err.starts_with("42P01"), "{err}");
    // Quoted, it names the view, which is read like any other.
    let n: i64 = one(r#"SELECT n_observations FROM mirt_calibrate('2PL', 60, source => '"a""; DROP TABLE question; --"')"#);
    assert_eq!(n, 12000);
    assert_eq!(one::<i64>("SELECT count(*) FROM question"), 150);
    let source: String = one("SELECT model_spec->>'source' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert_eq!(source, r#""a""; DROP TABLE question; --""#);
}

/// The recipe of docs/operations.md, as written there: the block after "Two roles cover the usual split".
fn readme_roles() -> String {
    let readme = include_str!("../docs/operations.md");
    let from = readme.find("Two roles cover the usual split").expect("the recipe is in docs/operations.md");
    let block = &readme[from..];
    let start = block.find("```sql\n").unwrap() + 7;
    let end = start + block[start..].find("```").unwrap();
    block[start..end].to_string()
}

#[pg_test]
fn a_read_only_role_cannot_calibrate_and_a_calibrator_can() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    Spi::run(&readme_roles()).unwrap();
    Spi::run("SET ROLE irt_reader").unwrap();
    let before = table_counts();
    let err = error_of("SELECT mirt_calibrate('2PL', 60)").unwrap();
    assert!(err.starts_with("42501") && err.contains("permission denied for function mirt_calibrate"), "{err}");
    assert_eq!(table_counts(), before);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_health() WHERE status = 'OK'"), 4);
    // The recipe's login role runs the calibration through irt_calibrator.
    Spi::run("RESET ROLE; SET ROLE calibration_job").unwrap();
    assert_eq!(one::<i32>("SELECT n_users FROM mirt_calibrate('2PL', 60)"), 500);
    // A run with groups writes DIF rows too, and the reader reads them.
    Spi::run("RESET ROLE; CREATE VIEW attempt_cohort AS SELECT a.*, CASE WHEN user_id::int8 % 2 = 0 THEN 'even' ELSE 'odd' END AS cohort FROM attempt a;
              GRANT SELECT ON attempt_cohort TO irt_calibrator; SET ROLE calibration_job").unwrap();
    Spi::run("SELECT mirt_calibrate('2PL', 60, source => 'attempt_cohort', linking => 'none', groups => 'cohort')").unwrap();
    Spi::run("RESET ROLE; SET ROLE irt_reader").unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_item_dif"), 150);
    Spi::run("RESET ROLE").unwrap();
    // Every function of the extension runs with the caller's rights.
    let definers: i64 = one(
        "SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' \
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt' WHERE p.prosecdef",
    );
    assert_eq!(definers, 0);
    // Every function but mirt_calibrate and mirt_promote pins its search_path (the tests' own
    // schema aside); those two resolve the relations they are given (`source`, `items`) with the
    // caller's and schema-qualify everything of their own.
    let unpinned: Option<String> = Spi::get_one(
        "SELECT string_agg(DISTINCT p.proname, ', ') FROM pg_proc p \
         JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' \
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt' \
         WHERE p.pronamespace <> to_regnamespace('tests') AND p.proname NOT IN ('mirt_calibrate', 'mirt_promote') \
           AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)",
    )
    .unwrap();
    assert_eq!(unpinned, None);
}

/// A login role with no grant at all — the role that once took the server down with a run on
/// its own temporary table — cannot start a run or touch the schedule; the helpers stay open.
#[pg_test]
fn a_login_role_without_grants_cannot_start_a_run() {
    load_demo();
    let before = table_counts();
    Spi::run("CREATE ROLE irt_stranger LOGIN; SET ROLE irt_stranger").unwrap();
    Spi::run("CREATE TEMP TABLE mine AS SELECT 1 AS user_id, 1 AS question_id, true AS correct, now() AS created_at").unwrap();
    for call in [
        "SELECT mirt_calibrate('2PL', 60, source => 'mine', items => 'mine', linking => 'none', quadrature_points => 301)",
        "SELECT mirt_schedule()",
        "SELECT mirt_unschedule()",
        "SELECT * FROM mirt_promote()",
    ] {
        let err = error_of(call).unwrap_or_else(|| panic!("{call} ran"));
        assert!(err.starts_with("42501: permission denied for function"), "{call}: {err}");
    }
    assert!((one::<f64>("SELECT mirt_irf(0, 1, 0)") - 0.5).abs() < 1e-12);
    Spi::run("RESET ROLE").unwrap();
    assert_eq!(table_counts(), before);
    // The privileges as installed: EXECUTE on the four is irt_calibrator's, not PUBLIC's.
    let public: i64 = one(
        "SELECT count(*) FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a \
         WHERE p.proname IN ('mirt_calibrate', 'mirt_schedule', 'mirt_unschedule', 'mirt_promote') AND a.grantee = 0",
    );
    assert_eq!(public, 0);
    let granted: i64 = one(
        "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a \
         WHERE p.proname IN ('mirt_calibrate', 'mirt_schedule', 'mirt_unschedule', 'mirt_promote') \
           AND a.grantee = 'irt_calibrator'::regrole AND a.privilege_type = 'EXECUTE'",
    );
    assert_eq!(granted, 4);
}
