//! Promotion and retirement of anchors (`mirt_promote`, `pg-irt promote`), for both front ends:
//! the run judged, each of its items' latest runs, the core's proposals (`irt_core::promotion`),
//! and with `apply` the bank's rows changed — a promoted item's parameters of the run judged in
//! `meta->'irt'` and the `"anchor"` tag added, a retired anchor's tag removed — each change
//! recorded in `mirt_bank_changes` with the row before and after, in the session's transaction.

use irt_core::promotion::{propose, Action, ItemHistory, ItemRun, Rules};
use irt_core::CoreError;
use serde_json::Value;

use crate::run::{resolve, Cell, Session};
use crate::write::Param;

/// One proposal and the item's parameters it concerns: those the run judged gave a promoted
/// item (what `meta->'irt'` becomes), a retired anchor's stored ones.
pub struct Change {
    pub item_id: String,
    pub action: Action,
    pub reason: String,
    pub irt: Value,
}

/// The run judged and what to change.
pub struct Promotion {
    pub run_id: String,
    pub changes: Vec<Change>,
}

/// Proposes, and with `apply` makes, the changes of the bank in `items` the run `run_id` (None:
/// the latest) calls for under `rules`.
pub fn promote<S: Session>(
    session: &mut S,
    run_id: Option<&str>,
    rules: &Rules,
    items: &str,
    apply: bool,
) -> Result<Promotion, S::Error> {
    let schema = session.result_schema()?;
    let judged = match run_id {
        Some(id) => session.query(
            &format!("SELECT run_id FROM {schema}.mirt_fit_meta WHERE run_id = $1::text"),
            &[Param::Text(id)],
        )?,
        None => session.query(
            &format!("SELECT run_id FROM {schema}.mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"),
            &[],
        )?,
    };
    let Some(run_id) = judged.into_iter().flatten().next().and_then(Cell::text) else {
        return Err(CoreError::InvalidArgument {
            message: match run_id {
                Some(id) => format!("no run {id} is recorded in mirt_fit_meta"),
                None => "no run is recorded in mirt_fit_meta yet: calibrate first".into(),
            },
        }
        .into());
    };
    let bank = resolve(session, items, "items")?;
    bank.check_bank()?;
    let rows = session.query(
        &histories(&schema, &bank.quoted),
        &[Param::Text(&run_id), Param::Int(rules.runs_read() as i32)],
    )?;
    let (histories, mut params) = read_histories(rows);
    let changes: Vec<Change> = propose(&histories, &run_id, rules)
        .into_iter()
        .map(|p| Change {
            irt: params.remove(&p.item_id).unwrap_or(Value::Null),
            item_id: p.item_id,
            action: p.action,
            reason: p.reason,
        })
        .collect();
    if apply {
        let statement = change_statement(&schema, &bank.quoted);
        for c in &changes {
            let irt = c.irt.to_string();
            session.execute(
                &statement,
                &[
                    Param::Text(&run_id),
                    Param::Text(&c.item_id),
                    Param::Text(c.action.name()),
                    Param::Text(&c.reason),
                    Param::Text(&irt),
                ],
            )?;
        }
    }
    Ok(Promotion { run_id, changes })
}

