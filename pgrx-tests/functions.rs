// The standalone SQL helpers, against equateIRT's and mirt's numbers.

const CASE1: &str = "ARRAY[1.1151, 1.5837, 0.9939, 1.1515, 1.4782, 1.5439, 1.577, 1.194, 1.7246, 1.2287], \
    ARRAY[0.1906, -0.9279, 0.923, -1.7008, -0.3904, -0.5471, -0.983, -0.1812, -1.1413, -1.9154], \
    ARRAY[0.9068, 1.1803, 0.8167, 1.0664, 1.0977, 1.4222, 1.204, 0.9667, 1.3167, 0.9352], \
    ARRAY[0.5264, -0.7948, 1.4278, -1.4668, -0.2367, -0.1933, -0.8498, 0.0585, -0.8177, -2.0503]";

#[pg_test]
fn linking_constants_match_equate_irt() {
    // equateIRT 2.5.1 direc() on shared/fixtures/linking_cases.json, case1_2PL_10.
    for (method, a, b) in [
        ("mean_mean", 1.24539298248829, 0.391443006863563),
        ("mean_sigma", 1.15751613362015, 0.332798391771405),
        ("haebara", 1.19129571552287, 0.370702847139659),
        ("stocking_lord", 1.21456933186105, 0.382740683220136),
    ] {
        let slope: f64 = one(&format!("SELECT slope FROM mirt_linking_constants('{method}', {CASE1})"));
        let intercept: f64 = one(&format!("SELECT intercept FROM mirt_linking_constants('{method}', {CASE1})"));
        assert!((slope - a).abs() < 1e-6 && (intercept - b).abs() < 1e-6, "{method}: {slope} {intercept}");
    }
    let with_c: f64 = one(&format!(
        "SELECT slope FROM mirt_linking_constants('stocking_lord', {CASE1}, array_fill(0.0::float8, ARRAY[10]), array_fill(0.0::float8, ARRAY[10]))"
    ));
    assert!((with_c - 1.21456933186105).abs() < 1e-6);
    // Strict: a NULL argument gives no row.
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_linking_constants('haebara', NULL, ARRAY[0.0], ARRAY[1.0], ARRAY[0.0])"), 0);
    let err = error_of("SELECT * FROM mirt_linking_constants('irt', ARRAY[1.0, 1.0], ARRAY[0.0, 1.0], ARRAY[1.0, 1.0], ARRAY[0.0, 1.0])").unwrap();
    assert!(err.starts_with("22023") && err.contains("valid methods are mean_mean, mean_sigma, haebara, stocking_lord"), "{err}");
    let err = error_of("SELECT * FROM mirt_linking_constants('haebara', ARRAY[1.0], ARRAY[0.0, 1.0], ARRAY[1.0, 1.0], ARRAY[0.0, 1.0])").unwrap();
    assert!(err.starts_with("22023") && err.contains("same length"), "{err}");
}

#[pg_test]
fn response_functions_and_curves() {
    assert_eq!(one::<f64>("SELECT mirt_irf(0.5, 1.3, 0.5)"), 0.5);
    assert!((one::<f64>("SELECT mirt_irf(0.5, 1.3, 0.5, 0.2)") - 0.6).abs() < 1e-15);
    assert!((one::<f64>("SELECT mirt_item_information(0, 2, 0)") - 1.0).abs() < 1e-15);
    assert_eq!(one::<i64>("SELECT count(*) FROM mirt_test_curves(ARRAY[1, 1.5], ARRAY[-1, 1])"), 81);
    // Two items symmetric about 0 expect one right answer at θ = 0.
    let tcc: f64 = one("SELECT tcc FROM mirt_test_curves(ARRAY[1, 1], ARRAY[-1, 1], -1, 1, 3) WHERE theta = 0");
    assert!((tcc - 1.0).abs() < 1e-12, "{tcc}");
    let se_ok: bool = one("SELECT bool_and(abs(se - 1 / sqrt(information)) < 1e-12) FROM mirt_test_curves(ARRAY[1, 1.5], ARRAY[-1, 1], ARRAY[0.2, 0.1])");
    assert!(se_ok);
    let err = error_of("SELECT mirt_irf(0, -1, 0, 1.5)").unwrap();
    assert!(err.starts_with("22023"), "{err}");
}

