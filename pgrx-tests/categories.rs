// Items scored in categories through the SQL path: a source with `score` instead of `correct`,
// the models GRM, GPCM and PCM, what is written, and the input a run refuses. Agreement is with R
// mirt 1.46.1 (shared/fixtures/poly/Science_*.json, made by `make_poly.R`).

/// mirt's Science (Karlheinz & Melich, 1992): 392 persons, 4 Likert items in four categories
/// (scored 0 to 3), as its 90 response patterns and their counts.
fn science() -> String {
    patterns_table(
        "science",
        "('0000', 2), ('0210', 1), ('0312', 1), ('0320', 1), ('1000', 1), ('1013', 1),
                 ('1100', 1), ('1111', 4), ('1112', 2), ('1120', 1), ('1121', 1), ('1122', 1),
                 ('1132', 1), ('1202', 1), ('1211', 2), ('1212', 1), ('1221', 3), ('1222', 3),
                 ('1223', 2), ('1230', 1), ('1232', 2), ('1310', 1), ('1332', 2), ('1333', 1),
                 ('2000', 1), ('2002', 2), ('2011', 2), ('2012', 4), ('2021', 5), ('2022', 5),
                 ('2023', 3), ('2032', 1), ('2033', 1), ('2101', 1), ('2103', 1), ('2110', 1),
                 ('2111', 10), ('2112', 7), ('2120', 1), ('2121', 16), ('2122', 22), ('2123', 5),
                 ('2130', 1), ('2131', 1), ('2132', 3), ('2133', 2), ('2202', 2), ('2210', 1),
                 ('2211', 13), ('2212', 10), ('2213', 2), ('2220', 5), ('2221', 23), ('2222', 52),
                 ('2223', 8), ('2231', 7), ('2232', 13), ('2233', 12), ('2302', 1), ('2312', 1),
                 ('2321', 2), ('2322', 4), ('2323', 4), ('2330', 1), ('2331', 1), ('2332', 6),
                 ('2333', 3), ('3003', 1), ('3011', 1), ('3013', 2), ('3023', 1), ('3110', 1),
                 ('3112', 3), ('3122', 8), ('3123', 2), ('3131', 1), ('3133', 1), ('3212', 1),
                 ('3221', 2), ('3222', 21), ('3223', 3), ('3231', 2), ('3232', 5), ('3233', 8),
                 ('3321', 1), ('3322', 2), ('3323', 3), ('3331', 2), ('3332', 6), ('3333', 12)",
        4,
        "ch::smallint AS score",
    )
}

fn calibrate_science(model: &str) {
    calibrate_unlinked(model, "science");
}

