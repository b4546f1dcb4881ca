//! Reading the window with `COPY … TO STDOUT (FORMAT binary)` inside the run's transaction. The
//! source is checked, the query built and the rows judged by the core (`irt_core::source`,
//! `irt_core::window`), as in the extension.

use std::error::Error;

use futures_util::{pin_mut, TryStreamExt};
use irt_core::pipeline::Answers;
use irt_core::settings::Settings;
use irt_core::source::Relation;
use irt_core::window::{Correct, RawId, Window};
use rayon::ThreadPool;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Transaction;

use crate::failure::Failure;

/// A timestamp's microseconds since 2000, as stored: attempt times only order a user's
/// attempts at an item.
struct Micros(i64);

impl<'a> FromSql<'a> for Micros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Self(i64::from_sql(&Type::INT8, raw)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ)
    }
}

pub async fn read_answers(
    tx: &Transaction<'_>,
    source: &Relation,
    settings: &Settings,
    max_answers: i64,
    pool: &ThreadPool,
) -> Result<Answers, Failure> {
    let groups = settings.groups.as_ref().map(|g| g.column.as_str());
    let shape = source.source_shape(groups)?;
    // The window's start, computed once and written into the query as a constant.
    let cutoff: String = tx
        .query_one(
            "SELECT (now() - make_interval(days => $1))::text",
            &[&settings.lookback_days],
        )
        .await?
        .get(0);
    let copy = format!(
        "COPY (SELECT {} FROM {} WHERE created_at >= '{cutoff}'::timestamptz) TO STDOUT (FORMAT binary)",
        shape.select_list(groups),
        source.quoted
    );
    let id_type = |integer: bool| if integer { Type::INT8 } else { Type::TEXT };
    let mut types = vec![
        id_type(shape.integer_user_ids),
        id_type(shape.integer_item_ids),
        if shape.numeric_answer {
            Type::FLOAT8
        } else {
            Type::BOOL
        },
        Type::TIMESTAMPTZ,
    ];
    if shape.grouped {
        types.push(Type::TEXT);
    }
    let rows = BinaryCopyOutStream::new(tx.copy_out(copy.as_str()).await?, &types);
    pin_mut!(rows);
    let mut window = Window::new(&source.quoted, shape, max_answers, pool);
    let decode = |e: tokio_postgres::Error| Failure::from(e);
    while let Some(row) = rows.try_next().await? {
        window.count_row()?;
        let correct = if shape.numeric_answer {
            row.try_get::<Option<f64>>(2)
                .map_err(decode)?
                .map(Correct::Number)
        } else {
            row.try_get::<Option<bool>>(2)
                .map_err(decode)?
                .map(Correct::Boolean)
        };
        let user = raw_id(&row, 0, shape.integer_user_ids)?;
        let item = raw_id(&row, 1, shape.integer_item_ids)?;
        let (Some(user), Some(item)) = (user, item) else {
            window.null_id();
            continue;
        };
        // A NULL answer is counted before its ids are indexed, as in the extension.
        let Some(correct) = correct else {
            window.null_answer();
            continue;
        };
        if shape.grouped {
            match row.try_get::<Option<&str>>(4).map_err(decode)? {
                Some(group) => window.in_group(group)?,
                None => {
                    window.null_group();
                    continue;
                }
            }
        }
        let time = row.try_get::<Micros>(3).map_err(decode)?.0;
        window.answer(user, item, correct, time)?;
    }
    Ok(window.finish(settings.attempt, pool)?)
}

/// A row's id, or None for a NULL id.
fn raw_id(
    row: &BinaryCopyOutRow,
    column: usize,
    integer: bool,
) -> Result<Option<RawId<'_>>, Failure> {
    Ok(if integer {
        row.try_get::<Option<i64>>(column)?.map(RawId::Integer)
    } else {
        row.try_get::<Option<&str>>(column)?.map(RawId::Text)
    })
}
