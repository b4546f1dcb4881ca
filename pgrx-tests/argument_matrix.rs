// Every argument of every SQL function against the values that break programs: NULL, NaN,
// ±Infinity, 0, a negative, a huge value, an empty array, arrays of mismatched lengths, an
// array holding NULL, odd case and whitespace in names. The expected answer of each case comes
// from the documented rules (docs/reference.md), not from running the code: a NULL is
// NULL for a strict helper and 22004 elsewhere, a number outside its documented range is
// 22023, and so on. Each case runs in a subtransaction that is rolled back even when the call
// succeeds, so the tables must end as they began; no case may give XX000, a backtrace, or NaN.

/// The SQL type of an argument and the rule it follows.
#[derive(Clone, Copy)]
enum Ty {
    /// A name chosen among a list (case and surrounding blanks ignored).
    Name,
    /// A relation name, resolved with the search_path.
    Relation,
    /// Free text (a schedule, a job name): anything but NULL is passed on.
    Text,
    /// An integer in a documented range; `null_ok`: NULL means the default.
    Int { lo: i64, hi: i64, null_ok: bool },
    /// A float in a documented closed range, or open at the bottom when `open_lo`.
    Float { lo: f64, hi: f64, open_lo: bool },
    Bool,
    /// An array of slopes, locations or asymptotes (the item rule of `ItemParams::given`).
    Slopes,
    Locations,
    Asymptotes,
    /// A response pattern: NULL elements mean "not answered".
    Pattern,
    /// A pattern of scores (int[]), NULL elements "not answered", each a category of its item.
    Scores,
    /// Items as stored parameters (jsonb[]), by the rule of `meta->'irt'`.
    ItemJson,
    /// A run's id, NULL for the latest: any text gets a page (one that says when no such run
    /// is recorded).
    RunId,
    /// A run to judge, NULL for the latest: one not recorded is refused.
    RecordedRun,
    /// A column of the source (`groups`), NULL for none.
    Column,
    /// A group of that column (`reference_group`), NULL for the largest; with no groups column
    /// (the valid call's), any name is refused.
    Group,
}

struct Arg {
    name: &'static str,
    ty: Ty,
    /// A valid value, as SQL.
    valid: &'static str,
}

struct Function {
    name: &'static str,
    /// STRICT: a NULL argument gives a NULL result.
    strict: bool,
    args: Vec<Arg>,
    /// What a call whose arguments are all valid gives: "ok", or an SQLSTATE (mirt_schedule
    /// without pg_cron in the test database: 55000).
    valid_outcome: &'static str,
}

fn arg(name: &'static str, ty: Ty, valid: &'static str) -> Arg {
    Arg { name, ty, valid }
}

const THETA: Ty = Ty::Float { lo: f64::MIN, hi: f64::MAX, open_lo: false };
const SLOPE: Ty = Ty::Float { lo: 0.0, hi: 1000.0, open_lo: true };
const LOCATION: Ty = Ty::Float { lo: -1000.0, hi: 1000.0, open_lo: false };
const ASYMPTOTE: Ty = Ty::Float { lo: 0.0, hi: 1.0 - f64::EPSILON, open_lo: false };

