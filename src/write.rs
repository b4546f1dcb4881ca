//! The writes of a run: its metadata, the current item parameters and abilities (upserted) and
//! the item history, each as one set-based statement, in the caller's transaction.

use std::time::Instant;

use irt_core::linking::LinkingConstants;
use irt_core::{alloc, FitResult, ItemModel, Score};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use serde_json::{json, Value};

use crate::calibrate::{linked_item, linked_latent, Phases};
use crate::errors::{raise, raise_core, spi_failed};
use crate::prepare::Prepared;

/// What a run records about itself beside the estimates.
pub struct RunRecord<'a> {
    pub model: ItemModel,
    pub lookback_days: i32,
    pub linking: &'a str,
    /// Reported constants.
    pub constants: LinkingConstants,
    /// Constants applied to the estimates (identity when anchors were fixed).
    pub applied: LinkingConstants,
    pub priors: &'a str,
    pub algorithm: &'a str,
    pub tolerance: f64,
    pub threads: usize,
    pub n_anchors: usize,
    pub rows_in_window: i64,
    pub null_answers: i64,
    pub repeated: i64,
    pub source: &'a str,
    pub items: &'a str,
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// An empty column with room for `n` rows, allocated fallibly.
fn room<T>(n: usize, what: &'static str) -> Vec<T> {
    alloc::with_capacity(n, what).unwrap_or_else(|e| raise_core(e))
}

