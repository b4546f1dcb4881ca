//! Reading the answers in the window and the item bank through SPI, before any thread starts.
//! Relation names are resolved to a regclass with the caller's search_path and only the quoted
//! name returned by PostgreSQL is put into a query. What the columns must be, the queries, and
//! what each row becomes are the core's (`irt_core::source`, `irt_core::bank`); this file only
//! decodes datums.

use irt_core::bank::{Bank, BankRow};
use irt_core::pipeline::Answers;
use irt_core::settings::AttemptRule;
use irt_core::source::{bank_query, Relation};
use irt_core::window::{Correct, RawId, Window};
use irt_core::CoreError;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::errors::{raise_core, spi_failed, OrRaise};
use crate::scan::for_each_row;

/// A relation named by the caller, resolved to a regclass with the caller's search_path, with
/// its columns' types.
pub fn resolve(client: &SpiClient<'_>, name: &str, role: &'static str) -> Relation {
    let found: Option<String> = client
        .select(irt_store::RESOLVE_RELATION, None, &[name.into()])
        .and_then(|t| t.first().get_one())
        .unwrap_or_else(|_| {
            raise_core(CoreError::InvalidRelationName {
                role,
                name: name.into(),
            })
        });
    let Some(quoted) = found else {
        raise_core(CoreError::MissingRelation {
            role,
            name: name.into(),
        })
    };
    let rows = client
        .select(irt_store::RELATION_COLUMNS, None, &[quoted.clone().into()])
        .unwrap_or_else(|e| spi_failed(e));
    let columns: Vec<(String, String)> = rows
        .filter_map(|row| match (row.get::<String>(1), row.get::<String>(2)) {
            (Ok(Some(name)), Ok(Some(ty))) => Some((name, ty)),
            _ => None,
        })
        .collect();
    Relation::new(quoted, columns)
}

pub fn read_answers(
    client: &SpiClient<'_>,
    source: &Relation,
    lookback_days: i32,
    rule: AttemptRule,
    pool: &rayon::ThreadPool,
) -> Answers {
    let shape = source.source_shape().or_raise();
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
    // Unsorted: resolving repeats and grouping by user is done in the core, in parallel, which
    // is several times faster than a DISTINCT ON sort in the database (measured in the notes).
    let query = format!(
        "SELECT {} FROM {} WHERE created_at >= $1",
        shape.select_list(),
        source.quoted
    );
    let limit = crate::guc::MAX_ANSWERS.get() as i64;
    let mut window = Window::new(&source.quoted, shape, limit, pool);
    let params = [(
        pg_sys::TIMESTAMPTZOID,
        cutoff.into_datum().expect("a timestamp"),
    )];
    for_each_row(&query, &params, |values, nulls| {
        window.count_row().or_raise();
        if nulls[0] || nulls[1] {
            return window.null_id();
        }
        if nulls[2] {
            return window.null_answer();
        }
        let user = raw_id(shape.integer_user_ids, values[0]);
        let item = raw_id(shape.integer_item_ids, values[1]);
        let correct = if shape.numeric_correct {
            // SAFETY: the query casts the column to float8, and it is not NULL.
            Correct::Number(unsafe { f64::from_datum(values[2], false) }.unwrap_or(f64::NAN))
        } else {
            Correct::Boolean(values[2].value() != 0)
        };
        window
            .answer(user, item, correct, values[3].value() as i64)
            .or_raise();
    });
    window.finish(rule, pool).or_raise()
}

/// A non-NULL id as the shape's select list reads it (int8 or text), valid during the row.
fn raw_id<'a>(integer: bool, datum: pg_sys::Datum) -> RawId<'a> {
    if integer {
        return RawId::Integer(datum.value() as i64);
    }
    // SAFETY: the select list casts the column to text, and the caller checked it is not NULL.
    RawId::Text(unsafe { <&str>::from_datum(datum, false) }.expect("not NULL"))
}

/// Known parameters from the item bank: anchors, and start values for other items.
pub fn read_bank(client: &SpiClient<'_>, items: &Relation) -> Bank {
    items.check_bank().or_raise();
    let rows = client
        .select(bank_query(&items.quoted).as_str(), None, &[])
        .unwrap_or_else(|e| spi_failed(e));
    let rows = rows.filter_map(|row| {
        let Ok(Some(id)) = row.get::<String>(1) else {
            return None;
        };
        Some(BankRow {
            id,
            anchor: row.get::<bool>(2).ok().flatten().unwrap_or(false),
            irt: row.get::<JsonB>(3).ok().flatten().map(|j| j.0),
        })
    });
    Bank::from_rows(rows, &items.quoted, |w| pgrx::warning!("{w}"))
}