/// An item's written slope, thresholds and SE of the slope.
fn written_item(item: usize) -> (f64, Vec<f64>, Option<f64>) {
    let params: pgrx::JsonB = one(&format!("SELECT params FROM mirt_item_params WHERE item_id = '{item}'"));
    let p = params.0;
    let thresholds = p["thresholds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    (p["a"].as_f64().unwrap(), thresholds, p["se_a"].as_f64())
}

/// mirt's `itemfit` S-X2 and df on Science (shared fixtures `poly/Science_*.json`).
const S_X2: [(&str, [f64; 4], [i32; 4]); 3] = [
    ("GRM", [4.786976519823835, 8.757360713532737, 7.554197518111308, 9.925387296647436], [6, 9, 8, 11]),
    ("GPCM", [5.527473824382113, 11.28262488419092, 8.174955912399087, 10.669980470440782], [6, 10, 8, 11]),
    ("PCM", [4.0264515233120575, 10.262223874969479, 15.564532290766685, 11.048717646191726], [6, 8, 10, 10]),
];

/// Each model's written estimates on the IRT form agree with mirt's at TOL 1e-8 (1e-3; the core's
/// tests hold the slope–intercept form to 1e-4), and the slopes' crossprod SEs within 1 %; the
/// log-likelihood is mirt's, and so are S-X2 and its df. A PCM's slopes are 1 and its latent
/// variance is estimated.
#[pg_test]
fn items_in_categories_are_calibrated_as_mirt_does() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    // mirt's IRTpars (a, b1 … b3) and SE(a); PCM's a is fixed.
    let cases: [(&str, f64, [(f64, [f64; 3], f64); 4]); 3] = [
        ("GRM", -1608.8694131235548, [
            (1.0406415844208585, [-4.672811173907839, -2.5360933514802366, 1.40822419071333], 0.1647783728282611),
            (1.2258327097928778, [-2.38531763869246, -0.735117079968525, 1.848889896633132], 0.18840797454081984),
            (2.300594358265885, [-2.279921491443205, -0.9643779423434846, 0.8552119923448901], 0.5028588971639794),
            (1.093799537223011, [-3.0598701462158733, -0.9063997037848143, 1.5428155818574845], 0.1637663832210964),
        ]),
        ("GPCM", -1612.6815995539282, [
            (0.8611427876947291, [-3.277459308497255, -2.8924641445424792, 1.5377916135048197], 0.14843436437927543),
            (0.8399728898485921, [-2.0356875262838425, -1.0330981268009234, 2.0589286803693154], 0.14391322305768553),
            (2.237351038057953, [-2.083132905245054, -0.9747980146899575, 0.8314385136673108], 0.6530469046751275),
            (0.7203752425737884, [-2.9079568360660737, -1.1092689150998698, 1.6314988460180073], 0.12276125373640676),
        ]),
        ("PCM", -1619.274100888972, [
            (1.0, [-3.087957299432187, -2.5953173982945863, 1.3887951546440087], 0.0),
            (1.0, [-1.8963658122050746, -0.9109211632584664, 1.8587577494193772], 0.0),
            (1.0, [-2.647594241547469, -1.4212163052953644, 1.1352127230617342], 0.0),
            (1.0, [-2.4491638663242927, -0.8997567859454438, 1.358034713002258], 0.0),
        ]),
    ];
    for (model, log_lik, items) in cases {
        calibrate_science(model);
        let ours: f64 = one("SELECT (metrics->>'loglik')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
        assert!((ours - log_lik).abs() < 1e-6, "{model}: log-likelihood {ours}, mirt {log_lik}");
        for (j, (a, b, se_a)) in items.iter().enumerate() {
            let (ours_a, ours_b, ours_se) = written_item(j + 1);
            assert!((ours_a - a).abs() < 1e-3, "{model} item {}: a {ours_a}, mirt {a}", j + 1);
            for (o, m) in ours_b.iter().zip(b) {
                assert!((o - m).abs() < 1e-3, "{model} item {}: b {ours_b:?}, mirt {b:?}", j + 1);
            }
            let ours_se = ours_se.unwrap();
            assert!((ours_se - se_a).abs() <= 0.01 * se_a, "{model} item {}: SE(a) {ours_se}, mirt {se_a}", j + 1);
        }
        let written: (String, i64, String) = (
            one("SELECT model FROM mirt_item_params WHERE item_id = '1'"),
            one("SELECT (params->>'categories')::int8 FROM mirt_item_params WHERE item_id = '1'"),
            one("SELECT (params->'scores')::text FROM mirt_item_params WHERE item_id = '1'"),
        );
        assert_eq!(written, (model.to_string(), 4, "[0, 1, 2, 3]".to_string()));
        // S-X2 and its df are mirt's `itemfit` (at estimates within 1e-4 of mirt's).
        let (_, mirt_s_x2, mirt_df) = S_X2.iter().find(|(m, _, _)| *m == model).unwrap();
        let latest = "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)";
        for j in 0..4 {
            let fit = |column: &str| format!("SELECT {column} FROM mirt_item_fit WHERE item_id = '{}' AND run_id = {latest}", j + 1);
            let (s_x2, df): (f64, i32) = (one(&fit("s_x2")), one(&fit("s_x2_df")));
            assert_eq!(df, mirt_df[j], "{model} item {}: S-X2 df", j + 1);
            assert!((s_x2 - mirt_s_x2[j]).abs() < 0.01 * mirt_s_x2[j], "{model} item {}: S-X2 {s_x2}, mirt {}", j + 1, mirt_s_x2[j]);
        }
    }
    // Written parameters copied into the bank start the next run there (the same keys): it
    // ends where the last did, in fewer cycles.
    let cycles = || -> i64 { one("SELECT (metrics->>'em_cycles')::int8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1") };
    let (first_cycles, first) = (cycles(), written_item(2));
    Spi::run("INSERT INTO science_items SELECT item_id::int, jsonb_build_object('irt', params) FROM mirt_item_params").unwrap();
    calibrate_science("PCM");
    let again = written_item(2);
    assert!(cycles() < first_cycles, "{} cycles, then {first_cycles}", cycles());
    assert!(first.1.iter().zip(&again.1).all(|(x, y)| (x - y).abs() < 1e-4), "{first:?} {again:?}");
    // PCM estimates the latent variance (mirt 1.0025307) on an unlinked scale.
    let variance: f64 = one("SELECT (model_spec->'latent'->>'variance')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert!((variance - 1.0025306748713787).abs() < 1e-3, "{variance}");
    // `b` is the mean of the thresholds, so that a query reading a and b as numbers reads
    // every item (the seed's verification SQL among them).
    let mean_gap: f64 = one("SELECT max(abs((params->>'b')::float8 - (SELECT avg(t::float8) FROM jsonb_array_elements_text(params->'thresholds') t))) FROM mirt_item_params");
    assert!(mean_gap < 1e-12, "{mean_gap}");
}

/// Every user's largest difference between `mirt_score_eap` on their scores, with the latest
/// run's written parameters and latent distribution, and the θ and SE the run wrote.
fn rescored_gap() -> (f64, f64) {
    let gaps: Vec<f64> = ["theta", "se"]
        .iter()
        .map(|column| -> f64 {
            one(&format!(
                "WITH run AS (SELECT (model_spec->'latent'->>'mean')::float8 AS mean,
                                     sqrt((model_spec->'latent'->>'variance')::float8) AS sd
                              FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1),
                      params AS (SELECT array_agg(params ORDER BY item_id::int) AS p FROM mirt_item_params)
                 SELECT max(abs(e.{column} - a.{column}))
                 FROM mirt_ability a, run, params,
                      LATERAL (SELECT array_agg(score::int ORDER BY question_id) AS s FROM science
                               WHERE user_id::text = a.user_id) answers,
                      LATERAL mirt_score_eap(answers.s, params.p, run.mean, run.sd) e"
            ))
        })
        .collect();
    (gaps[0], gaps[1])
}

/// `mirt_score_eap` on scores and stored parameters gives every user the θ and SE the run wrote
/// (1e-10): under the graded model, and under PCM, whose latent variance is estimated; with a
/// category merged away, or an item left with two scores (0 and 3), scores read through the
/// `scores` the run recorded.
/// Bad arguments are errors that name the entry.
#[pg_test]
fn patterns_are_scored_as_the_run_scored_them() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    for model in ["GRM", "PCM"] {
        calibrate_science(model);
        let (theta, se) = rescored_gap();
        assert!(theta < 1e-10 && se < 1e-10, "{model}: θ off by {theta}, SE by {se}");
    }
    Spi::run("UPDATE science SET score = 3 WHERE question_id = 1 AND score = 2").unwrap();
    calibrate_science("GRM");
    let (theta, se) = rescored_gap();
    assert!(theta < 1e-10 && se < 1e-10, "merged: θ off by {theta}, SE by {se}");
    // Item 4 answered 0 or 3 only: a right/wrong pair whose scores the run records.
    Spi::run("UPDATE science SET score = CASE WHEN score >= 2 THEN 3 ELSE 0 END WHERE question_id = 4").unwrap();
    calibrate_science("GRM");
    let pair: String = one("SELECT (params->'scores')::text FROM mirt_item_params WHERE item_id = '4'");
    assert_eq!(pair, "[0, 3]");
    let (theta, se) = rescored_gap();
    assert!(theta < 1e-10 && se < 1e-10, "pair: θ off by {theta}, SE by {se}");

    let params = "ARRAY(SELECT params FROM mirt_item_params ORDER BY item_id::int)";
    let error = |scores: &str, params: &str| {
        error_of(&format!("SELECT * FROM mirt_score_eap({scores}, {params})")).unwrap_or_default()
    };
    assert_eq!(
        error("ARRAY[2, 1, 1, 1]", params),
        "22023: scores[1]: score 2 is none of the item's \"scores\" [0,1,3]"
    );
    assert_eq!(
        error("ARRAY[1, 4, 1, 1]", params),
        "22023: scores[2]: score 4 is none of the item's \"scores\" [0,1,2,3]"
    );
    assert!(error("ARRAY[1, 1, 1]", params).starts_with("22023: scores must have one entry per item of params, got 3 entries for 4 items"));
    assert!(error("ARRAY[1]", "ARRAY['{\"a\": 1}'::jsonb]").starts_with("22023: params[1]: \"b\" is missing"));
    // NULL is an item not answered: the prior's mean and SD with no answers.
    let (theta, sd): (f64, f64) = (
        one(&format!("SELECT theta FROM mirt_score_eap(ARRAY[NULL, NULL, NULL, NULL]::int[], {params}, 0.5, 2)")),
        one(&format!("SELECT se FROM mirt_score_eap(ARRAY[NULL, NULL, NULL, NULL]::int[], {params}, 0.5, 2)")),
    );
    assert!((theta - 0.5).abs() < 1e-6 && (sd - 2.0).abs() < 1e-3, "{theta} {sd}");
}

