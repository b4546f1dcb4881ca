//! `pg-irt calibrate`: the extension's `mirt_calibrate` from outside the database. One
//! transaction: the run lock the extension takes, the read, the core's pipeline, the write; any
//! error, signal or timeout before the commit rolls it all back.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use irt_core::pipeline::{calibrate, Calibration, Provenance, Relations};
use irt_core::settings::Settings;
use irt_core::CoreError;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

use crate::failure::{Exit, Failure};
use crate::progress::{Progress, Stop};
use crate::read::{read_answers, read_bank, resolve};
use crate::results::result_schema;

/// The bounds of a run: answers read, memory predicted.
pub struct Limits {
    pub max_answers: i64,
    pub max_memory: u128,
}

/// A finished run: its id and its calibration.
pub struct Done {
    pub run_id: String,
    pub calibration: Calibration,
}

pub async fn run(
    client: &mut Client,
    settings: Settings,
    limits: Limits,
    signalled: Arc<AtomicBool>,
) -> Result<Done, Failure> {
    let started = Instant::now();
    // The session's statement_timeout bounds the whole run, as it bounds the extension's call.
    let timeout_ms: i64 = client
        .query_one(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'",
            &[],
        )
        .await?
        .get(0);
    let stop = Stop::new(
        signalled,
        (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms as u64)),
    );
    let threads = settings
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot start {threads} threads: {e}")))?;
    let mut progress = Progress::new(settings.max_cycles, stop);

    let tx = client.transaction().await?;
    let locked: bool = tx.query_one(irt_store::RUN_LOCK, &[]).await?.get(0);
    if !locked {
        return Err(CoreError::RunLockBusy.into());
    }
    let schema = result_schema(&tx).await?;

    let t = Instant::now();
    let source = resolve(&tx, &settings.source, "source").await?;
    let items = resolve(&tx, &settings.items, "items").await?;
    let answers = read_answers(&tx, &source, &settings, limits.max_answers, &pool).await?;
    let statements = irt_store::Statements::new(&schema);
    let mut bank = read_bank(&tx, &items, |w| {
        irt_core::pipeline::Reporter::warning(&mut progress, &w)
    })
    .await?;
    for row in tx.query(&statements.flagged_anchors, &[]).await? {
        bank.flagged_in(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    }
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let relations = Relations {
        source: &source.quoted,
        items: &items.quoted,
    };
    let lookback_days = settings.lookback_days;
    let calibration = calibrate(
        answers,
        &bank,
        settings,
        &relations,
        &pool,
        &mut progress,
        limits.max_memory,
    )?;
    progress.finish();

    let t = Instant::now();
    let window: String = tx
        .query_one(irt_store::WINDOW_JSON, &[&lookback_days])
        .await?
        .get(0);
    let provenance = Provenance {
        source: &source.quoted,
        items: &items.quoted,
        window: serde_json::from_str(&window).unwrap_or(Value::Null),
        threads,
        written_by: "command",
        version: env!("CARGO_PKG_VERSION"),
    };
    let run_id = write(&tx, &statements, &calibration, &provenance, load_ms).await?;
    let write_ms = t.elapsed().as_secs_f64() * 1e3;
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    tx.execute(&statements.record_timing, &[&run_id, &write_ms, &total_ms])
        .await?;
    tx.commit().await?;
    Ok(Done {
        run_id,
        calibration,
    })
}

/// The run's rows, by the statements the extension runs.
async fn write(
    tx: &Transaction<'_>,
    statements: &irt_store::Statements,
    c: &Calibration,
    provenance: &Provenance<'_>,
    load_ms: f64,
) -> Result<String, Failure> {
    // One timestamp for every row of the run.
    let stamp: SystemTime = tx.query_one("SELECT clock_timestamp()", &[]).await?.get(0);
    let run_id: String = tx.query_one(&statements.run_id, &[&stamp]).await?.get(0);
    let model_spec = c.model_spec(provenance).to_string();
    let metrics = c.metrics(load_ms).to_string();
    tx.execute(
        &statements.insert_run,
        &[&run_id, &model_spec, &metrics, &c.status(), &stamp],
    )
    .await?;
    let columns = c.columns()?;
    let model = c.settings.model.name();
    let item_args: [&(dyn ToSql + Sync); 7] = [
        &c.item_ids,
        &columns.params,
        &columns.n_responses,
        &columns.p_values,
        &run_id,
        &model,
        &stamp,
    ];
    tx.execute(&statements.upsert_items, &item_args).await?;
    tx.execute(&statements.append_history, &item_args).await?;
    tx.execute(
        &statements.upsert_abilities,
        &[
            &c.user_ids,
            &columns.thetas,
            &columns.ses,
            &c.answers_per_user,
            &run_id,
            &stamp,
            &columns.zh,
        ],
    )
    .await?;
    let d = &columns.drift;
    tx.execute(
        &statements.insert_drift,
        &[
            &run_id,
            &d.iteration,
            &d.item_id,
            &d.stored_a,
            &d.stored_b,
            &d.stored_c,
            &d.new_a,
            &d.new_b,
            &d.new_c,
            &d.d_a,
            &d.d_b,
            &d.z_a,
            &d.z_b,
            &d.se_a,
            &d.se_b,
            &d.chi2,
            &d.p_value,
            &d.area,
            &d.flagged,
        ],
    )
    .await?;
    let f = &columns.item_fit;
    tx.execute(
        &statements.insert_item_fit,
        &[
            &run_id,
            &f.item_id,
            &f.s_x2,
            &f.s_x2_df,
            &f.s_x2_p,
            &f.s_x2_rmsea,
            &f.infit,
            &f.infit_z,
            &f.outfit,
            &f.outfit_z,
            &f.rmsd,
            &f.status,
            &f.reason,
        ],
    )
    .await?;
    if let Some(payload) = c.notification(&run_id) {
        tx.execute(&statements.notify, &[&payload]).await?;
    }
    Ok(run_id)
}
