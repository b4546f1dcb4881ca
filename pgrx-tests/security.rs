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

#[pg_test]
fn a_read_only_role_cannot_calibrate_and_a_calibrator_can() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    // The README's roles, as written there.
    Spi::run(
        "CREATE ROLE irt_reader NOLOGIN;
         GRANT SELECT ON mirt_item_params, mirt_ability, mirt_fit_meta, mirt_item_params_history, mirt_run_status TO irt_reader;
         CREATE ROLE irt_calibrator NOLOGIN;
         GRANT SELECT ON attempt, question TO irt_calibrator;
         GRANT SELECT, INSERT, UPDATE ON mirt_item_params, mirt_ability, mirt_fit_meta, mirt_item_params_history TO irt_calibrator;",
    )
    .unwrap();
    Spi::run("SET ROLE irt_reader").unwrap();
    let before = table_counts();
    let err = error_of("SELECT mirt_calibrate('2PL', 60)").unwrap();
    assert!(err.starts_with("42501"), "{err}");
    assert_eq!(table_counts(), before);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_health() WHERE status = 'OK'"), 4);
    Spi::run("RESET ROLE; SET ROLE irt_calibrator").unwrap();
    assert_eq!(one::<i32>("SELECT n_users FROM mirt_calibrate('2PL', 60)"), 500);
    Spi::run("RESET ROLE").unwrap();
    // Every function of the extension runs with the caller's rights.
    let definers: i64 = one(
        "SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' \
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt' WHERE p.prosecdef",
    );
    assert_eq!(definers, 0);
    // Every function but mirt_calibrate pins its search_path (the tests' own schema aside);
    // mirt_calibrate resolves `source` and `items` with the caller's and schema-qualifies
    // everything of its own.
    let unpinned: Option<String> = Spi::get_one(
        "SELECT string_agg(DISTINCT p.proname, ', ') FROM pg_proc p \
         JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' \
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt' \
         WHERE p.pronamespace <> to_regnamespace('tests') AND p.proname <> 'mirt_calibrate' \
           AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)",
    )
    .unwrap();
    assert_eq!(unpinned, None);
}
