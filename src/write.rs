//! The writes of a run: its metadata, the current item parameters and abilities (upserted) and
//! the item history, each as one set-based statement, in the caller's transaction. Every value
//! written comes finished from the core's `Calibration`.

use std::time::Instant;

use irt_core::pipeline::{Calibration, Provenance};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use serde_json::Value;

use crate::errors::{raise, spi_failed, OrRaise};

/// What the extension records of itself in each run.
pub struct Written<'a> {
    pub source: &'a str,
    pub items: &'a str,
    /// The run's statements against the extension's schema (made once, before the read).
    pub statements: &'a irt_store::Statements,
    pub threads: usize,
    pub load_ms: f64,
}

/// Writes the run and returns its id.
pub fn write_run(calibration: &Calibration, written: &Written, started: Instant) -> String {
    let t = Instant::now();
    let columns = calibration.columns().or_raise();

    Spi::connect_mut(|client| {
        // The window as it was read: from now() − lookback_days to the transaction's now().
        let window: Option<String> = client
            .select(
                irt_store::WINDOW_JSON,
                None,
                &[calibration.settings.lookback_days.into()],
            )
            .and_then(|t| t.first().get_one())
            .unwrap_or_else(|e| spi_failed(e));
        let provenance = Provenance {
            source: written.source,
            items: written.items,
            window: window
                .and_then(|w| serde_json::from_str(&w).ok())
                .unwrap_or(Value::Null),
            threads: written.threads,
            written_by: "extension",
            version: env!("CARGO_PKG_VERSION"),
        };
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
        let statements = written.statements;
        let run_id: String = client
            .select(&statements.run_id, None, &[stamp.into()])
            .and_then(|t| t.first().get_one())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "cannot make a run id",
                    None,
                    None,
                )
            });
        let model_spec = calibration.model_spec(&provenance);
        let metrics = calibration.metrics(written.load_ms);
        execute(
            client,
            &statements.insert_run,
            &[
                run_id.clone().into(),
                model_spec.to_string().into(),
                metrics.to_string().into(),
                calibration.status().into(),
                stamp.into(),
            ],
        );
        let model = calibration.settings.model.name();
        let item_args = || -> Vec<pgrx::datum::DatumWithOid<'_>> {
            vec![
                calibration.item_ids.clone().into(),
                columns.params.clone().into(),
                columns.n_responses.clone().into(),
                columns.p_values.clone().into(),
                run_id.clone().into(),
                model.into(),
                stamp.into(),
            ]
        };
        execute(client, &statements.upsert_items, &item_args());
        execute(client, &statements.append_history, &item_args());
        let ability_args = [
            calibration.user_ids.clone().into(),
            columns.thetas.clone().into(),
            columns.ses.clone().into(),
            calibration.answers_per_user.clone().into(),
            run_id.clone().into(),
            stamp.into(),
            columns.zh.clone().into(),
        ];
        execute(client, &statements.upsert_abilities, &ability_args);
        let d = &columns.drift;
        let drift_args = [
            run_id.clone().into(),
            d.iteration.clone().into(),
            d.item_id.clone().into(),
            d.stored_a.clone().into(),
            d.stored_b.clone().into(),
            d.stored_c.clone().into(),
            d.new_a.clone().into(),
            d.new_b.clone().into(),
            d.new_c.clone().into(),
            d.d_a.clone().into(),
            d.d_b.clone().into(),
            d.z_a.clone().into(),
            d.z_b.clone().into(),
            d.se_a.clone().into(),
            d.se_b.clone().into(),
            d.chi2.clone().into(),
            d.p_value.clone().into(),
            d.area.clone().into(),
            d.flagged.clone().into(),
        ];
        execute(client, &statements.insert_drift, &drift_args);
        let f = &columns.item_fit;
        let fit_args = [
            run_id.clone().into(),
            f.item_id.clone().into(),
            f.s_x2.clone().into(),
            f.s_x2_df.clone().into(),
            f.s_x2_p.clone().into(),
            f.s_x2_rmsea.clone().into(),
            f.infit.clone().into(),
            f.infit_z.clone().into(),
            f.outfit.clone().into(),
            f.outfit_z.clone().into(),
            f.rmsd.clone().into(),
            f.status.clone().into(),
            f.reason.clone().into(),
        ];
        execute(client, &statements.insert_item_fit, &fit_args);
        if let Some(payload) = calibration.notification(&run_id) {
            execute(client, &statements.notify, &[payload.into()]);
        }
        let write_ms = t.elapsed().as_secs_f64() * 1e3;
        let total_ms = started.elapsed().as_secs_f64() * 1e3;
        execute(
            client,
            &statements.record_timing,
            &[run_id.clone().into(), write_ms.into(), total_ms.into()],
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

/// The extension's schema, quoted: where its result tables are.
pub fn extension_schema(client: &pgrx::spi::SpiClient<'_>) -> String {
    client
        .select("SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_irt'", None, &[])
        .and_then(|t| t.first().get_one())
        .ok()
        .flatten()
        .unwrap_or_else(|| raise(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, "extension pg_irt is not installed", None, None))
}
