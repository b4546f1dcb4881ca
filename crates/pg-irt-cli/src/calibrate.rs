//! `pg-irt calibrate`: the extension's `mirt_calibrate` from outside the database. The store's
//! run (the run lock the extension takes, the read, the core's pipeline, the write) in one
//! transaction; any error, signal or timeout before the commit rolls it all back.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use irt_core::pipeline::Answers;
use irt_core::settings::Settings;
use irt_core::source::Relation;
use irt_store::{Cell, Done, Front, Param, Session};
use tokio::runtime::Runtime;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Transaction};

use crate::failure::{Exit, Failure};
use crate::progress::{Progress, Stop};
use crate::read::read_answers;
use crate::results::result_schema;

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

/// The run's transaction on the command's connection; each statement waits on the runtime,
/// which also drives the connection's task.
struct Connection<'r, 'c> {
    runtime: &'r Runtime,
    tx: Transaction<'c>,
}

impl Session for Connection<'_, '_> {
    type Error = Failure;

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, Failure> {
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(to_sql).collect();
        let rows = self.runtime.block_on(self.tx.query(sql, &args))?;
        rows.iter().map(cells).collect()
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<(), Failure> {
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(to_sql).collect();
        self.runtime.block_on(self.tx.execute(sql, &args))?;
        Ok(())
    }

    fn refused(error: &Failure) -> bool {
        error.sqlstate.is_some()
    }

    fn result_schema(&mut self) -> Result<String, Failure> {
        self.runtime.block_on(result_schema(&self.tx))
    }

    fn read_answers(
        &mut self,
        source: &Relation,
        settings: &Settings,
        max_answers: i64,
        pool: &rayon::ThreadPool,
    ) -> Result<Answers, Failure> {
        self.runtime
            .block_on(read_answers(&self.tx, source, settings, max_answers, pool))
    }
}

fn to_sql<'a>(param: &'a Param<'_>) -> &'a (dyn ToSql + Sync) {
    match param {
        Param::Text(s) => s,
        Param::Int(x) => x,
        Param::Float(x) => x,
        Param::Texts(v) => v,
        Param::MaybeTexts(v) => v,
        Param::Ints(v) => v,
        Param::MaybeInts(v) => v,
        Param::Bigints(v) => v,
        Param::Floats(v) => v,
        Param::MaybeFloats(v) => v,
        Param::Bools(v) => v,
    }
}

/// A row's columns by their types; the store's statements select no other types.
fn cells(row: &Row) -> Result<Vec<Cell>, Failure> {
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            let cell = if *ty == Type::TEXT {
                row.try_get::<_, Option<String>>(i)?.map(Cell::Text)
            } else if *ty == Type::BOOL {
                row.try_get::<_, Option<bool>>(i)?.map(Cell::Bool)
            } else if *ty == Type::FLOAT8 {
                row.try_get::<_, Option<f64>>(i)?.map(Cell::Float)
            } else if *ty == Type::JSONB {
                row.try_get::<_, Option<serde_json::Value>>(i)?
                    .map(Cell::Json)
            } else {
                return Err(Failure::new(
                    Exit::Failed,
                    format!("a run's statement selected a column of type {ty}"),
                ));
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect()
}