/// Each item the run `$1` judged, that the bank holds, with its latest `$2` runs up to that run
/// (latest first): (item_id, anchor, run_id, status, b, se_b, answers, irt). `irt` is what a
/// promotion stores, from the run judged: its params without `fixed`, with the run and its time;
/// for an anchor its stored `meta->'irt'`.
fn histories(schema: &str, items: &str) -> String {
    format!(
        "WITH judged AS (SELECT run_id, fitted_at FROM {schema}.mirt_fit_meta WHERE run_id = $1::text), \
         bank AS (SELECT id::text AS item_id, coalesce(meta->'tags' @> '[\"anchor\"]'::jsonb, false) AS anchor, \
                  meta->'irt' AS stored FROM {items} \
                  WHERE id::text IN (SELECT item_id FROM {schema}.mirt_item_fit WHERE run_id = $1::text)), \
         ranked AS (SELECT f.item_id, f.run_id, f.status, h.params, h.n_responses, \
                    row_number() OVER (PARTITION BY f.item_id ORDER BY m.fitted_at DESC) AS k \
                    FROM {schema}.mirt_item_fit f JOIN {schema}.mirt_fit_meta m ON m.run_id = f.run_id \
                    LEFT JOIN {schema}.mirt_item_params_history h ON h.run_id = f.run_id AND h.item_id = f.item_id \
                    WHERE f.item_id IN (SELECT item_id FROM bank) AND m.fitted_at <= (SELECT fitted_at FROM judged)) \
         SELECT r.item_id, b.anchor, r.run_id, r.status, (r.params->>'b')::float8, (r.params->>'se_b')::float8, \
                coalesce(r.n_responses, 0)::float8, \
                CASE WHEN r.k > 1 THEN NULL WHEN b.anchor THEN b.stored \
                     ELSE (r.params - 'fixed') || jsonb_build_object('run_id', r.run_id, \
                          'fitted_at', (SELECT fitted_at FROM judged)) END \
         FROM ranked r JOIN bank b ON b.item_id = r.item_id WHERE r.k <= $2::int ORDER BY r.item_id, r.k"
    )
}

/// The histories in the rows' order, and each item's `irt` of the run judged.
fn read_histories(
    rows: Vec<Vec<Cell>>,
) -> (Vec<ItemHistory>, std::collections::HashMap<String, Value>) {
    let mut histories: Vec<ItemHistory> = Vec::new();
    let mut params = std::collections::HashMap::new();
    for row in rows {
        let [id, anchor, run, status, b, se_b, answers, irt] = <[Cell; 8]>::try_from(row)
            .unwrap_or_else(|_| unreachable!("the histories select eight columns"));
        let item_id = id.text().unwrap_or_default();
        let item_run = ItemRun {
            run_id: run.text().unwrap_or_default(),
            status: status.text().unwrap_or_default(),
            b: b.number(),
            se_b: se_b.number(),
            answers: answers.number().unwrap_or(0.0) as u64,
        };
        if let Cell::Json(irt) = irt {
            params.insert(item_id.clone(), irt);
        }
        match histories.last_mut() {
            Some(h) if h.item_id == item_id => h.runs.push(item_run),
            _ => histories.push(ItemHistory {
                item_id,
                anchor: anchor == Cell::Bool(true),
                runs: vec![item_run],
            }),
        }
    }
    (histories, params)
}

/// Changes one item's row (`$2`) and records it: `$3` the action, `$4` the reason, `$5` the
/// parameters a promotion stores. Both parts see the row as it was: before and after are kept.
fn change_statement(schema: &str, items: &str) -> String {
    format!(
        "WITH before AS (SELECT meta FROM {items} WHERE id::text = $2::text), \
         changed AS (UPDATE {items} SET meta = CASE $3::text \
             WHEN 'promote' THEN jsonb_set(jsonb_set(coalesce(meta, '{{}}'), '{{irt}}', $5::text::jsonb), '{{tags}}', \
                 CASE WHEN coalesce(meta->'tags', '[]') @> '[\"anchor\"]' THEN meta->'tags' \
                      ELSE coalesce(meta->'tags', '[]') || '[\"anchor\"]' END) \
             ELSE jsonb_set(meta, '{{tags}}', (meta->'tags') - 'anchor') END \
             WHERE id::text = $2::text RETURNING meta) \
         INSERT INTO {schema}.mirt_bank_changes (run_id, item_id, action, reason, meta_before, meta_after) \
         SELECT $1::text, $2::text, $3::text, $4::text, before.meta, changed.meta FROM before, changed"
    )
}
