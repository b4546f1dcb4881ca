//! Reading the answers in the window and the item bank's anchors through SPI, before any
//! thread starts. Relation names are resolved to a regclass with the caller's search_path and
//! only the quoted name returned by PostgreSQL is put into a query.

use std::collections::HashMap;

use irt_core::{alloc, Attempt, ItemParams, Responses};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{JsonB, PgSqlErrorCode};

use crate::errors::{raise, raise_core, spi_failed};
use crate::ids::IdColumn;
use crate::scan::for_each_row;

/// A relation resolved at call time: its quoted name and column types.
pub struct Relation {
    pub quoted: String,
    columns: HashMap<String, String>,
}

impl Relation {
    pub fn resolve(client: &SpiClient<'_>, name: &str, role: &str) -> Self {
        let found: Option<String> = client
            .select("SELECT to_regclass($1)::text", None, &[name.into()])
            .and_then(|t| t.first().get_one())
            .unwrap_or_else(|_| {
                raise(
                    PgSqlErrorCode::ERRCODE_INVALID_NAME,
                    format!("invalid {role} relation name \"{name}\""),
                    None,
                    None,
                )
            });
        let Some(quoted) = found else {
            raise(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("{role} relation \"{name}\" does not exist"),
                None,
                Some("Name a table or view visible on the search_path, or create a view with the expected columns."),
            )
        };
        let mut columns = HashMap::new();
        let rows = client
            .select(
                "SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute \
                 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                None,
                &[quoted.clone().into()],
            )
            .unwrap_or_else(|e| spi_failed(e));
        for row in rows {
            let (Ok(Some(name)), Ok(Some(ty))) = (row.get::<String>(1), row.get::<String>(2))
            else {
                continue;
            };
            columns.insert(name, ty);
        }
        Self { quoted, columns }
    }

    /// The type of a required column, or an error naming what is missing.
    pub fn column(&self, name: &str, expected: &str) -> &str {
        self.columns
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    format!("relation {} has no column \"{name}\"", self.quoted),
                    Some(format!("The relation must have columns {expected}.")),
                    Some("Adapt your schema with a view that renames the columns."),
                )
            })
    }
}

pub const SOURCE_COLUMNS: &str =
    "user_id, question_id, correct (boolean or 0/1) and created_at (timestamp)";
const NUMERIC_TYPES: [&str; 6] = [
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
];

/// Answers in the window, one per user and item, grouped by user.
pub struct Answers {
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
    pub responses: Responses,
    /// Rows in the window, NULL answers included.
    pub rows_in_window: i64,
    pub null_answers: i64,
    /// Later (or earlier) attempts at the same item that did not count.
    pub repeated: i64,
}

/// Which attempt counts when a user answered an item more than once in the window.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AttemptRule {
    First,
    Last,
}

impl AttemptRule {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "first" => Self::First,
            "last" => Self::Last,
            _ => crate::errors::invalid_argument(format!(
                "unknown attempt rule \"{s}\"; valid rules are first, last"
            )),
        }
    }
}

pub fn read_answers(
    client: &SpiClient<'_>,
    source: &Relation,
    lookback_days: i32,
    rule: AttemptRule,
    pool: &rayon::ThreadPool,
) -> Answers {
    for col in ["user_id", "question_id", "created_at"] {
        source.column(col, SOURCE_COLUMNS);
    }
    let created = source.column("created_at", SOURCE_COLUMNS);
    if !created.starts_with("timestamp") && created != "date" {
        raise(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("column created_at of {} has type {created}", source.quoted),
            Some("created_at must be a timestamp, timestamptz or date.".into()),
            None,
        );
    }
    let correct_type = source.column("correct", SOURCE_COLUMNS);
    let numeric = NUMERIC_TYPES.contains(&correct_type);
    if correct_type != "boolean" && !numeric {
        raise(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "column correct of {} has type {correct_type}",
                source.quoted
            ),
            Some("correct must be boolean or a number that is 0 or 1.".into()),
            None,
        );
    }
    let rel = &source.quoted;
    // The window's start, computed once: `now() - interval` evaluated per row cost more than
    // the scan itself.
    let cutoff = client
        .select(
            "SELECT now() - make_interval(days => $1)",
            None,
            &[lookback_days.into()],
        )
        .and_then(|t| t.first().get_one::<TimestampWithTimeZone>())
        .unwrap_or_else(|e| spi_failed(e))
        .expect("now() minus an interval is not NULL");
    let mut users = IdColumn::for_type(source.column("user_id", SOURCE_COLUMNS));
    let mut items = IdColumn::for_type(source.column("question_id", SOURCE_COLUMNS));
    let correct = if numeric {
        "correct::float8"
    } else {
        "correct"
    };
    // Attempt times only order a user's attempts at an item: read as stored (microseconds since
    // 2000), without calendar arithmetic; a date becomes midnight.
    let time = if created == "date" {
        "created_at::timestamp"
    } else {
        "created_at"
    };
    // Unsorted: resolving repeats and grouping by user is done in Rust, in parallel, which is
    // several times faster than a DISTINCT ON sort in the database (measured in the notes).
    let query = format!(
        "SELECT {}, {}, {correct}, {time} FROM {rel} WHERE created_at >= $1",
        users.select("user_id"),
        items.select("question_id"),
    );
    let limit = crate::guc::MAX_ANSWERS.get() as i64;
    let (mut rows_in_window, mut null_answers, mut null_ids) = (0i64, 0i64, 0i64);
    let mut attempts = Vec::new();
    let params = [(
        pg_sys::TIMESTAMPTZOID,
        cutoff.into_datum().expect("a timestamp"),
    )];
    for_each_row(&query, &params, |values, nulls| {
        rows_in_window += 1;
        if rows_in_window > limit {
            raise(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                format!("more than {limit} rows in the window of {rel}: pg_irt.max_answers = {limit}"),
                Some("The read stopped there, before the rest was loaded; nothing was calibrated. A run peaks at about 25 bytes of backend memory per answer.".into()),
                Some("Shorten lookback_days, or raise pg_irt.max_answers (a superuser setting) if the server has the memory."),
            );
        }
        if nulls[0] || nulls[1] {
            null_ids += 1;
            return;
        }
        if nulls[2] {
            null_answers += 1;
            return;
        }
        let correct = if numeric {
            // SAFETY: the query casts the column to float8.
            match unsafe { f64::from_datum(values[2], false) } {
                Some(v) if v == 0.0 || v == 1.0 => v == 1.0,
                other => raise(
                    PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!(
                        "column correct of {rel} holds {}, which is neither 0 nor 1",
                        other.unwrap_or(f64::NAN)
                    ),
                    Some("correct must be boolean, or a number that is 0 or 1.".into()),
                    None,
                ),
            }
        } else {
            values[2].value() != 0
        };
        alloc::grow(&mut attempts, 1, "the answers read").unwrap_or_else(|e| raise_core(e));
        attempts.push(Attempt::new(
            users.index(values[0]),
            items.index(values[1]),
            values[3].value() as i64,
            correct,
        ));
    });
    if null_ids > 0 {
        raise(
            PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
            format!("{null_ids} rows of {rel} in the window have a NULL user_id or question_id"),
            None,
            Some("Filter them out in a view, or fix the rows."),
        );
    }
    let (responses, repeated) = Responses::from_attempts(
        users.len(),
        items.len(),
        attempts,
        rule == AttemptRule::Last,
        pool,
    )
    .unwrap_or_else(|e| raise_core(e));
    Answers {
        user_ids: users.into_ids(),
        item_ids: items.into_ids(),
        responses,
        rows_in_window,
        null_answers,
        repeated: repeated as i64,
    }
}