#[pg_test]
fn eap_of_one_pattern_matches_mirt() {
    // LSAT7 person 1 (all wrong) under mirt's 2PL estimates: fscores EAP −1.86985, SE 0.69273.
    let query = "SELECT round(theta::numeric, 5) || ' ' || round(se::numeric, 5) FROM mirt_score_eap(ARRAY[false, false, false, false, false], \
        ARRAY[0.987925399745112, 1.08088470444055, 1.70580060870275, 0.765185299281648, 0.735797967264795], \
        ARRAY[-1.87874556018665, -0.747516029071445, -1.05769615626952, -0.635135833233148, -2.52041023831343])";
    assert_eq!(one::<String>(query), "-1.86985 0.69273");
    // NULL entries are unanswered: nothing answered gives the prior back.
    let prior: String = one("SELECT round(theta::numeric, 6) || ' ' || round(se::numeric, 6) FROM mirt_score_eap(ARRAY[NULL, NULL]::boolean[], ARRAY[1, 1], ARRAY[0, 0], 0.5, 0.8)");
    assert_eq!(prior, "0.500000 0.800000");
}

#[pg_test]
fn mirt_compatible_algorithm_is_selectable() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60, algorithm => 'em')").unwrap();
    let algorithm: String = one("SELECT model_spec->>'algorithm' FROM mirt_fit_meta");
    assert_eq!(algorithm, "em");
    let err = error_of("SELECT mirt_calibrate('2PL', 60, algorithm => 'newton')").unwrap();
    assert!(err.starts_with("22023") && err.contains("squarem, em, mirt"), "{err}");
}

#[pg_test]
fn scheduling_without_pg_cron_says_what_to_do() {
    let err = error_of("SELECT mirt_schedule()").unwrap();
    assert!(err.starts_with("55000: pg_cron is not installed"), "{err}");
    let err = error_of("SELECT mirt_schedule('0 3 * * *', '5PL')").unwrap();
    assert!(err.starts_with("22023") && err.contains("valid models"), "{err}");
}

/// Linking items given as their stored parameters: plink 1.5-1's constants on graded,
/// generalized partial credit and mixed anchors (`crates/irt-core/tests/fixtures/poly_linking.json`,
/// `scripts/fixtures/poly_linking.R`) within its rounding to six decimals; a pair of two shapes
/// is refused naming it.
#[pg_test]
fn mirt_linking_constants_agree_with_plink() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../crates/irt-core/tests/fixtures/poly_linking.json")).unwrap();
    let params = |items: &serde_json::Value| -> String {
        let stored: Vec<String> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let model = match item["model"].as_str().unwrap() {
                    "drm" => return format!("'{{\"a\": {}, \"b\": {}, \"c\": {}}}'", item["a"], item["b"], item["c"]),
                    "grm" => "GRM",
                    _ => "GPCM",
                };
                format!("'{{\"model\": \"{model}\", \"a\": {}, \"thresholds\": {}}}'", item["a"], item["thresholds"])
            })
            .collect();
        format!("ARRAY[{}]::jsonb[]", stored.join(", "))
    };
    for (name, case) in fixture["cases"].as_object().unwrap() {
        let (from, to) = (params(&case["from"]), params(&case["to"]));
        for method in ["mean_mean", "mean_sigma", "haebara", "stocking_lord"] {
            let want = &case["results"][method];
            let (slope, intercept): (f64, f64) = (
                one(&format!("SELECT slope FROM mirt_linking_constants('{method}', {from}, {to})")),
                one(&format!("SELECT intercept FROM mirt_linking_constants('{method}', {from}, {to})")),
            );
            let (a, b) = (want["A"].as_f64().unwrap(), want["B"].as_f64().unwrap());
            assert!((slope - a).abs() < 1.5e-6 && (intercept - b).abs() < 1.5e-6, "{name} {method}: {slope} {intercept} against {a} {b}");
        }
    }
    let err = error_of(
        r#"SELECT * FROM mirt_linking_constants('haebara', ARRAY['{"a": 1.0, "b": 0.0}', '{"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5]}']::jsonb[], ARRAY['{"a": 1.0, "b": 0.0}', '{"model": "GPCM", "a": 1.2, "thresholds": [-1.0, 0.5]}']::jsonb[])"#,
    )
    .unwrap();
    assert!(err.starts_with("22023") && err.contains("common item 2"), "{err}");
}