/// `algorithm => 'mirt'` runs mirt's own EM on items in categories: the log-likelihood and
/// cycles of mirt's default-TOL fit of Science (shared fixtures `Science_GRM.json`,
/// `default_tol`).
#[pg_test]
fn algorithm_mirt_is_mirts_run() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    Spi::run("SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => 'none', priors => 'none', algorithm => 'mirt')").unwrap();
    let (log_lik, cycles): (f64, i64) = (
        one("SELECT (metrics->>'loglik')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"),
        one("SELECT (metrics->>'em_cycles')::int8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"),
    );
    assert_eq!(cycles, 36);
    assert!((log_lik + 1608.869536058425).abs() < 1e-8, "{log_lik}");
}

/// Anchors in categories held fixed (`linking => 'fixed'`): Science's items 1 and 2, stored at
/// an unlinked GRM run's estimates, anchor the next run, which finds the same scale (latent
/// N(0, 1), items 3 and 4 as before) and screens them (not flagged, area near 0, their
/// location as b); stored a logit too high, item 1 is flagged. Other linking leaves them out.
#[pg_test]
fn anchors_in_categories_are_held_fixed() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    calibrate_science("GRM");
    let before = [written_item(3), written_item(4)];
    Spi::run("INSERT INTO science_items SELECT item_id::int, jsonb_build_object('tags', '[\"anchor\"]'::jsonb, 'irt', params) FROM mirt_item_params WHERE item_id IN ('1', '2')").unwrap();
    let fixed = |drift: &str| {
        Spi::run(&format!(
            "SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => 'fixed', \
             min_anchors => 2, priors => 'none', tolerance => 1e-8, max_cycles => 20000, anchor_drift => '{drift}')"
        ))
        .unwrap()
    };
    fixed("purify");
    let latest = "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)";
    let spec = |key: &str| -> f64 { one(&format!("SELECT (model_spec->'latent'->>'{key}')::float8 FROM mirt_fit_meta WHERE run_id = {latest}")) };
    let (mean, variance) = (spec("mean"), spec("variance"));
    assert!(mean.abs() < 1e-3 && (variance - 1.0).abs() < 1e-3, "N({mean}, {variance})");
    let held: i64 = one("SELECT count(*) FROM mirt_item_params WHERE (params->>'fixed')::bool");
    assert_eq!(held, 2);
    for (j, (a, b, _)) in [3, 4].into_iter().zip(before) {
        let (now_a, now_b, _) = written_item(j);
        assert!((now_a - a).abs() < 1e-3 && now_b.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3), "item {j}");
    }
    let (flagged, area, gap): (i64, f64, f64) = (
        one(&format!("SELECT count(*) FILTER (WHERE flagged) FROM mirt_anchor_drift WHERE run_id = {latest}")),
        one(&format!("SELECT max(area) FROM mirt_anchor_drift WHERE run_id = {latest}")),
        one(&format!(
            "SELECT max(abs(d.stored_b - (p.params->>'b')::float8)) FROM mirt_anchor_drift d \
             JOIN mirt_item_params p USING (item_id) WHERE d.run_id = {latest}"
        )),
    );
    assert_eq!(flagged, 0);
    assert!(area < 0.01 && gap < 1e-9, "area {area}, stored b against the location {gap}");

    Spi::run(
        "UPDATE science_items SET meta = jsonb_set(meta, '{irt,thresholds}', \
         (SELECT jsonb_agg(t::float8 + 1) FROM jsonb_array_elements_text(meta->'irt'->'thresholds') t)) WHERE id = 1",
    )
    .unwrap();
    fixed("flag");
    let (flagged, d_b): (bool, f64) = (
        one(&format!("SELECT flagged FROM mirt_anchor_drift WHERE run_id = {latest} AND item_id = '1'")),
        one(&format!("SELECT d_b FROM mirt_anchor_drift WHERE run_id = {latest} AND item_id = '1'")),
    );
    assert!(flagged && d_b < -0.3, "flagged {flagged}, d_b {d_b}");
}

