// Recovery of known parameters through the whole SQL path: a population shifted and stretched
// (θ ~ N(0.5, 1.3²), or shrunk, N(−0.3, 0.8²)) on the scale of 20 anchors, so that linking must
// move it.

/// 3,000 users drawn from N(mean, sd²) answer 30 of 60 items (20 of them anchors with their true
/// parameters stored).
fn shifted_population(mean: f64, sd: f64) -> String {
    format!("
SELECT setseed(0.7);
CREATE TEMP TABLE sim_truth AS
SELECT q AS id,
       exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS a,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS b
FROM generate_series(1, 60) q;
CREATE TABLE sim_question AS
SELECT id, CASE WHEN id <= 20 THEN jsonb_build_object('tags', '[\"anchor\"]'::jsonb, 'irt', jsonb_build_object('a', a, 'b', b))
                ELSE '{{}}'::jsonb END AS meta
FROM sim_truth;
CREATE TEMP TABLE sim_users AS
SELECT u AS user_id, {mean} + {sd} * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS theta
FROM generate_series(1, 3000) u;
CREATE TABLE sim_attempt AS
SELECT u.user_id, t.id AS question_id, random() < 1 / (1 + exp(-t.a * (u.theta - t.b))) AS correct,
       now() - interval '1 day' AS created_at
FROM sim_users u CROSS JOIN LATERAL (SELECT id, a, b FROM sim_truth ORDER BY random() + u.user_id * 0 LIMIT 30) t;
")
}

fn recovery(linking: &str) -> (f64, f64, f64, f64, f64, f64) {
    let run = format!("SELECT slope, intercept FROM mirt_calibrate('2PL', 60, linking => '{linking}', source => 'sim_attempt', items => 'sim_question')");
    let (slope, intercept) = Spi::get_two::<f64, f64>(&run).unwrap();
    let rmse = |field: &str| -> f64 {
        one(&format!(
            "SELECT sqrt(avg(((p.params->>'{field}')::float - t.{field})^2)) FROM mirt_item_params p JOIN sim_truth t ON t.id::text = p.item_id"
        ))
    };
    let sd: f64 = one("SELECT stddev(theta) FROM mirt_ability");
    let theta_rmse: f64 = one("SELECT sqrt(avg((a.theta - u.theta)^2)) FROM mirt_ability a JOIN sim_users u ON u.user_id::text = a.user_id");
    (slope.unwrap(), intercept.unwrap(), rmse("a"), rmse("b"), theta_rmse, sd)
}

#[pg_test]
fn shifted_population_is_linked_onto_the_anchor_scale() {
    hold_run_lock();
    Spi::run(&shifted_population(0.5, 1.3)).unwrap();
    for linking in ["stocking_lord", "haebara", "fixed"] {
        let (slope, intercept, rmse_a, rmse_b, rmse_theta, sd_theta) = recovery(linking);
        notice!("{linking}: slope {slope:.3} (true 1.3), intercept {intercept:.3} (true 0.5), RMSE a {rmse_a:.3}, b {rmse_b:.3}, θ {rmse_theta:.3}, sd θ {sd_theta:.3}");
        assert!((slope - 1.3).abs() < 0.1 && (intercept - 0.5).abs() < 0.1, "{linking}: {slope} {intercept}");
        assert!(rmse_a < 0.1 && rmse_b < 0.1, "{linking}: {rmse_a} {rmse_b}");
        assert!(rmse_theta < 0.5 && (sd_theta - 1.3).abs() < 0.15, "{linking}: {rmse_theta} {sd_theta}");
    }
    // Unlinked, the items stay on the sample's N(0, 1) scale: b is off by the shift.
    let (_, _, _, rmse_b, _, _) = recovery("none");
    assert!(rmse_b > 0.3, "{rmse_b}");
}

/// The latent distribution a run records (`model_spec->'latent'`) is the one of the reported
/// scale, for every linking method: it agrees with the abilities written (their mean, and their
/// variance plus the mean posterior variance, by the law of total variance) and with the truth.
#[pg_test]
fn the_recorded_latent_distribution_is_on_the_reported_scale() {
    hold_run_lock();
    Spi::run(&shifted_population(-0.3, 0.8)).unwrap();
    for linking in ["stocking_lord", "haebara", "mean_sigma", "mean_mean", "fixed", "none"] {
        Spi::run(&format!(
            "SELECT mirt_calibrate('2PL', 60, linking => '{linking}', source => 'sim_attempt', items => 'sim_question')"
        ))
        .unwrap();
        let recorded = |key: &str| -> f64 {
            one(&format!("SELECT (model_spec->'latent'->>'{key}')::float8 FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"))
        };
        let (mean, variance) = (recorded("mean"), recorded("variance"));
        let written_mean: f64 = one("SELECT avg(theta) FROM mirt_ability");
        let total_variance: f64 = one("SELECT var_pop(theta) + avg(se * se) FROM mirt_ability");
        notice!("{linking}: latent mean {mean:.3}, variance {variance:.3}; abilities mean {written_mean:.3}, total variance {total_variance:.3}");
        assert!((mean - written_mean).abs() < 0.03, "{linking}: recorded mean {mean}, abilities {written_mean}");
        assert!((variance / total_variance - 1.0).abs() < 0.06, "{linking}: recorded variance {variance}, abilities {total_variance}");
        let (true_mean, true_variance) = if linking == "none" { (0.0, 1.0) } else { (-0.3, 0.64) };
        assert!((mean - true_mean).abs() < 0.08, "{linking}: mean {mean}, truth {true_mean}");
        assert!((variance / true_variance - 1.0).abs() < 0.15, "{linking}: variance {variance}, truth {true_variance}");
    }
}
