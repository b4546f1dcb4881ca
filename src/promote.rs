//! `mirt_promote`: the store's promotion (`irt_store::promote`) through SPI, in the caller's
//! transaction — a dry run by default, the bank changed with `apply => true`.

use irt_core::promotion::Rules;
use irt_core::CoreError;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::errors::{raise_core, OrRaise};
use crate::panics;
use crate::session::Spi;

/// The new items the run `run_id` (NULL: the latest) finds ready to anchor and the anchors it
/// finds ready to retire, by the rules of `irt_core::promotion`; with `apply` the item bank
/// `items` (resolved with the caller's search_path, as `mirt_calibrate` resolves it) is changed
/// and each change recorded in `mirt_bank_changes`.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
pub fn mirt_promote(
    run_id: default!(Option<&str>, "NULL"),
    min_responses: default!(Option<i32>, 500),
    max_se_b: default!(Option<f64>, 0.2),
    stable_runs: default!(Option<i32>, 3),
    retire_after: default!(Option<i32>, 3),
    apply: default!(Option<bool>, false),
    items: default!(Option<&str>, "'question'"),
) -> TableIterator<
    'static,
    (
        name!(item_id, String),
        name!(action, String),
        name!(reason, String),
        name!(irt, Option<JsonB>),
        name!(run_id, String),
        name!(applied, bool),
    ),
> {
    panics::guarded("mirt_promote", || {
        let required =
            |name: &str| -> ! { raise_core(CoreError::NullArgument { name: name.into() }) };
        let rules = Rules::new(
            i64::from(min_responses.unwrap_or_else(|| required("min_responses"))),
            max_se_b.unwrap_or_else(|| required("max_se_b")),
            stable_runs.unwrap_or_else(|| required("stable_runs")),
            retire_after.unwrap_or_else(|| required("retire_after")),
        )
        .or_raise();
        let apply = apply.unwrap_or_else(|| required("apply"));
        let items = items.unwrap_or_else(|| required("items"));
        let done = pgrx::spi::Spi::connect_mut(|client| {
            irt_store::promote(&mut Spi { client }, run_id, &rules, items, apply)
        })
        .unwrap_or_else(|e| raise_core(e));
        let judged = done.run_id;
        TableIterator::new(done.changes.into_iter().map(move |c| {
            (
                c.item_id,
                c.action.name().to_string(),
                c.reason,
                (!c.irt.is_null()).then_some(JsonB(c.irt)),
                judged.clone(),
                apply,
            )
        }))
    })
}