/// Anchors in categories linked by every method: Science's own estimates of items 1–3 stored as
/// anchors on the scale θ* = 1.5·θ + 0.5 (a/1.5, every threshold 1.5·b + 0.5) give that scale
/// back — the constants and the latent distribution N(0.5, 1.5²) —, with the constants' SEs,
/// and no anchor flagged; `auto` (fewer than 500 answers per anchor: fixed, screened first by
/// Stocking–Lord) keeps all three and recovers the scale as well.
#[pg_test]
fn anchors_in_categories_are_linked_by_every_method() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    calibrate_science("GRM");
    Spi::run(
        "INSERT INTO science_items SELECT item_id::int, jsonb_build_object('tags', '[\"anchor\"]'::jsonb, 'irt', \
         jsonb_build_object('model', 'GRM', 'a', (params->>'a')::float8 / 1.5, 'thresholds', \
         (SELECT jsonb_agg(t::float8 * 1.5 + 0.5 ORDER BY o) FROM jsonb_array_elements_text(params->'thresholds') WITH ORDINALITY x(t, o)))) \
         FROM mirt_item_params WHERE item_id IN ('1', '2', '3')",
    )
    .unwrap();
    let latest = "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)";
    for linking in ["stocking_lord", "haebara", "mean_sigma", "mean_mean", "auto"] {
        Spi::run(&format!(
            "SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => '{linking}', \
             min_anchors => 2, priors => 'none', tolerance => 1e-8, max_cycles => 20000)"
        ))
        .unwrap();
        let spec = |path: &str| -> f64 { one(&format!("SELECT (model_spec #>> '{path}')::float8 FROM mirt_fit_meta WHERE run_id = {latest}")) };
        let (mean, variance) = (spec("{latent,mean}"), spec("{latent,variance}"));
        assert!((mean - 0.5).abs() < 1e-3 && (variance - 2.25).abs() < 1e-3, "{linking}: N({mean}, {variance})");
        let (slope, slope_se, intercept_se) = (
            spec("{linking_constants,slope}"),
            spec("{linking_constants,slope_se}"),
            spec("{linking_constants,intercept_se}"),
        );
        assert!((slope - 1.5).abs() < 1e-3 && slope_se > 0.0 && intercept_se > 0.0, "{linking}: A {slope} ({slope_se}), SE(B) {intercept_se}");
        let (screened, flagged): (i64, i64) = (
            one(&format!("SELECT count(DISTINCT item_id) FROM mirt_anchor_drift WHERE run_id = {latest}")),
            one(&format!("SELECT count(*) FILTER (WHERE flagged) FROM mirt_anchor_drift WHERE run_id = {latest}")),
        );
        assert_eq!((screened, flagged), (3, 0), "{linking}");
    }
}

