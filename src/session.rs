//! The run's [`Session`] through SPI, in the caller's transaction: the store's statements with
//! their parameters as datums, their rows decoded by type. A statement PostgreSQL refuses raises
//! its own ERROR before control returns here, so every error this session returns is the core's.

use irt_core::pipeline::Answers;
use irt_core::settings::Settings;
use irt_core::source::Relation;
use irt_core::CoreError;
use irt_store::{Cell, Param, Session};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::{SpiClient, SpiHeapTupleData};
use pgrx::{JsonB, PgSqlErrorCode};

use crate::errors::{raise, spi_failed};
use crate::load::read_answers;

pub struct Spi<'a, 'conn> {
    pub client: &'a mut SpiClient<'conn>,
}

impl Session for Spi<'_, '_> {
    type Error = CoreError;

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, CoreError> {
        let args: Vec<DatumWithOid> = params.iter().map(datum).collect();
        let table = self
            .client
            .select(sql, None, &args)
            .unwrap_or_else(|e| spi_failed(e));
        Ok(table.map(|row| cells(&row)).collect())
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<(), CoreError> {
        let args: Vec<DatumWithOid> = params.iter().map(datum).collect();
        self.client
            .update(sql, None, &args)
            .unwrap_or_else(|e| spi_failed(e));
        Ok(())
    }

    fn refused(_: &CoreError) -> bool {
        false
    }

    fn result_schema(&mut self) -> Result<String, CoreError> {
        Ok(extension_schema(self.client))
    }

    fn read_answers(
        &mut self,
        source: &Relation,
        settings: &Settings,
        max_answers: i64,
        pool: &rayon::ThreadPool,
    ) -> Result<Answers, CoreError> {
        read_answers(self.client, source, settings, max_answers, pool)
    }
}

/// The extension's schema, quoted: where its result tables are.
pub fn extension_schema(client: &SpiClient<'_>) -> String {
    client
        .select(irt_store::EXTENSION_SCHEMA, None, &[])
        .and_then(|t| t.first().get_one())
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                "extension pg_irt is not installed",
                None,
                None,
            )
        })
}

fn datum<'a>(param: &Param<'a>) -> DatumWithOid<'a> {
    match *param {
        Param::Text(s) => s.into(),
        Param::Int(x) => x.into(),
        Param::Float(x) => x.into(),
        Param::Texts(v) => v.to_vec().into(),
        Param::MaybeTexts(v) => v.to_vec().into(),
        Param::Ints(v) => v.to_vec().into(),
        Param::MaybeInts(v) => v.to_vec().into(),
        Param::Bigints(v) => v.to_vec().into(),
        Param::Floats(v) => v.to_vec().into(),
        Param::MaybeFloats(v) => v.to_vec().into(),
        Param::Bools(v) => v.to_vec().into(),
    }
}

/// A row's columns by their types; the store's statements select no other types.
fn cells(row: &SpiHeapTupleData<'_>) -> Vec<Cell> {
    (1..=row.columns())
        .map(|i| {
            let Ok(entry) = row.get_datum_by_ordinal(i) else {
                return Cell::Null;
            };
            let cell = match entry.oid() {
                pg_sys::TEXTOID => entry.value::<String>().map(|v| v.map(Cell::Text)),
                pg_sys::BOOLOID => entry.value::<bool>().map(|v| v.map(Cell::Bool)),
                pg_sys::FLOAT8OID => entry.value::<f64>().map(|v| v.map(Cell::Float)),
                pg_sys::JSONBOID => entry.value::<JsonB>().map(|v| v.map(|j| Cell::Json(j.0))),
                other => raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    format!("a run's statement selected a column of type {other:?}"),
                    None,
                    None,
                ),
            };
            cell.unwrap_or_else(|e| spi_failed(e)).unwrap_or(Cell::Null)
        })
        .collect()
}
