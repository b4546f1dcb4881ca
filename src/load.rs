//! Reading the answers in the window through SPI, row by row from the executor. What the
//! columns must be, the query, and what each row becomes are the core's (`irt_core::source`,
//! `irt_core::window`); this file only decodes datums.

use irt_core::pipeline::Answers;
use irt_core::settings::Settings;
use irt_core::source::Relation;
use irt_core::window::{Correct, RawId, Window};
use irt_core::CoreError;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::errors::{spi_failed, OrRaise};
use crate::scan::for_each_row;

/// The answers of the window, at most `max_answers` rows.
pub fn read_answers(
    client: &SpiClient<'_>,
    source: &Relation,
    settings: &Settings,
    max_answers: i64,
    pool: &rayon::ThreadPool,
) -> Result<Answers, CoreError> {
    let groups = settings.groups.as_ref().map(|g| g.column.as_str());
    let shape = source.source_shape(groups).or_raise();
    // The window's start, computed once: `now() - interval` evaluated per row cost more than
    // the scan itself.
    let cutoff = client
        .select(
            "SELECT now() - make_interval(days => $1)",
            None,
            &[settings.lookback_days.into()],
        )
        .and_then(|t| t.first().get_one::<TimestampWithTimeZone>())
        .unwrap_or_else(|e| spi_failed(e))
        .expect("now() minus an interval is not NULL");
    // Unsorted: resolving repeats and grouping by user is done in the core, in parallel, which
    // is several times faster than a DISTINCT ON sort in the database (measured in the notes).
    let query = format!(
        "SELECT {} FROM {} WHERE created_at >= $1",
        shape.select_list(groups),
        source.quoted
    );
    let mut window = Window::new(&source.quoted, shape, max_answers, pool);
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
        if shape.grouped {
            if nulls[4] {
                return window.null_group();
            }
            // SAFETY: the select list casts the groups column to text, and it is not NULL.
            let group = unsafe { <&str>::from_datum(values[4], false) }.expect("not NULL");
            window.in_group(group).or_raise();
        }
        let user = raw_id(shape.integer_user_ids, values[0]);
        let item = raw_id(shape.integer_item_ids, values[1]);
        let correct = if shape.numeric_answer {
            // SAFETY: the query casts the column to float8, and it is not NULL.
            Correct::Number(unsafe { f64::from_datum(values[2], false) }.unwrap_or(f64::NAN))
        } else {
            Correct::Boolean(values[2].value() != 0)
        };
        window
            .answer(user, item, correct, values[3].value() as i64)
            .or_raise();
    });
    window.finish(settings.attempt, pool)
}

/// A non-NULL id as the shape's select list reads it (int8 or text), valid during the row.
fn raw_id<'a>(integer: bool, datum: pg_sys::Datum) -> RawId<'a> {
    if integer {
        return RawId::Integer(datum.value() as i64);
    }
    // SAFETY: the select list casts the column to text, and the caller checked it is not NULL.
    RawId::Text(unsafe { <&str>::from_datum(datum, false) }.expect("not NULL"))
}