/// A category no one reached is merged away as mirt does, and the run says so; a score that is
/// not a category, one past the item's declared categories, or categories under a model of
/// right/wrong items are refused with the item named, and nothing is written.
#[pg_test]
fn scores_are_checked_and_unreached_categories_merged() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    // Item 1 without its category 2: scores 0, 1 and 3 are its three categories.
    Spi::run("UPDATE science SET score = 3 WHERE question_id = 1 AND score = 2").unwrap();
    calibrate_science("GRM");
    let (k, scores): (i64, String) = (
        one("SELECT (params->>'categories')::int8 FROM mirt_item_params WHERE item_id = '1'"),
        one("SELECT (params->'scores')::text FROM mirt_item_params WHERE item_id = '1'"),
    );
    assert_eq!((k, scores.as_str()), (3, "[0, 1, 3]"));
    // mirt on the same data (scripts/fixtures/poly_merged.R, NCYCLES 50000).
    let (a, b, _) = written_item(1);
    let mirt_b = [-5.6480536562, -3.0277533727];
    assert!((a - 0.8287515183).abs() < 1e-3, "a {a}");
    assert!(b.iter().zip(mirt_b).all(|(o, m)| (o - m).abs() < 1e-3), "{b:?}");
    let log_lik: f64 = one("SELECT (metrics->>'loglik')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    assert!((log_lik + 1425.105359513605).abs() < 1e-6, "{log_lik}");
    let before = table_counts();
    let refused = |statement: &str| error_of(statement).unwrap_or_else(|| panic!("{statement} ran"));
    let run = "SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => 'none')";
    Spi::run("ALTER TABLE science ALTER COLUMN score TYPE float8").unwrap();
    for bad in ["2.5", "10", "-1"] {
        Spi::run(&format!("UPDATE science SET score = {bad} WHERE user_id = 7 AND question_id = 2")).unwrap();
        let err = refused(run);
        assert!(err.starts_with("22P02") && err.contains("item 2") && err.contains(bad), "{err}");
        Spi::run("UPDATE science SET score = 1 WHERE user_id = 7 AND question_id = 2").unwrap();
    }
    let err = refused("SELECT mirt_calibrate('2PL', 60, source => 'science', items => 'science_items', linking => 'none')");
    assert!(err.starts_with("22023") && err.contains("item 1 has answers in 3 categories") && err.contains("2PL"), "{err}");
    Spi::run("INSERT INTO science_items VALUES (3, '{\"irt\": {\"categories\": 3}}')").unwrap();
    let err = refused(run);
    assert!(err.starts_with("22P02") && err.contains("item 3") && err.contains("score 3"), "{err}");
    assert_eq!(table_counts(), before);
}

