//! `pg-irt calibrate`: the extension's `mirt_calibrate` from outside the database. The store's
//! run (the run lock the extension takes, the read, the core's pipeline, the write) in one
//! transaction; any error, signal or timeout before the commit rolls it all back.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use irt_core::settings::Settings;
use irt_store::{Done, Front};
use tokio::runtime::Runtime;
use tokio_postgres::Client;

use crate::failure::{Exit, Failure};
use crate::progress::{Progress, Stop};
use crate::session::Connection;

/// The bounds of a run: answers read, memory predicted.
pub struct Limits {
    pub max_answers: i64,
    pub max_memory: u128,
}

pub fn run(
    runtime: &Runtime,
    client: &mut Client,
    settings: Settings,
    limits: Limits,
    signalled: Arc<AtomicBool>,
) -> Result<Done, Failure> {
    let started = Instant::now();
    // The session's statement_timeout bounds the whole run, as it bounds the extension's call.
    let timeout_ms: i64 = runtime
        .block_on(client.query_one(irt_store::STATEMENT_TIMEOUT, &[]))?
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
    let front = Front {
        written_by: "command",
        version: env!("CARGO_PKG_VERSION"),
        threads,
        max_answers: limits.max_answers,
        max_memory: limits.max_memory,
    };
    let mut session = Connection {
        runtime,
        tx: runtime.block_on(client.transaction())?,
    };
    let done = irt_store::run(
        &mut session,
        settings,
        &front,
        &pool,
        &mut progress,
        started,
    );
    progress.finish();
    let done = done?;
    runtime.block_on(session.tx.commit())?;
    Ok(done)
}