fn functions() -> Vec<Function> {
    let count = |lo, hi| Ty::Int { lo, hi, null_ok: false };
    let items3 = |a: &'static str, b: &'static str, c: &'static str| {
        vec![arg(a, Ty::Slopes, "'{1.0,1.2,0.8}'"), arg(b, Ty::Locations, "'{-0.5,0.0,0.7}'"), arg(c, Ty::Asymptotes, "'{0.1,0.2,0.0}'")]
    };
    let link = |with_c: bool| {
        let mut args = vec![
            arg("method", Ty::Name, "'stocking_lord'"),
            arg("from_a", Ty::Slopes, "'{1.0,1.2,0.8}'"),
            arg("from_b", Ty::Locations, "'{-0.5,0.0,0.7}'"),
            arg("to_a", Ty::Slopes, "'{0.9,1.1,0.7}'"),
            arg("to_b", Ty::Locations, "'{-0.2,0.4,1.0}'"),
        ];
        if with_c {
            args.push(arg("from_c", Ty::Asymptotes, "'{0.1,0.2,0.0}'"));
            args.push(arg("to_c", Ty::Asymptotes, "'{0.1,0.2,0.0}'"));
        }
        Function { name: "mirt_linking_constants", strict: true, args, valid_outcome: "ok" }
    };
    let item_fn = |name| Function {
        name,
        strict: true,
        args: vec![arg("theta", THETA, "0.5"), arg("a", SLOPE, "1.2"), arg("b", LOCATION, "-0.3"), arg("c", ASYMPTOTE, "0.2")],
        valid_outcome: "ok",
    };
    let curves = |with_c: bool| {
        let mut args = items3("a", "b", "c");
        if !with_c {
            args.pop();
        }
        args.push(arg("theta_from", Ty::Float { lo: f64::MIN, hi: 3.9, open_lo: false }, "-3"));
        args.push(arg("theta_to", Ty::Float { lo: -3.9, hi: f64::MAX, open_lo: false }, "3"));
        args.push(arg("points", count(2, 10_000), "7"));
        Function { name: "mirt_test_curves", strict: true, args, valid_outcome: "ok" }
    };
    let eap = |with_c: bool| {
        let mut args = vec![arg("correct", Ty::Pattern, "'{true,false,NULL}'")];
        args.extend(items3("a", "b", "c"));
        if !with_c {
            args.pop();
        }
        args.push(arg("mean", Ty::Float { lo: -100.0, hi: 100.0, open_lo: false }, "0.2"));
        args.push(arg("sd", Ty::Float { lo: 0.0, hi: 100.0, open_lo: true }, "1.1"));
        Function { name: "mirt_score_eap", strict: true, args, valid_outcome: "ok" }
    };
    let scored_eap = Function {
        name: "mirt_score_eap",
        strict: true,
        args: vec![
            arg("scores", Ty::Scores, "'{1,2,NULL}'"),
            arg("params", Ty::ItemJson, ITEM_JSON),
            arg("mean", Ty::Float { lo: -100.0, hi: 100.0, open_lo: false }, "0.2"),
            arg("sd", Ty::Float { lo: 0.0, hi: 100.0, open_lo: true }, "1.1"),
        ],
        valid_outcome: "ok",
    };
    vec![
        Function {
            name: "mirt_calibrate",
            strict: false,
            args: vec![
                arg("model", Ty::Name, "' 2pl '"),
                arg("lookback_days", count(1, 36_500), "60"),
                arg("linking", Ty::Name, "'Stocking_Lord '"),
                arg("priors", Ty::Name, "' DEFAULT'"),
                arg("source", Ty::Relation, "'ATTEMPT'"),
                arg("items", Ty::Relation, "'Question'"),
                arg("max_cycles", count(1, 100_000), "500"),
                arg("tolerance", Ty::Float { lo: 1e-12, hi: 1.0, open_lo: false }, "1e-4"),
                arg("quadrature_points", count(5, 301), "61"),
                arg("threads", Ty::Int { lo: 1, hi: 1024, null_ok: true }, "2"),
                arg("accept_nonconverged", Ty::Bool, "false"),
                arg("min_anchors", count(1, 1_000_000), "5"),
                arg("min_responses", count(1, 1_000_000), "5"),
                arg("attempt", Ty::Name, "' First'"),
                arg("algorithm", Ty::Name, "'SQUAREM '"),
                arg("standard_errors", Ty::Name, "' Auto'"),
                arg("anchor_drift", Ty::Name, "' Purify'"),
                arg("drift_z", Ty::Float { lo: 1.0, hi: 10.0, open_lo: false }, "2.576"),
                arg("groups", Ty::Column, "NULL"),
                arg("reference_group", Ty::Group, "NULL"),
            ],
            valid_outcome: "ok",
        },
        Function {
            name: "mirt_schedule",
            strict: false,
            args: vec![
                arg("schedule", Ty::Text, "'0 3 * * *'"),
                arg("model", Ty::Name, "' 2pl '"),
                arg("lookback_days", count(1, 36_500), "60"),
                arg("job_name", Ty::Text, "'nightly'"),
            ],
            valid_outcome: "55000",
        },
        Function {
            name: "mirt_unschedule",
            strict: false,
            args: vec![arg("job_name", Ty::Text, "'nightly'")],
            valid_outcome: "55000",
        },
        link(false),
        link(true),
        Function {
            name: "mirt_linking_constants",
            strict: true,
            args: vec![
                arg("method", Ty::Name, "'haebara'"),
                arg("from_params", Ty::ItemJson, ITEM_JSON),
                arg("to_params", Ty::ItemJson, ITEM_JSON),
            ],
            valid_outcome: "ok",
        },
        Function {
            name: "mirt_promote",
            strict: false,
            args: vec![
                arg("run_id", Ty::RecordedRun, "NULL"),
                arg("min_responses", count(1, i64::from(i32::MAX)), "500"),
                arg("max_se_b", Ty::Float { lo: 0.0, hi: f64::MAX, open_lo: true }, "0.2"),
                arg("stable_runs", count(1, 365), "3"),
                arg("retire_after", count(1, 365), "3"),
                arg("apply", Ty::Bool, "true"),
                arg("items", Ty::Relation, "'Question'"),
            ],
            // The demo's items have too few answers to promote under the defaults.
            valid_outcome: "null",
        },
        Function { name: "mirt_report", strict: false, args: vec![arg("run_id", Ty::RunId, "NULL")], valid_outcome: "ok" },
        Function { name: "mirt_report_data", strict: false, args: vec![arg("run_id", Ty::RunId, "NULL")], valid_outcome: "ok" },
        item_fn("mirt_irf"),
        item_fn("mirt_item_information"),
        curves(false),
        curves(true),
        eap(false),
        eap(true),
        scored_eap,
    ]
}