/// An item's own model in `meta->'irt'->'model'`: a multiple-choice item (3PL) beside graded
/// items in a GRM run, written with its lower asymptote and its model; refused, with the item
/// named and nothing written, where the run cannot fit it beside the others.
#[pg_test]
fn an_item_takes_its_own_model() {
    hold_run_lock();
    Spi::run(&science()).unwrap();
    // Item 4 becomes right/wrong (agree or strongly agree), a 3PL of its own.
    Spi::run("UPDATE science SET score = (score >= 2)::int WHERE question_id = 4").unwrap();
    Spi::run("INSERT INTO science_items VALUES (4, '{\"irt\": {\"model\": \"3PL\"}}')").unwrap();
    Spi::run("SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => 'none')").unwrap();
    let models: String = one("SELECT string_agg(model, ',' ORDER BY item_id) FROM mirt_item_params");
    assert_eq!(models, "GRM,GRM,GRM,3PL");
    let c: f64 = one("SELECT (params->>'c')::float8 FROM mirt_item_params WHERE item_id = '4'");
    assert!(c > 0.0 && c < 0.5, "{c}");
    let before = table_counts();
    for (irt, run, words) in [
        ("{\"model\": \"3PL\"}", "'PCM'", "PCM run"),
        ("{\"model\": \"Rasch\"}", "'GRM'", "a Rasch of its own"),
    ] {
        Spi::run(&format!("UPDATE science_items SET meta = '{{\"irt\": {irt}}}' WHERE id = 4")).unwrap();
        let err = error_of(&format!("SELECT mirt_calibrate({run}, 60, source => 'science', items => 'science_items', linking => 'none')")).unwrap();
        assert!(err.starts_with("22023") && err.contains("item 4") && err.contains(words), "{err}");
    }
    // A right/wrong model on an item in categories.
    Spi::run("INSERT INTO science_items VALUES (1, '{\"irt\": {\"model\": \"3PL\"}}')").unwrap();
    Spi::run("UPDATE science_items SET meta = '{}' WHERE id = 4").unwrap();
    let err = error_of("SELECT mirt_calibrate('GRM', 60, source => 'science', items => 'science_items', linking => 'none')").unwrap();
    assert!(err.starts_with("22023") && err.contains("item 1 has answers in 4 categories; model 3PL"), "{err}");
    assert_eq!(table_counts(), before);
}
