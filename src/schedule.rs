//! Scheduling the nightly calibration with pg_cron, when it is installed.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use irt_core::settings::{int_in, required, RunModel, LOOKBACK_DAYS};

use crate::errors::{raise, OrRaise};
use crate::panics;

const NO_PG_CRON_HINT: &str = "Install postgresql-15-cron, set shared_preload_libraries = 'pg_cron', cron.database_name to this \
database and cron.use_background_workers = on (see the README's Scheduling section), restart, then CREATE EXTENSION pg_cron. \
Without pg_cron, schedule `psql -c \"SELECT mirt_calibrate('2PL', 60)\"` with the Kubernetes CronJob in k8s/.";

fn require_pg_cron() {
    let installed = Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')",
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !installed {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "pg_cron is not installed in this database",
            None,
            Some(NO_PG_CRON_HINT),
        );
    }
}

/// Schedules `mirt_calibrate(model, lookback_days)` under `job_name` (replacing a job of that
/// name); returns pg_cron's job id.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_schedule(
    schedule: default!(Option<&str>, "'0 3 * * *'"),
    model: default!(Option<&str>, "'2PL'"),
    lookback_days: default!(Option<i32>, 60),
    job_name: default!(Option<&str>, "'pg_irt_calibrate'"),
) -> i64 {
    panics::guarded("mirt_schedule", || {
        let schedule = required(schedule, "schedule").or_raise();
        let model = RunModel::parse(required(model, "model").or_raise()).or_raise();
        let lookback_days = required(lookback_days, "lookback_days")
            .and_then(|days| int_in(days, "lookback_days", LOOKBACK_DAYS))
            .or_raise();
        let job_name = required(job_name, "job_name").or_raise();
        require_pg_cron();
        let command: String = Spi::get_one_with_args(
        "SELECT format('SELECT * FROM %I.mirt_calibrate(%L, %s)', n.nspname, $1, $2) \
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_irt'",
        &[model.name().into(), lookback_days.into()],
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| raise(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, "extension pg_irt is not installed", None, None));
        Spi::get_one_with_args::<i64>(
            "SELECT cron.schedule($1, $2, $3)",
            &[job_name.into(), schedule.into(), command.into()],
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("pg_cron refused the schedule \"{schedule}\""),
                None,
                None,
            )
        })
    })
}

/// Removes the job scheduled by `mirt_schedule`; false when there was none.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_unschedule(job_name: default!(Option<&str>, "'pg_irt_calibrate'")) -> bool {
    panics::guarded("mirt_unschedule", || {
        let job_name = required(job_name, "job_name").or_raise();
        require_pg_cron();
        let exists = Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1)",
            &[job_name.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        exists
            && Spi::get_one_with_args::<bool>("SELECT cron.unschedule($1)", &[job_name.into()])
                .ok()
                .flatten()
                .unwrap_or(false)
    })
}
