// The input contract: each bad input fails with its SQLSTATE and a message naming the problem,
// and leaves every table as it was.

fn assert_fails(statement: &str, sqlstate: &str, fragment: &str) {
    let before = table_counts();
    let err = error_of(statement).unwrap_or_else(|| panic!("{statement} succeeded"));
    assert!(err.starts_with(sqlstate) && err.contains(fragment), "{statement}: {err}");
    assert_eq!(table_counts(), before, "{statement} wrote something");
}

/// One test per bad input: on the demo database after a good run, `setup` and then `statement`,
/// which must fail with `sqlstate` and a message containing `fragment`, writing nothing.
macro_rules! bad_inputs {
    ($($name:ident: $setup:expr, $statement:expr => $sqlstate:expr, $fragment:expr;)*) => {$(
        #[pg_test]
        fn $name() {
            load_demo();
            Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
            Spi::run($setup).unwrap();
            assert_fails($statement, $sqlstate, $fragment);
        }
    )*};
}

const NOTHING: &str = "SELECT";
const VIEW_OF: &str = "CREATE VIEW v AS SELECT user_id, question_id, created_at, ";

bad_inputs! {
    memory_limit: "SET pg_irt.max_memory = 1", "SELECT mirt_calibrate('2PL', 60)"
        => "54000", "more than the limit of 1.0 MB; the largest part is the item fit's accumulators";
    unknown_model: NOTHING, "SELECT mirt_calibrate('4PL', 60)"
        => "22023", "valid models are Rasch, 1PL, 2PL, 3PL";
    unknown_linking_method: NOTHING, "SELECT mirt_calibrate('2PL', 60, linking => 'magic')"
        => "22023", "valid methods are mean_mean, mean_sigma, haebara, stocking_lord, fixed, none";
    unknown_priors: NOTHING, "SELECT mirt_calibrate('2PL', 60, priors => 'flat')"
        => "22023", "valid priors are default, none";
    lookback_zero: NOTHING, "SELECT mirt_calibrate('2PL', 0)"
        => "22023", "lookback_days must be between 1 and 36500, got 0";
    lookback_negative: NOTHING, "SELECT mirt_calibrate('2PL', -7)"
        => "22023", "lookback_days must be between 1 and 36500, got -7";
    lookback_absurd: NOTHING, "SELECT mirt_calibrate('2PL', 100000)"
        => "22023", "lookback_days must be between 1 and 36500, got 100000";
    source_missing: NOTHING, "SELECT mirt_calibrate('2PL', 60, source => 'no_such_view')"
        => "42P01", "source relation \"no_such_view\" does not exist";
    items_missing: NOTHING, "SELECT mirt_calibrate('2PL', 60, items => 'nope')"
        => "42P01", "items relation \"nope\" does not exist";
    column_missing: "CREATE VIEW v AS SELECT user_id, question_id, created_at FROM attempt_log",
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "42703", "has no column \"correct\"";
    correct_of_text_type: &format!("{VIEW_OF} 'yes'::text AS correct FROM attempt_log"),
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "42804", "column correct of v has type text";
    correct_is_two: &format!("{VIEW_OF} CASE WHEN user_id = 7 THEN 2 ELSE is_correct::int END AS correct FROM attempt_log"),
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "22P02", "holds 2, which is neither 0 nor 1";
    correct_is_minus_one: &format!("{VIEW_OF} CASE WHEN user_id = 7 THEN -1 ELSE is_correct::int END AS correct FROM attempt_log"),
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "22P02", "holds -1, which is neither 0 nor 1";
    correct_is_a_half: &format!("{VIEW_OF} CASE WHEN user_id = 7 THEN 0.5 ELSE is_correct::int END AS correct FROM attempt_log"),
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "22P02", "holds 0.5, which is neither 0 nor 1";
    null_ids: "CREATE VIEW v AS SELECT NULLIF(user_id, 3) AS user_id, question_id, is_correct AS correct, created_at FROM attempt_log",
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "23502", "rows of v in the window have a NULL user_id or question_id";
    window_over_max_answers: "SET LOCAL pg_irt.max_answers = 1000", "SELECT mirt_calibrate('2PL', 60)"
        => "54000", "more than 1000 rows in the window of attempt: pg_irt.max_answers = 1000";
    empty_window: "CREATE VIEW v AS SELECT * FROM attempt WHERE created_at < now() - interval '100 days'",
        "SELECT mirt_calibrate('2PL', 60, source => 'v')"
        => "22000", "no usable answers in v in the last 60 days";
    every_answer_on_excluded_items: NOTHING, "SELECT mirt_calibrate('2PL', 60, min_responses => 100000)"
        => "22000", "no usable answers";
    too_few_anchors: NOTHING, "SELECT mirt_calibrate('2PL', 60, min_anchors => 51)"
        => "22000", "50 usable anchors, fewer than min_anchors = 51";
    non_convergence_by_default: NOTHING, "SELECT mirt_calibrate('2PL', 60, max_cycles => 2)"
        => "22000", "did not converge in 2 cycles";
}