pub fn write_run(
    prepared: &Prepared,
    result: &FitResult,
    scores: &[Score],
    record: &RunRecord,
    phases: &mut Phases,
    started: Instant,
) -> String {
    let t = Instant::now();
    let k = &record.applied;
    let n_items = prepared.item_ids.len();
    let mut params: Vec<String> = room(n_items, "the item rows");
    let mut n_responses: Vec<i64> = room(n_items, "the item rows");
    let mut p_values: Vec<f64> = room(n_items, "the item rows");
    for (est, stats) in result.items.iter().zip(&result.item_stats) {
        let p = linked_item(&est.params, k);
        let se = est.standard_errors();
        let se_d = est.d_standard_error();
        let mut entry = json!({
            "a": finite(p.a), "b": finite(p.b()), "c": finite(p.c), "d": finite(p.d),
            "fixed": est.fixed,
        });
        if let Some([sa, sb, sc]) = se {
            entry["se_a"] = finite(sa / k.slope);
            entry["se_b"] = finite(sb * k.slope);
            entry["se_c"] = finite(sc);
            // d* = −a*·b* = d − a·B/A; its SE ignores the constants' own uncertainty.
            entry["se_d"] = se_d.map_or(Value::Null, |_| finite(linked_se_d(est, k)));
        }
        if !(p.a.is_finite() && p.b().is_finite()) {
            raise(
                PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                "estimation produced a non-finite item parameter",
                None,
                Some("Use priors => 'default' or exclude the item."),
            );
        }
        params.push(entry.to_string());
        n_responses.push(stats.n as i64);
        p_values.push(stats.p_value());
    }
    // On the reported scale: what was applied to the estimates (with fixed anchors they are
    // already on it, and the reported constants must not move them again).
    let latent = linked_latent(result.latent, &record.applied);
    let person_counts: Vec<i32> = alloc::collect(
        (0..prepared.responses.n_persons()).map(|i| prepared.responses.person(i).0.len() as i32),
        "the ability rows",
    )
    .unwrap_or_else(|e| raise_core(e));
    let mut model_spec = json!({
        "model": record.model.name(),
        "n_items": n_items,
        "n_users": prepared.user_ids.len(),
        "n_anchors": record.n_anchors,
        "n_observations": prepared.responses.n_answers(),
        "lookback_days": record.lookback_days,
        "source": record.source,
        "items": record.items,
        "linking_method": record.linking,
        "linking_constants": {
            "slope": finite(record.constants.slope),
            "intercept": finite(record.constants.intercept),
            "slope_se": record.constants.slope_se.map_or(Value::Null, finite),
            "intercept_se": record.constants.intercept_se.map_or(Value::Null, finite),
        },
        "latent": {"mean": finite(latent.mean), "variance": finite(latent.variance)},
        "quadrature": {"points": result.grid.len(), "range": [result.grid.nodes()[0], result.grid.nodes()[result.grid.len() - 1]]},
        "tolerance": record.tolerance,
        "priors": record.priors,
        "algorithm": record.algorithm,
        "threads": record.threads,
        "se_method": result.se_method,
        "excluded_items": prepared.excluded.iter().map(|e| json!({"item_id": e.item_id, "reason": e.reason})).collect::<Vec<_>>(),
        "skipped_rows": {"null_answers": record.null_answers, "repeated_attempts": record.repeated, "rows_in_window": record.rows_in_window},
        "extension_version": env!("CARGO_PKG_VERSION"),
    });
    let column = |value: fn(&Score) -> f64| {
        alloc::collect(scores.iter().map(value), "the ability rows")
            .unwrap_or_else(|e| raise_core(e))
    };
    let (thetas, ses) = (column(|s| s.theta), column(|s| s.se));
    if thetas.iter().chain(&ses).any(|v| !v.is_finite()) {
        raise(
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            "scoring produced a non-finite ability",
            None,
            None,
        );
    }
    let status = if result.converged() {
        "succeeded"
    } else {
        "not_converged"
    };

    Spi::connect_mut(|client| {
        // The window as load.rs read it: from now() − lookback_days to the transaction's now().
        let window: Option<String> = client
            .select(
                "SELECT json_build_object('start', now() - make_interval(days => $1), 'end', now())::text",
                None,
                &[record.lookback_days.into()],
            )
            .and_then(|t| t.first().get_one())
            .unwrap_or_else(|e| spi_failed(e));
        model_spec["window"] = window
            .and_then(|w| serde_json::from_str(&w).ok())
            .unwrap_or(Value::Null);
        let schema: String = client
            .select("SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_irt'", None, &[])
            .and_then(|t| t.first().get_one())
            .ok()
            .flatten()
            .unwrap_or_else(|| raise(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, "extension pg_irt is not installed", None, None));
        // One timestamp for every row of the run, taken now rather than at the transaction's
        // start so that runs in one transaction still order by fitted_at.
        let stamp = client
            .select("SELECT clock_timestamp()", None, &[])
            .and_then(|t| t.first().get_one::<pgrx::datum::TimestampWithTimeZone>())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "cannot read the clock",
                    None,
                    None,
                )
            });
        // fit-<UTC second>, with microseconds when a run already holds that second.
        let run_id: String = client
            .select(
                &format!(
                    "SELECT CASE WHEN EXISTS (SELECT 1 FROM {schema}.mirt_fit_meta WHERE run_id = s) THEN u ELSE s END FROM \
                     (SELECT 'fit-' || to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') s, 'fit-' || to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') u \
                      FROM (SELECT $1 AT TIME ZONE 'UTC' t) c) r"
                ),
                None,
                &[stamp.into()],
            )
            .and_then(|t| t.first().get_one())
            .ok()
            .flatten()
            .unwrap_or_else(|| raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "cannot make a run id", None, None));
        let metrics = json!({
            "loglik": finite(result.log_lik), "aic": finite(result.aic), "bic": finite(result.bic),
            "n_params": result.n_params, "em_cycles": result.cycles, "converged": result.converged(),
            "max_change": finite(result.max_change), "se_status": result.se_status.name(),
            "ms": {"load": phases.load, "fit": phases.fit, "score": phases.score, "link": phases.link},
        });
        execute(
            client,
            &format!(
                "INSERT INTO {schema}.mirt_fit_meta (run_id, model_spec, metrics, status, fitted_at) \
                 VALUES ($1, $2::jsonb, $3::jsonb, $4, $5)"
            ),
            &[run_id.clone().into(), model_spec.to_string().into(), metrics.to_string().into(), status.into(), stamp.into()],
        );
        let model = record.model.name();
        let item_args = || -> Vec<pgrx::datum::DatumWithOid<'_>> {
            vec![
                prepared.item_ids.clone().into(),
                params.clone().into(),
                n_responses.clone().into(),
                p_values.clone().into(),
                run_id.clone().into(),
                model.into(),
                stamp.into(),
            ]
        };
        let upsert_items = format!(
            "INSERT INTO {schema}.mirt_item_params (item_id, model, params, n_responses, p_value, run_id, fitted_at) \
             SELECT i, $6, p::jsonb, n, pv, $5, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) AS u(i, p, n, pv) \
             ON CONFLICT (item_id) DO UPDATE SET model = EXCLUDED.model, params = EXCLUDED.params, \
             n_responses = EXCLUDED.n_responses, p_value = EXCLUDED.p_value, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at"
        );
        execute(client, &upsert_items, &item_args());
        let append_history = format!(
            "INSERT INTO {schema}.mirt_item_params_history (run_id, item_id, model, params, n_responses, p_value, fitted_at) \
             SELECT $5, i, $6, p::jsonb, n, pv, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) AS u(i, p, n, pv)"
        );
        execute(client, &append_history, &item_args());
        let upsert_abilities = format!(
            "INSERT INTO {schema}.mirt_ability (user_id, theta, se, n_responses, run_id, fitted_at) \
             SELECT u, t, s, n, $5, $6 FROM unnest($1::text[], $2::float8[], $3::float8[], $4::int[]) AS x(u, t, s, n) \
             ON CONFLICT (user_id) DO UPDATE SET theta = EXCLUDED.theta, se = EXCLUDED.se, \
             n_responses = EXCLUDED.n_responses, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at"
        );
        let ability_args = [
            prepared.user_ids.clone().into(),
            thetas.clone().into(),
            ses.clone().into(),
            person_counts.clone().into(),
            run_id.clone().into(),
            stamp.into(),
        ];
        execute(client, &upsert_abilities, &ability_args);
        phases.write = t.elapsed().as_secs_f64() * 1e3;
        let record_timing = format!(
            "UPDATE {schema}.mirt_fit_meta SET metrics = jsonb_set(jsonb_set(metrics, '{{ms,write}}', to_jsonb($2::float8)), \
             '{{ms,total}}', to_jsonb($3::float8)) WHERE run_id = $1"
        );
        let total_ms = started.elapsed().as_secs_f64() * 1e3;
        execute(
            client,
            &record_timing,
            &[run_id.clone().into(), phases.write.into(), total_ms.into()],
        );
        run_id
    })
}

/// Runs one write statement of the run.
fn execute(
    client: &mut pgrx::spi::SpiClient<'_>,
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) {
    client
        .update(sql, None, args)
        .unwrap_or_else(|e| spi_failed(e));
}

/// SE of d* = −a*·b* on the linked scale, by the delta method on (a, b).
fn linked_se_d(est: &irt_core::ItemEstimate, k: &LinkingConstants) -> f64 {
    let Some(c) = est.covariance else {
        return f64::NAN;
    };
    let (a, b) = (est.params.a, est.params.b());
    // d* = −(a/A)(A·b + B) = −a·b − a·B/A: gradient (−b − B/A, −a) in (a, b).
    let (ga, gb) = (-b - k.intercept / k.slope, -a);
    (ga * ga * c[0][0] + 2.0 * ga * gb * c[0][1] + gb * gb * c[1][1])
        .max(0.0)
        .sqrt()
}
