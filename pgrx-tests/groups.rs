// Groups of persons through the SQL path (`groups`, `reference_group`): the shared two-group
// set (shared/fixtures/dif/sim_dif_2x1500x25_long.csv, made by `make_dif.R`) calibrated as R
// mirt 1.46.1's all-invariant `multipleGroup` (sim_dif_mirt.json), and the input a grouped run
// refuses or skips.

/// The shared fixtures: `PG_IRT_FIXTURES`, or `shared/fixtures` beside an ancestor of the
/// checkout (as the core's tests find them).
fn shared_fixture(relative: &str) -> String {
    let dir = std::env::var_os("PG_IRT_FIXTURES").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .flat_map(|a| [a.join("shared/fixtures"), a.join("../shared/fixtures")])
            .find(|p| p.join("README.md").is_file())
            .expect("fixtures not found: set PG_IRT_FIXTURES to the shared/fixtures directory")
    });
    std::fs::read_to_string(dir.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Table `dif` (user_id, question_id, correct, grp, created_at) with the two-group set's 75,000
/// answers, and an empty bank `dif_items`.
fn load_two_groups() {
    hold_run_lock();
    let csv = shared_fixture("dif/sim_dif_2x1500x25_long.csv");
    Spi::run("CREATE TEMP TABLE dif (user_id int, question_id int, correct int, grp text, created_at timestamptz DEFAULT now());
              CREATE TEMP TABLE dif_items (id int, meta jsonb);").unwrap();
    Spi::run_with_args(
        "INSERT INTO dif (user_id, question_id, correct, grp)
         SELECT f[1]::int, f[2]::int, f[3]::int, f[4]
         FROM regexp_split_to_table($1, '\\n') WITH ORDINALITY AS l(line, n),
              LATERAL string_to_array(line, ',') AS f
         WHERE n > 1 AND line <> ''",
        &[csv.into()],
    )
    .unwrap();
}

fn calibrate_groups(source: &str, groups: &str, reference: &str) -> Option<String> {
    error_of(&format!(
        "SELECT mirt_calibrate('2PL', 60, source => '{source}', items => 'dif_items', linking => 'none', priors => 'none', \
         tolerance => 1e-6, groups => {groups}, reference_group => {reference})"
    ))
}

/// mirt's all-invariant model: the log-likelihood and the focal group's latent mean and variance
/// within 1e-4 (the core's `a_run_with_groups_is_mirts_all_invariant_model` measures 3e-5), the
/// reference group N(0, 1) and named first, every person scored under their group's prior.
#[pg_test]
fn a_grouped_run_is_mirts_multiple_group_model() {
    load_two_groups();
    assert_eq!(calibrate_groups("dif", "'grp'", "'ref'"), None);
    let spec = |path: &str| -> f64 {
        one(&format!("SELECT (model_spec #>> '{{{path}}}')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"))
    };
    let loglik: f64 = one("SELECT (metrics->>'loglik')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert!((loglik - -41438.21851549481).abs() < 1e-4, "{loglik}");
    assert!((spec("groups,groups,1,mean") - -0.5673859126495431).abs() < 1e-4);
    assert!((spec("groups,groups,1,variance") - 1.1914757512048635).abs() < 1e-4);
    assert_eq!((spec("groups,groups,0,mean"), spec("groups,groups,0,variance")), (0.0, 1.0));
    assert!(spec("groups,groups,1,mean_se") > 0.0);
    let (reference, focal): (String, String) = Spi::connect(|c| {
        let row = c
            .select("SELECT model_spec #>> '{groups,reference}', model_spec #>> '{groups,groups,1,group}' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1", None, &[])
            .unwrap()
            .first();
        (row.get(1).unwrap().unwrap(), row.get(2).unwrap().unwrap())
    });
    assert_eq!((reference.as_str(), focal.as_str()), ("ref", "focal"));
    let gap: f64 = one(
        "SELECT avg(theta) FILTER (WHERE g.grp = 'focal') - avg(theta) FILTER (WHERE g.grp = 'ref')
         FROM mirt_ability a JOIN (SELECT DISTINCT user_id::text, grp FROM dif) g USING (user_id)",
    );
    assert!((gap - -0.567).abs() < 0.05, "{gap}");
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_ability"), 3000);
}

/// An integer column names its groups by their text; without reference_group the largest group
/// is the reference. A person in two groups, a group too small, an unknown reference group and
/// a missing column are refused with nothing written; a NULL group skips its rows with a WARNING
/// and a count in the record.
#[pg_test]
fn grouped_input_is_checked() {
    load_two_groups();
    Spi::run(
        "CREATE TEMP VIEW dif_numbered AS
         SELECT user_id, question_id, correct, created_at, CASE grp WHEN 'ref' THEN 1 ELSE 2 END + (user_id > 2901)::int AS grp_no
         FROM dif WHERE user_id > 100;
         CREATE TEMP VIEW dif_moved AS
         SELECT user_id, question_id, correct, created_at, CASE WHEN user_id = 7 AND question_id = 3 THEN 'focal' ELSE grp END AS grp FROM dif;
         CREATE TEMP VIEW dif_unknown AS
         SELECT user_id, question_id, correct, created_at, CASE WHEN user_id <= 2 THEN NULL ELSE grp END AS grp FROM dif;",
    )
    .unwrap();
    let before = table_counts();
    let refused = [
        ("dif_numbered", "'grp_no'", "NULL", "22000: groups of grp_no with fewer than 100 persons to estimate a latent distribution from: \"3\" (99 persons)"),
        ("dif_moved", "'grp'", "NULL", "22000: user 7 is in group \"ref\" and in group \"focal\" in the window of dif_moved"),
        ("dif", "'grp'", "'reference'", "22023: reference_group \"reference\" is not a group of grp in the window (its groups: \"focal\", \"ref\")"),
        ("dif", "'Grp'", "NULL", "42703: relation dif has no column \"Grp\""),
        ("dif", "NULL", "'ref'", "22023: reference_group names a group of the groups column: give groups too"),
    ];
    for (source, groups, reference, want) in refused {
        let got = calibrate_groups(source, groups, reference).unwrap_or_default();
        assert_eq!(got, want, "{source} {groups} {reference}");
    }
    assert_eq!(table_counts(), before, "a refused run wrote nothing");

    // The small group is exactly at the line: 100 persons are enough, 99 are not.
    Spi::run("CREATE OR REPLACE TEMP VIEW dif_numbered AS
              SELECT user_id, question_id, correct, created_at, CASE grp WHEN 'ref' THEN 1 ELSE 2 END + (user_id > 2900)::int AS grp_no
              FROM dif WHERE user_id > 100").unwrap();
    assert_eq!(calibrate_groups("dif_numbered", "'grp_no'", "NULL"), None);
    let record: pgrx::JsonB = one("SELECT model_spec->'groups' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    let groups = &record.0["groups"];
    // 1,400 persons in group 1 and in group 2: of equal groups the first by name is the
    // reference.
    assert_eq!(record.0["column"], "grp_no");
    assert_eq!(groups[0]["group"], "1", "{record:?}");
    assert_eq!(groups.as_array().unwrap().len(), 3);
    // Each focal group is screened against the reference group.
    let rows: String = one("SELECT count(*) || ' ' || count(DISTINCT focal_group) || ' ' || min(reference_group) FROM mirt_item_dif
                             WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)");
    assert_eq!(rows, "50 2 1");

    assert_eq!(calibrate_groups("dif_unknown", "'grp'", "NULL"), None);
    let skipped: i64 = one("SELECT (model_spec #>> '{skipped_rows,null_groups}')::int8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert_eq!(skipped, 50);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_ability"), 2998);
}

/// A grouped run writes every item's DIF against the focal group into mirt_item_dif: the
/// purified Mantel–Haenszel statistics are base R's (the core's `dif_mh_purified.json`, made by
/// `scripts/fixtures/dif_mh_purified.R`) within 1e-8; items 1 and 2 (simulated with DIF) are
/// flagged, tested by likelihood ratio and given the status `dif`, which mirt_items_for_review
/// and the report's document show.
#[pg_test]
fn a_grouped_run_writes_every_item_s_dif() {
    load_two_groups();
    assert_eq!(calibrate_groups("dif", "'grp'", "'ref'"), None);
    let base_r: serde_json::Value =
        serde_json::from_str(include_str!("../crates/irt-core/tests/fixtures/dif_mh_purified.json")).unwrap();
    let last = base_r["screenings"].as_array().unwrap().last().unwrap()["items"].clone();
    let latest = "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)";
    for j in 1..=25usize {
        let (chi2, p, alpha, delta, class): (f64, f64, f64, f64, String) = Spi::connect(|c| {
            let row = c
                .select(&format!("SELECT mh_chi2, mh_p, mh_alpha, ets_delta, ets_class FROM mirt_item_dif WHERE run_id = {latest} AND item_id = '{j}' AND focal_group = 'focal' AND reference_group = 'ref'"), None, &[])
                .unwrap()
                .first();
            (row.get(1).unwrap().unwrap(), row.get(2).unwrap().unwrap(), row.get(3).unwrap().unwrap(), row.get(4).unwrap().unwrap(), row.get(5).unwrap().unwrap())
        });
        let want = &last[j - 1];
        for (ours, key) in [(chi2, "MH_chisq"), (p, "p"), (alpha, "alpha_MH"), (delta, "ETS_delta")] {
            let theirs = want[key].as_f64().unwrap();
            assert!((ours - theirs).abs() <= 1e-8 * theirs.abs(), "item {j} {key}: {ours} against {theirs}");
        }
        assert_eq!(class, want["ETS_class"].as_str().unwrap(), "item {j}");
    }
    let flagged: String = one(&format!(
        "SELECT string_agg(item_id || ':' || ets_class || ':' || (lr_p_adjusted < 1e-4) || ':' || (signed_area > 0.4), ',' ORDER BY item_id::int)
         FROM mirt_item_dif WHERE run_id = {latest} AND flagged"
    ));
    assert_eq!(flagged, "1:C:true:true,2:B:true:true");
    let status: String = one(&format!(
        "SELECT string_agg(item_id, ',' ORDER BY item_id::int) FROM mirt_item_fit WHERE run_id = {latest} AND status = 'dif'"
    ));
    assert_eq!(status, "1,2");
    let review: String = one("SELECT string_agg(item_id || ' ' || left(reason, 30), ',' ORDER BY item_id::int) FROM mirt_items_for_review WHERE status = 'dif'");
    assert_eq!(review, "1 DIF against group focal: ETS C,2 DIF against group focal: ETS B");
    let reported: i64 = one("SELECT jsonb_array_length(mirt_report_data()->'dif')::int8");
    assert_eq!(reported, 25);
    let page: String = one("SELECT mirt_report()");
    assert!(page.contains("focal against ref: ETS C") && page.contains("focal against ref: ETS B"));
}