#[pg_test]
fn unusable_anchors_are_warned_and_skipped() {
    load_demo();
    Spi::run(
        "UPDATE question SET meta = jsonb_set(meta, '{irt,a}', '\"high\"') WHERE id = 1; \
         UPDATE question SET meta = jsonb_set(meta, '{irt,a}', '-1') WHERE id = 2; \
         UPDATE question SET meta = meta #- '{irt,b}' WHERE id = 3",
    )
    .unwrap();
    let n_anchors: i32 = Spi::get_one("SELECT n_anchors FROM mirt_calibrate('2PL', 60)").unwrap().unwrap();
    assert_eq!(n_anchors, 47);
}

#[pg_test]
fn max_threads_caps_the_pool() {
    load_demo();
    Spi::run("SET pg_irt.max_threads = 1").unwrap();
    Spi::run("SELECT mirt_calibrate('2PL', 60, threads => 2)").unwrap();
    assert_eq!(one::<String>("SELECT model_spec->>'threads' FROM mirt_fit_meta"), "1");
    let err = error_of("SET pg_irt.no_such_setting = 1").unwrap();
    assert!(err.contains("invalid configuration parameter"), "{err}");
}

#[pg_test]
fn contract_details_are_honoured_and_recorded() {
    load_demo();
    // An anchor on the normal-ogive metric: a·D is what the run holds it at.
    Spi::run("UPDATE question SET meta = jsonb_set(meta, '{irt}', '{\"a\": 1, \"b\": 0.5, \"D\": 1.7}') WHERE id = 1").unwrap();
    // (Unscreened: made-up stored values are what drift screening would catch.)
    Spi::run("SELECT mirt_calibrate('2PL', 60, linking => 'fixed', anchor_drift => 'off')").unwrap();
    assert_eq!(one::<String>("SELECT round((params->>'a')::numeric, 6)::text FROM mirt_item_params WHERE item_id = '1'"), "1.700000");
    let window: bool = one(
        "SELECT (model_spec->'window'->>'end')::timestamptz - (model_spec->'window'->>'start')::timestamptz = interval '60 days' FROM mirt_fit_meta",
    );
    assert!(window);
    // Retries: the first attempt counts unless asked otherwise; the answers differ, the counts not.
    let first: f64 = one("SELECT sum(p_value * n_responses) FROM mirt_item_params");
    Spi::run("SELECT mirt_calibrate('2PL', 60, attempt => 'last')").unwrap();
    let last: f64 = one("SELECT sum(p_value * n_responses) FROM mirt_item_params");
    assert!((first - last).abs() > 0.5, "{first} {last}");
    assert_eq!(one::<i64>("SELECT sum(n_responses)::bigint FROM mirt_item_params"), 12000);
    // Items answered in the window but not in the bank are calibrated like any other.
    Spi::run("DELETE FROM question WHERE id > 140").unwrap();
    assert_eq!(one::<i32>("SELECT n_items FROM mirt_calibrate('2PL', 60)"), 150);
    // Thin items are excluded, listed with their reason, and their users dropped if nothing is left.
    let excluded: i64 = one("SELECT jsonb_array_length(model_spec->'excluded_items') FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert_eq!(excluded, 0);
    Spi::run("SELECT mirt_calibrate('2PL', 60, min_responses => 85)").unwrap();
    let (kept, listed) = Spi::get_two::<i64, i64>(
        "SELECT (SELECT count(*) FROM mirt_item_params_history h WHERE h.run_id = m.run_id), jsonb_array_length(model_spec->'excluded_items') \
         FROM mirt_fit_meta m ORDER BY fitted_at DESC LIMIT 1",
    )
    .unwrap();
    assert_eq!(kept.unwrap() + listed.unwrap(), 150);
    assert!(listed.unwrap() > 0);
    let reason: String = one("SELECT model_spec->'excluded_items'->0->>'reason' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert!(reason.contains("fewer than min_responses = 85"), "{reason}");
}

/// Ids read as text come out as the integers do: the same answers, in the same order, so the
/// same numbers to the bit.
#[pg_test]
fn text_ids_read_like_integer_ids() {
    load_demo();
    Spi::run(
        "CREATE VIEW twice AS SELECT user_id, question_id, is_correct AS correct, created_at FROM attempt_log \
         UNION ALL SELECT user_id + 1000000, question_id, is_correct, created_at FROM attempt_log;
         CREATE VIEW twice_text AS SELECT 'u' || user_id AS user_id, 'q' || question_id AS question_id, correct, created_at FROM twice;
         CREATE VIEW no_bank AS SELECT id, '{}'::jsonb AS meta FROM question WHERE false",
    )
    .unwrap();
    let run = |source: &str| {
        Spi::run(&format!("SELECT mirt_calibrate('2PL', 60, linking => 'none', source => '{source}', items => 'no_bank')")).unwrap();
        let thetas: String = one("SELECT string_agg(theta::text, ',' ORDER BY ltrim(user_id, 'u')::bigint) FROM mirt_ability");
        let params: String = one("SELECT string_agg(params::text, ',' ORDER BY ltrim(item_id, 'q')::bigint) FROM mirt_item_params");
        Spi::run("TRUNCATE mirt_ability, mirt_item_params").unwrap();
        (thetas, params)
    };
    // More than one batch of rows (16,384) on the way from the scan to the decoding thread.
    assert!(one::<i64>("SELECT count(*) FROM twice_text") > 16_384);
    assert_eq!(run("twice"), run("twice_text"));
}

#[pg_test]
fn a_nonconverged_run_can_be_accepted() {
    load_demo();
    let converged: bool = one("SELECT converged FROM mirt_calibrate('2PL', 60, max_cycles => 3, accept_nonconverged => true)");
    assert!(!converged);
    assert_eq!(one::<String>("SELECT status FROM mirt_fit_meta"), "not_converged");
    assert_eq!(one::<String>("SELECT status FROM mirt_run_status"), "not_converged");
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_health() WHERE component = 'last_run' AND status = 'FAIL'"), 1);
}

#[pg_test]
fn items_and_users_with_a_single_answer() {
    load_demo();
    // A new item answered once, and a new user who answered one item.
    Spi::run(
        "INSERT INTO question VALUES (9001, '{\"tags\": [\"practice\"]}'); \
         INSERT INTO attempt_log (user_id, question_id, is_correct, created_at) VALUES \
             (7, 9001, true, now() - interval '1 day'), (90001, 5, false, now() - interval '1 day')",
    )
    .unwrap();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    // The item is left out with its reason; the user is scored from one answer.
    let reason: String = one(
        "SELECT e->>'reason' FROM mirt_fit_meta, jsonb_array_elements(model_spec->'excluded_items') e WHERE e->>'item_id' = '9001'",
    );
    assert_eq!(reason, "1 answer, fewer than min_responses = 5");
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_item_params WHERE item_id = '9001'"), 0);
    let (theta, se): (f64, f64) = (
        one("SELECT theta FROM mirt_ability WHERE user_id = '90001'"),
        one("SELECT se FROM mirt_ability WHERE user_id = '90001'"),
    );
    assert!(theta.is_finite() && theta < 0.5, "one wrong answer: θ = {theta}");
    assert!(se > 0.6 && se < 1.2, "one answer says little: SE = {se}");
    // With min_responses = 1 a single answer still says nothing about the item: it is left out
    // as constant, and the run goes on.
    Spi::run("SELECT mirt_calibrate('2PL', 60, min_responses => 1)").unwrap();
    let reason: String = one(
        "SELECT e->>'reason' FROM mirt_fit_meta, jsonb_array_elements(model_spec->'excluded_items') e \
         WHERE e->>'item_id' = '9001' ORDER BY fitted_at DESC LIMIT 1",
    );
    assert_eq!(reason, "its only answer correct");
}

#[pg_test]
fn three_pl_on_a_tiny_sample() {
    load_demo();
    // 40 users: far too few for a lower asymptote, which the default priors then hold.
    Spi::run("CREATE VIEW tiny AS SELECT * FROM attempt WHERE user_id <= 40").unwrap();
    let converged: bool = one("SELECT converged FROM mirt_calibrate('3PL', 60, source => 'tiny', linking => 'none', min_responses => 1, accept_nonconverged => true)");
    let (worst_c, worst_a): (f64, f64) = (
        one("SELECT max((params->>'c')::float8) FROM mirt_item_params"),
        one("SELECT max((params->>'a')::float8) FROM mirt_item_params"),
    );
    assert!(converged, "the default priors let a 3PL on 40 users converge");
    assert!(worst_c < 0.5 && worst_a < 10.0, "c ≤ {worst_c}, a ≤ {worst_a}");
    // Without priors the same run must not write nonsense: it fails or stays finite.
    match error_of("SELECT mirt_calibrate('3PL', 60, source => 'tiny', linking => 'none', min_responses => 1, priors => 'none')") {
        Some(err) => assert!(err.starts_with("22000") || err.starts_with("22003"), "{err}"),
        None => assert!(one::<bool>("SELECT bool_and((params->>'a')::float8 < 1e6) FROM mirt_item_params")),
    }
}

/// The signature's defaults are the core's (`settings::defaults`, which the command's flags take
/// too: `the_flags_default_to_the_cores_defaults`), and so are the settings' boot values.
#[pg_test]
fn the_signature_s_defaults_and_the_settings_are_the_core_s() {
    use irt_core::settings::{defaults, Arguments};
    let d = Arguments::defaults();
    let text = |s: Option<&str>| s.map(str::to_string);
    let number = |x: Option<i32>| x.map(|x| x.to_string());
    let float = |x: Option<f64>| x.map(|x| x.to_string());
    let expected: Vec<(&str, Option<String>)> = vec![
        ("model", text(d.model)),
        ("lookback_days", number(d.lookback_days)),
        ("linking", text(d.linking)),
        ("priors", text(d.priors)),
        ("source", text(d.source)),
        ("items", text(d.items)),
        ("max_cycles", number(d.max_cycles)),
        ("tolerance", float(d.tolerance)),
        ("quadrature_points", number(d.quadrature_points)),
        ("threads", number(d.threads)),
        ("accept_nonconverged", d.accept_nonconverged.map(|b| b.to_string())),
        ("min_anchors", number(d.min_anchors)),
        ("min_responses", number(d.min_responses)),
        ("attempt", text(d.attempt)),
        ("algorithm", text(d.algorithm)),
        ("standard_errors", text(d.standard_errors)),
        ("anchor_drift", text(d.anchor_drift)),
        ("drift_z", float(d.drift_z)),
        ("groups", text(d.groups)),
        ("reference_group", text(d.reference_group)),
    ];
    let (names, exprs): (Vec<String>, String) = Spi::connect(|c| {
        let row = c
            .select(
                "SELECT array(SELECT n FROM unnest(p.proargnames, p.proargmodes) AS u(n, m) WHERE m = 'i'),
                        pg_get_expr(p.proargdefaults, 0)
                 FROM pg_proc p WHERE p.proname = 'mirt_calibrate'",
                None,
                &[],
            )
            .unwrap()
            .first();
        (row.get::<Vec<String>>(1).unwrap().unwrap(), row.get::<String>(2).unwrap().unwrap())
    });
    let exprs: Vec<&str> = exprs.split(", ").collect();
    assert_eq!(names.len(), exprs.len(), "every argument has a default: {exprs:?}");
    assert_eq!(names, expected.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>());
    for ((name, want), expr) in expected.iter().zip(&exprs) {
        let got = Spi::get_one::<String>(&format!("SELECT ({expr})::text")).unwrap();
        let same = match (&got, want) {
            (Some(g), Some(w)) => g == w || g.parse::<f64>().ok().zip(w.parse::<f64>().ok()).is_some_and(|(g, w)| g == w),
            (None, None) => true,
            _ => false,
        };
        assert!(same, "{name}: the signature says {got:?}, the core {want:?}");
    }
    let boot = |name: &str| -> String { one(&format!("SELECT boot_val FROM pg_settings WHERE name = '{name}'")) };
    assert_eq!(boot("pg_irt.max_answers"), defaults::MAX_ANSWERS.to_string());
    assert_eq!(boot("pg_irt.max_memory"), defaults::MAX_MEMORY_MB.to_string());
}
