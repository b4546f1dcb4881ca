//! The store's [`Session`] over the command's connection, in one transaction: its statements with
//! their parameters bound, their rows decoded by type.

use irt_core::pipeline::Answers;
use irt_core::settings::Settings;
use irt_core::source::Relation;
use irt_store::{Cell, Param, Session};
use tokio::runtime::Runtime;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Transaction};

use crate::failure::{Exit, Failure};
use crate::read::read_answers;
use crate::results::result_schema;

/// The run's transaction on the command's connection; each statement waits on the runtime,
/// which also drives the connection's task.
pub struct Connection<'r, 'c> {
    pub runtime: &'r Runtime,
    pub tx: Transaction<'c>,
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
