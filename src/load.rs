//! Reading the answers in the window and the item bank's anchors through SPI, before any
//! thread starts. Relation names are resolved to a regclass with the caller's search_path and
//! only the quoted name returned by PostgreSQL is put into a query.

use std::collections::HashMap;

use irt_core::{Attempt, ItemParams, Responses};
use pgrx::spi::SpiClient;
use pgrx::{JsonB, PgSqlErrorCode};

use crate::errors::{raise, spi_failed};

/// Rows fetched from the cursor at a time.
const FETCH: i64 = 50_000;

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
    let window = "created_at >= now() - make_interval(days => $1)";
    let bad_value = if numeric {
        "min(correct::text) FILTER (WHERE correct NOT IN (0, 1))"
    } else {
        "NULL::text"
    };
    let stats = client
        .select(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE correct IS NULL), \
                 count(*) FILTER (WHERE user_id IS NULL OR question_id IS NULL), {bad_value} \
                 FROM {rel} WHERE {window}"
            ),
            None,
            &[lookback_days.into()],
        )
        .unwrap_or_else(|e| spi_failed(e));
    let row = stats.first();
    let count = |i| row.get::<i64>(i).ok().flatten().unwrap_or(0);
    let (rows_in_window, null_answers, null_ids) = (count(1), count(2), count(3));
    let limit = crate::guc::MAX_ANSWERS.get() as i64;
    if rows_in_window > limit {
        raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("{rows_in_window} rows in the window exceed pg_irt.max_answers = {limit}"),
            Some("Nothing was loaded. A run needs about 40 bytes of backend memory per answer.".into()),
            Some("Shorten lookback_days, or raise pg_irt.max_answers (a superuser setting) if the server has the memory."),
        );
    }
    if null_ids > 0 {
        raise(
            PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
            format!("{null_ids} rows of {rel} in the window have a NULL user_id or question_id"),
            None,
            Some("Filter them out in a view, or fix the rows."),
        );
    }
    if let Ok(Some(value)) = row.get::<String>(4) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            format!("column correct of {rel} holds {value}, which is neither 0 nor 1"),
            Some("correct must be boolean, or a number that is 0 or 1.".into()),
            None,
        );
    }
    let correct = if numeric { "correct = 1" } else { "correct" };
    // Unsorted: resolving repeats and grouping by user is done in Rust, in parallel, which is
    // several times faster than a DISTINCT ON sort in the database (measured in the notes).
    let query = format!(
        "SELECT user_id::text, question_id::text, {correct}, (extract(epoch FROM created_at) * 1000000)::int8 \
         FROM {rel} WHERE {window} AND correct IS NOT NULL"
    );
    let mut cursor = client.open_cursor(query.as_str(), &[lookback_days.into()]);
    let mut user_index: HashMap<String, u32> = HashMap::new();
    let mut item_index: HashMap<String, u32> = HashMap::new();
    let mut attempts = Vec::new();
    loop {
        let table = cursor.fetch(FETCH).unwrap_or_else(|e| spi_failed(e));
        if table.is_empty() {
            break;
        }
        for row in table {
            let (Ok(Some(user)), Ok(Some(item)), Ok(Some(correct)), Ok(Some(time))) = (
                row.get::<&str>(1),
                row.get::<&str>(2),
                row.get::<bool>(3),
                row.get::<i64>(4),
            ) else {
                continue;
            };
            attempts.push(Attempt {
                person: intern(&mut user_index, user),
                item: intern(&mut item_index, item),
                time,
                correct,
            });
        }
        pgrx::check_for_interrupts!();
    }
    let (responses, repeated) = Responses::from_attempts(
        user_index.len(),
        item_index.len(),
        attempts,
        rule == AttemptRule::Last,
        pool,
    )
    .unwrap_or_else(|e| crate::errors::raise_core(e));
    Answers {
        user_ids: ids_in_order(user_index),
        item_ids: ids_in_order(item_index),
        responses,
        rows_in_window,
        null_answers,
        repeated: repeated as i64,
    }
}

/// The index of `id`, given the next free one when it is new.
fn intern(index: &mut HashMap<String, u32>, id: &str) -> u32 {
    if let Some(&i) = index.get(id) {
        return i;
    }
    let next = index.len() as u32;
    index.insert(id.to_owned(), next);
    next
}

/// The ids of an interned index, ordered by their index.
fn ids_in_order(index: HashMap<String, u32>) -> Vec<String> {
    let mut ids: Vec<(String, u32)> = index.into_iter().collect();
    ids.sort_unstable_by_key(|&(_, i)| i);
    ids.into_iter().map(|(id, _)| id).collect()
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
    let mut starts = HashMap::new();
    for row in rows {
        let Ok(Some(id)) = row.get::<String>(1) else {
            continue;
        };
        let anchor = row.get::<bool>(2).ok().flatten().unwrap_or(false);
        let irt = row.get::<JsonB>(3).ok().flatten().map(|j| j.0);
        match (anchor, irt.as_ref().map(parse_irt)) {
            (true, Some(Ok(p))) => {
                if anchors.last().is_some_and(|(last, _)| *last == id) {
                    pgrx::warning!(
                        "anchor {id} appears more than once in {}; the first row is used",
                        items.quoted
                    );
                } else {
                    anchors.push((id, p));
                }
            }
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
    if a <= 0.0 {
        return Err(format!("a must be positive, got {a}"));
    }
    if !(0.0..1.0).contains(&c) {
        return Err(format!("c must lie in [0, 1), got {c}"));
    }
    if scale <= 0.0 {
        return Err(format!("D must be positive, got {scale}"));
    }
    Ok(ItemParams::from_irt(a * scale, b, c))
}