/// Known parameters from the item bank: anchors, and start values for other items.
pub struct BankParams {
    pub anchors: Vec<(String, ItemParams)>,
    pub starts: HashMap<String, ItemParams>,
}

pub fn read_bank(client: &SpiClient<'_>, items: &Relation) -> BankParams {
    const ITEM_COLUMNS: &str = "id and meta (jsonb)";
    items.column("id", ITEM_COLUMNS);
    if items.column("meta", ITEM_COLUMNS) != "jsonb" {
        raise(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("column meta of {} is not jsonb", items.quoted),
            None,
            None,
        );
    }
    let query = format!(
        "SELECT id::text, coalesce(meta->'tags' @> '[\"anchor\"]'::jsonb, false), meta->'irt' FROM {} \
         WHERE meta->'tags' @> '[\"anchor\"]'::jsonb OR meta ? 'irt' ORDER BY 1",
        items.quoted
    );
    let rows = client
        .select(query.as_str(), None, &[])
        .unwrap_or_else(|e| spi_failed(e));
    let mut anchors: Vec<(String, ItemParams)> = Vec::new();
    let mut conflicting: Option<String> = None;
    let mut starts = HashMap::new();
    for row in rows {
        let Ok(Some(id)) = row.get::<String>(1) else {
            continue;
        };
        let anchor = row.get::<bool>(2).ok().flatten().unwrap_or(false);
        let irt = row.get::<JsonB>(3).ok().flatten().map(|j| j.0);
        match (anchor, irt.as_ref().map(parse_irt)) {
            (true, Some(Ok(p))) => match anchors.last() {
                // Rows come ordered by id, so a repeat follows its first row.
                Some((last, q)) if *last == id && *q == p => pgrx::warning!(
                    "anchor {id} appears more than once in {} with the same parameters; used once",
                    items.quoted
                ),
                Some((last, _)) if *last == id => {
                    pgrx::warning!(
                        "anchor {id} appears more than once in {} with different parameters; left out",
                        items.quoted
                    );
                    anchors.pop();
                    conflicting = Some(id);
                }
                _ if conflicting.as_ref() == Some(&id) => {}
                _ => anchors.push((id, p)),
            },
            (true, Some(Err(why))) => pgrx::warning!("anchor {id} left out: {why}"),
            (true, None) => pgrx::warning!("anchor {id} left out: meta has no \"irt\" parameters"),
            (false, Some(Ok(p))) => {
                starts.insert(id, p);
            }
            (false, _) => {}
        }
    }
    BankParams { anchors, starts }
}

/// `{"a": …, "b": …, "c": …, "D": …}` on the logistic metric; an explicit D multiplies a.
fn parse_irt(v: &serde_json::Value) -> Result<ItemParams, String> {
    if !v.is_object() {
        return Err(format!("meta->'irt' is not an object: {v}"));
    }
    let number = |key: &str, required: bool| -> Result<Option<f64>, String> {
        match v.get(key) {
            None | Some(serde_json::Value::Null) if !required => Ok(None),
            None | Some(serde_json::Value::Null) => Err(format!("\"{key}\" is missing")),
            Some(x) => x
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| format!("\"{key}\" is not a number: {x}")),
        }
    };
    let a = number("a", true)?.unwrap_or_default();
    let b = number("b", true)?.unwrap_or_default();
    let c = number("c", false)?.unwrap_or(0.0);
    let scale = number("D", false)?.unwrap_or(1.0);
    if scale <= 0.0 {
        return Err(format!("D must be positive, got {scale}"));
    }
    ItemParams::given(a * scale, b, c)
}
