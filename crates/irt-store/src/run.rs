//! One calibration run from the lock to its last write, written once for both front ends
//! against [`Session`]: the extension implements it with SPI inside the caller's transaction,
//! the command with its connection inside its own.

use std::collections::HashMap;
use std::time::Instant;

use irt_core::bank::{Bank, BankRow};
use irt_core::pipeline::{self, Answers, Calibration, Provenance, Relations, Reporter};
use irt_core::settings::Settings;
use irt_core::source::{bank_query, Relation};
use irt_core::trend::{Cusum, Estimate, Previous};
use irt_core::CoreError;
use rayon::ThreadPool;
use serde_json::Value;

use crate::statements::{Statements, RELATION_COLUMNS, RESOLVE_RELATION, RUN_LOCK, WINDOW_JSON};
use crate::write::{timing, writes, Param, Record};

/// A column of a row a [`Session`] returns, decoded by its SQL type: the statements of a run
/// return only text, boolean, float8 and json/jsonb columns.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Bool(bool),
    Float(f64),
    Json(Value),
}

impl Cell {
    pub fn text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    fn bool(&self) -> Option<bool> {
        match *self {
            Cell::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn float(&self) -> f64 {
        match *self {
            Cell::Float(x) => x,
            _ => f64::NAN,
        }
    }

    /// A finite float8, or None (NULL, NaN, ±Infinity).
    pub(crate) fn number(&self) -> Option<f64> {
        Some(self.float()).filter(|x| x.is_finite())
    }

    fn json(self) -> Option<Value> {
        match self {
            Cell::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// What a front end gives a run: statements against its database, in one transaction.
pub trait Session {
    type Error: From<CoreError>;

    /// Every row of `sql`.
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, Self::Error>;

    /// Runs a statement for its effect.
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<(), Self::Error>;

    /// Whether `error` is the database refusing a statement (rather than, say, the connection
    /// failing): an invalid relation name is refused by `to_regclass`.
    fn refused(error: &Self::Error) -> bool;

    /// The schema of the result tables this front end writes, quoted.
    fn result_schema(&mut self) -> Result<String, Self::Error>;

    /// The answers of the window in `source`, at most `max_answers` rows, each row judged by
    /// `irt_core::window` as it arrives (the one read whose speed is the driver's own).
    fn read_answers(
        &mut self,
        source: &Relation,
        settings: &Settings,
        max_answers: i64,
        pool: &ThreadPool,
    ) -> Result<Answers, Self::Error>;
}

/// What the front end records of itself, and the bounds of its runs.
pub struct Front<'a> {
    /// `extension` or `command`.
    pub written_by: &'a str,
    pub version: &'a str,
    pub threads: usize,
    pub max_answers: i64,
    pub max_memory: u128,
}

/// A written run: its id and its calibration.
pub struct Done {
    pub run_id: String,
    pub calibration: Calibration,
}

/// Takes the run lock, reads, calibrates and writes, in the session's transaction (which the
/// caller commits). `started` is when the call began, for the run's total time.
pub fn run<S: Session>(
    session: &mut S,
    settings: Settings,
    front: &Front,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
    started: Instant,
) -> Result<Done, S::Error> {
    let locked = first(session.query(RUN_LOCK, &[])?).and_then(|c| c.bool());
    if locked != Some(true) {
        return Err(CoreError::RunLockBusy.into());
    }
    let statements = Statements::new(&session.result_schema()?);
    let t = Instant::now();
    let input = read(session, &statements, &settings, front, pool, reporter)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let relations = Relations {
        source: &input.source.quoted,
        items: &input.items.quoted,
    };
    let calibration = pipeline::calibrate(
        input.answers,
        &input.bank,
        &input.previous,
        settings,
        &relations,
        pool,
        reporter,
        front.max_memory,
    )?;
    let run_id = write(
        session,
        &statements,
        &calibration,
        &relations,
        front,
        load_ms,
        started,
    )?;
    Ok(Done {
        run_id,
        calibration,
    })
}

/// What a run reads before it calibrates.
struct Input {
    source: Relation,
    items: Relation,
    answers: Answers,
    bank: Bank,
    /// Each item's latest trend, by item id.
    previous: HashMap<String, Previous>,
}

/// The relations resolved, the window's answers, and the bank with the anchors whose latest
/// screening flagged them.
fn read<S: Session>(
    session: &mut S,
    statements: &Statements,
    settings: &Settings,
    front: &Front,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
) -> Result<Input, S::Error> {
    let source = resolve(session, &settings.source, "source")?;
    let items = resolve(session, &settings.items, "items")?;
    let answers = session.read_answers(&source, settings, front.max_answers, pool)?;
    // Read without linking too: the bank's other known parameters are start values.
    let mut bank = read_bank(session, &items, reporter)?;
    for row in session.query(&statements.flagged_anchors, &[])? {
        let [id, run, a, b, c] = <[Cell; 5]>::try_from(row)
            .unwrap_or_else(|_| unreachable!("flagged_anchors selects five columns"));
        let text = |cell: Cell| cell.text().unwrap_or_default();
        bank.flagged_in(text(id), text(run), a.float(), b.float(), c.float());
    }
    let previous = read_trends(session, statements)?;
    Ok(Input {
        source,
        items,
        answers,
        bank,
        previous,
    })
}

/// Each item's latest trend row, for the trend across runs to continue from.
fn read_trends<S: Session>(
    session: &mut S,
    statements: &Statements,
) -> Result<HashMap<String, Previous>, S::Error> {
    let rows = session.query(&statements.latest_trends, &[])?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let [id, model, a, se_log_a, b, se_b, answers, a_up, a_down, b_up, b_down, runs, window, before] =
                <[Cell; 14]>::try_from(row)
                    .unwrap_or_else(|_| unreachable!("latest_trends selects fourteen columns"));
            let estimate = Estimate {
                log_a: a.number().zip(se_log_a.number()).map(|(a, se)| (a.ln(), se)),
                b: (b.float(), se_b.float()),
                answers: answers.float() as u64,
            };
            let previous = Previous {
                estimate,
                cusum: Cusum {
                    a_up: a_up.number().unwrap_or(0.0),
                    a_down: a_down.number().unwrap_or(0.0),
                    b_up: b_up.float(),
                    b_down: b_down.float(),
                },
                runs: runs.float() as u32,
                model: model.text()?,
                window_days: window.float(),
                days_before: before.float(),
            };
            Some((id.text()?, previous))
        })
        .collect())
}

/// Writes the calibration with its record (the window as the database computed it, the run
/// id and timestamp it gave) and returns the run id.
fn write<S: Session>(
    session: &mut S,
    statements: &Statements,
    calibration: &Calibration,
    relations: &Relations,
    front: &Front,
    load_ms: f64,
    started: Instant,
) -> Result<String, S::Error> {
    let t = Instant::now();
    // The window as it was read: from now() − lookback_days to the transaction's now().
    let lookback_days = calibration.settings.lookback_days;
    let window = first(session.query(WINDOW_JSON, &[Param::Int(lookback_days)])?)
        .and_then(Cell::json)
        .unwrap_or(Value::Null);
    let provenance = Provenance {
        source: relations.source,
        items: relations.items,
        window,
        threads: front.threads,
        written_by: front.written_by,
        version: front.version,
    };
    let mut stamped = session
        .query(&statements.run_id, &[])?
        .into_iter()
        .flatten();
    let (Some(Cell::Text(run_id)), Some(Cell::Text(stamp))) = (stamped.next(), stamped.next())
    else {
        unreachable!("run_id selects two text columns")
    };
    let record = Record {
        notification: calibration.notification(&run_id),
        model_spec: calibration.model_spec(&provenance).to_string(),
        metrics: calibration.metrics(load_ms).to_string(),
        run_id,
        stamp,
    };
    let columns = calibration.columns()?;
    for statement in writes(statements, calibration, &columns, &record) {
        session.execute(statement.sql, &statement.params)?;
    }
    drop(columns);
    let write_ms = t.elapsed().as_secs_f64() * 1e3;
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let last = timing(statements, &record.run_id, write_ms, total_ms);
    session.execute(last.sql, &last.params)?;
    Ok(record.run_id)
}

/// A relation named by the caller, resolved with the caller's search_path, with its columns'
/// types; only the quoted name PostgreSQL returns is ever put into a query.
pub fn resolve<S: Session>(
    session: &mut S,
    name: &str,
    role: &'static str,
) -> Result<Relation, S::Error> {
    let found = match session.query(RESOLVE_RELATION, &[Param::Text(name)]) {
        Ok(rows) => first(rows).and_then(Cell::text),
        Err(e) if S::refused(&e) => {
            return Err(CoreError::InvalidRelationName {
                role,
                name: name.into(),
            }
            .into())
        }
        Err(e) => return Err(e),
    };
    let Some(quoted) = found else {
        return Err(CoreError::MissingRelation {
            role,
            name: name.into(),
        }
        .into());
    };
    let columns: Vec<(String, String)> = session
        .query(RELATION_COLUMNS, &[Param::Text(&quoted)])?
        .into_iter()
        .filter_map(|row| {
            let mut cells = row.into_iter();
            Some((cells.next()?.text()?, cells.next()?.text()?))
        })
        .collect();
    Ok(Relation::new(quoted, columns))
}

/// The bank's anchors and known parameters; the reporter hears of every anchor left out.
fn read_bank<S: Session>(
    session: &mut S,
    items: &Relation,
    reporter: &mut impl Reporter,
) -> Result<Bank, S::Error> {
    items.check_bank()?;
    let rows = session.query(&bank_query(&items.quoted), &[])?;
    let rows = rows.into_iter().filter_map(|row| {
        let mut cells = row.into_iter();
        let id = cells.next()?.text()?;
        let anchor = cells.next().and_then(|c| c.bool()).unwrap_or(false);
        Some(BankRow {
            id,
            anchor,
            irt: cells.next().and_then(Cell::json),
        })
    });
    Ok(Bank::from_rows(rows, &items.quoted, |w| {
        reporter.warning(&w)
    }))
}

/// The first column of the first row.
fn first(rows: Vec<Vec<Cell>>) -> Option<Cell> {
    rows.into_iter().next()?.into_iter().next()
}