/// A right/wrong item, a graded item in three categories and a 3PL item, as stored parameters.
const ITEM_JSON: &str = r#"ARRAY['{"a": 1.0, "b": 0.0}', '{"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5]}', '{"a": 0.8, "b": 0.7, "c": 0.2}']::jsonb[]"#;

/// The values tried for an argument of type `ty` (label, SQL) besides its valid one.
fn values(ty: Ty, valid: &str) -> Vec<(String, String)> {
    let v = |label: &str, sql: String| (label.to_string(), sql);
    let mut out = vec![v("NULL", "NULL".into())];
    match ty {
        Ty::Name => {
            out.push(v("unknown name", "'no such thing'".into()));
            out.push(v("empty name", "''".into()));
        }
        Ty::Relation => {
            out.push(v("missing relation", "'no_such_relation'".into()));
            out.push(v("quoted upper case", "'\"ATTEMPT\"'".into()));
        }
        Ty::Text => out.push(v("empty text", "''".into())),
        Ty::Column => {
            out.push(v("empty text", "''".into()));
            out.push(v("missing column", "'no_such_column'".into()));
        }
        Ty::Group => {
            out.push(v("empty text", "''".into()));
            out.push(v("a group", "'ref'".into()));
        }
        Ty::RunId | Ty::RecordedRun => {
            out.push(v("empty text", "''".into()));
            out.push(v("unknown run", "'fit-1999-01-01T00:00:00Z'".into()));
            out.push(v("markup", "'<script>alert(1)</script>'".into()));
        }
        Ty::Int { .. } => {
            for x in ["0", "-1", "2147483647"] {
                out.push(v(x, x.into()));
            }
        }
        Ty::Float { .. } => {
            for x in ["'NaN'", "'Infinity'", "'-Infinity'", "0", "-1", "1e308"] {
                out.push(v(x, format!("{x}::float8")));
            }
        }
        Ty::Bool => {}
        Ty::Scores => {
            out.push(v("empty array", "'{}'".into()));
            out.push(v("longer array", "'{1,2,NULL,0}'".into()));
            out.push(v("array holding NULL", "'{NULL,2,NULL}'".into()));
            out.push(v("a negative score", "'{-1,2,NULL}'".into()));
            out.push(v("a score past the item's categories", "'{1,3,NULL}'".into()));
            out.push(v("a huge score", "'{2147483647,2,NULL}'".into()));
        }
        Ty::ItemJson => {
            let rest = r#"'{"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5]}', '{"a": 0.8, "b": 0.7, "c": 0.2}'"#;
            out.push(v("empty array", "'{}'::jsonb[]".into()));
            out.push(v("longer array", ITEM_JSON.replace("]::jsonb[]", r#", '{"a": 1.0, "b": 0.0}']::jsonb[]"#)));
            out.push(v("array holding NULL", format!("ARRAY[NULL, {rest}]::jsonb[]")));
            for (label, item) in [
                ("an item without b", r#"{"a": 1.0}"#),
                ("an item not an object", "[1, 2]"),
                ("an item with a huge slope", r#"{"a": 1e308, "b": 0.0}"#),
                ("an item of an unknown model", r#"{"model": "NRM", "a": 1.0, "thresholds": [0.0]}"#),
                ("a graded item with falling thresholds", r#"{"model": "GRM", "a": 1.0, "thresholds": [0.5, -0.5]}"#),
            ] {
                out.push(v(label, format!("ARRAY['{item}', {rest}]::jsonb[]")));
            }
        }
        Ty::Slopes | Ty::Locations | Ty::Asymptotes | Ty::Pattern => {
            let elements = valid.trim_matches(|c| c == '\'' || c == '{' || c == '}');
            let first = elements.split(',').next().unwrap_or("1");
            out.push(v("empty array", "'{}'".into()));
            out.push(v("longer array", format!("'{{{elements},{first}}}'")));
            out.push(v("array holding NULL", format!("'{{NULL,{}}}'", elements.split_once(',').unwrap().1)));
            if !matches!(ty, Ty::Pattern) {
                out.push(v("array holding NaN", format!("'{{NaN,{}}}'", elements.split_once(',').unwrap().1)));
                out.push(v("array holding a huge value", format!("'{{1e308,{}}}'", elements.split_once(',').unwrap().1)));
            }
        }
    }
    out
}

/// The documented answer to `label` (with SQL `sql`) as argument `a` of `f`: "ok", "null", or
/// an SQLSTATE.
fn expected(f: &Function, a: &Arg, label: &str, sql: &str) -> String {
    let valid = f.valid_outcome.to_string();
    if label == "NULL" {
        return match (f.strict, a.ty) {
            (true, _) => "null".into(),
            (false, Ty::Int { null_ok: true, .. } | Ty::RunId | Ty::RecordedRun | Ty::Column | Ty::Group) => valid,
            _ => "22004".into(),
        };
    }
    match a.ty {
        Ty::Name => "22023".into(),
        Ty::Relation => "42P01".into(),
        Ty::Text | Ty::RunId => valid,
        Ty::RecordedRun => "22023".into(),
        Ty::Column => match label {
            "missing column" => "42703".into(),
            _ => "22023".into(),
        },
        Ty::Group => "22023".into(),
        Ty::Int { lo, hi, .. } => {
            let x: i64 = sql.parse().unwrap();
            if (lo..=hi).contains(&x) { valid } else { "22023".into() }
        }
        Ty::Float { lo, hi, open_lo } => {
            let x: f64 = sql.trim_end_matches("::float8").trim_matches('\'').parse().unwrap();
            let above = if open_lo { x > lo } else { x >= lo };
            if x.is_finite() && above && x <= hi { valid } else { "22023".into() }
        }
        Ty::Bool => valid,
        Ty::Slopes | Ty::Locations | Ty::Asymptotes => match label {
            "array holding NULL" => "22004".into(),
            // An asymptote of 1e308 and a slope or location past ±1000 break the item rule.
            _ => "22023".into(),
        },
        Ty::Pattern | Ty::Scores => match label {
            "array holding NULL" => valid,
            _ => "22023".into(),
        },
        Ty::ItemJson => match label {
            "array holding NULL" => "22004".into(),
            _ => "22023".into(),
        },
    }
}

fn install_outcome_function() {
    // The call's first result row as text ('null' for none or NULL), or the SQLSTATE, message
    // and detail of its error. A successful call is rolled back too, by a private error.
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
         DECLARE r text; st text; msg text; det text;
         BEGIN
             BEGIN
                 EXECUTE q INTO r;
                 r := coalesce('ok ' || r, 'null');
                 RAISE EXCEPTION 'undo' USING ERRCODE = 'P0999';
             EXCEPTION WHEN OTHERS THEN
                 GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
                 IF st = 'P0999' THEN RETURN r; END IF;
                 RETURN st || ' ' || msg || coalesce(' DETAIL: ' || nullif(det, ''), '');
             END;
         END $$",
    )
    .unwrap();
}

/// Everything the four result tables hold, as one checksum.
fn tables_digest() -> String {
    one("SELECT md5(concat_ws('|',
            (SELECT string_agg(t::text, ',' ORDER BY run_id) FROM mirt_fit_meta t),
            (SELECT string_agg(t::text, ',' ORDER BY item_id) FROM mirt_item_params t),
            (SELECT string_agg(t::text, ',' ORDER BY user_id) FROM mirt_ability t),
            (SELECT string_agg(t::text, ',' ORDER BY run_id, item_id) FROM mirt_item_params_history t)))")
}

/// Runs every case of `f`; returns the failures.
fn run_matrix(f: &Function) -> Vec<String> {
    let mut failures = Vec::new();
    let backend: i32 = one("SELECT pg_backend_pid()");
    let cases = std::iter::once((None, String::new(), String::new())).chain(
        f.args.iter().enumerate().flat_map(|(k, a)| values(a.ty, a.valid).into_iter().map(move |(l, s)| (Some(k), l, s))),
    );
    for (which, label, sql) in cases {
        let call: Vec<String> = f
            .args
            .iter()
            .enumerate()
            .map(|(k, a)| format!("{} => {}", a.name, if Some(k) == which { &sql } else { a.valid }))
            .collect();
        let query = format!("SELECT string_agg(t::text, ';') FROM {}({}) t", f.name, call.join(", "));
        let got: String = Spi::get_one_with_args("SELECT pg_temp.outcome($1)", &[query.clone().into()]).unwrap().unwrap();
        let want = match which {
            None => f.valid_outcome.to_string(),
            Some(k) => expected(f, &f.args[k], &label, &sql),
        };
        let kind = got.split(' ').next().unwrap_or("");
        let leaked = ["backtrace", "rust_begin_unwind", ".rs:", "panicked"].iter().any(|w| got.contains(w));
        if kind != want || kind == "XX000" || leaked || (kind == "ok" && got.contains("NaN")) {
            failures.push(format!("{} {}: want {want}, got {got}", f.name, which.map_or("valid", |k| f.args[k].name)));
        }
        // The session goes on in the same backend.
        assert_eq!(one::<i32>("SELECT pg_backend_pid()"), backend);
    }
    failures
}

fn check_matrix(name: &str, calibrates: bool) {
    if calibrates {
        load_demo();
    }
    install_outcome_function();
    let before = tables_digest();
    let failures: Vec<String> = functions().iter().filter(|f| f.name == name).flat_map(run_matrix).collect();
    assert!(failures.is_empty(), "{} cases broke the documented rules:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(tables_digest(), before, "a case changed the result tables");
}

#[pg_test]
fn argument_matrix_mirt_calibrate() {
    check_matrix("mirt_calibrate", true);
}

#[pg_test]
fn argument_matrix_mirt_schedule() {
    check_matrix("mirt_schedule", false);
    check_matrix("mirt_unschedule", false);
}

#[pg_test]
fn argument_matrix_mirt_promote() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    check_matrix("mirt_promote", false);
}

#[pg_test]
fn argument_matrix_mirt_linking_constants() {
    check_matrix("mirt_linking_constants", false);
}

#[pg_test]
fn argument_matrix_item_functions() {
    check_matrix("mirt_irf", false);
    check_matrix("mirt_item_information", false);
}

#[pg_test]
fn argument_matrix_mirt_test_curves() {
    check_matrix("mirt_test_curves", false);
}

#[pg_test]
fn argument_matrix_mirt_score_eap() {
    check_matrix("mirt_score_eap", false);
}

/// The matrix covers every function the extension defines.
#[pg_test]
fn argument_matrix_covers_every_function() {
    let covered: Vec<&str> = functions().iter().map(|f| f.name).collect();
    let defined: Vec<String> = Spi::connect(|c| {
        c.select(
            "SELECT DISTINCT p.proname::text FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' \
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt' \
             WHERE p.pronamespace <> to_regnamespace('tests') AND p.pronargs > 0 ORDER BY 1",
            None,
            &[],
        )
        .unwrap()
        .map(|row| row.get::<String>(1).unwrap().unwrap())
        .collect()
    });
    for name in &defined {
        assert!(covered.contains(&name.as_str()), "{name} has no rows in the argument matrix");
    }
}

#[pg_test]
fn argument_matrix_mirt_report() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    check_matrix("mirt_report", false);
    check_matrix("mirt_report_data", false);
}
