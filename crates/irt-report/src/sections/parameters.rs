//! `parameters`: every item of the run with its parameters, standard errors, data and fit.

use crate::doc::{Item, Params, Report};
use crate::format;
use crate::html::{self, esc, Row, Section};

const HEAD: [&str; 13] = [
    "Item",
    "Model",
    "a (SE)",
    "b (SE)",
    "c (SE)",
    "n",
    "p-value",
    "S-X2 (df)",
    "S-X2 p",
    "RMSD",
    "Infit / outfit",
    "Status",
    "Reason",
];
/// Where c is in [`HEAD`]: a run without guessing (every c zero) leaves the column out.
const C_COLUMN: usize = 4;

pub fn section(report: &Report) -> Section {
    let anchors = report.anchor_ids();
    let body = if report.items.is_empty() {
        html::p("No items are recorded for this run.")
    } else {
        let has_se = report.items.iter().any(|i| {
            i.params
                .as_ref()
                .is_some_and(|p| p.se_a.or(p.se_b).or(p.se_c).is_some())
        });
        let mut body = html::p(&format!(
            "{}, on the reported scale; {}.",
            format::counted(report.items.len(), "item", "items"),
            if has_se {
                "standard errors in parentheses, \u{2014} where a value is not recorded"
            } else {
                "there are no standard errors of the item parameters in this run"
            }
        ));
        if !report.has_item_fit() {
            body.push_str(&html::p("No item fit is recorded for this run."));
        }
        let guessing = report.items.iter().any(|i| {
            i.params
                .as_ref()
                .and_then(|p| p.c)
                .is_some_and(|c| c != 0.0)
        });
        let mut head = HEAD.to_vec();
        let mut rows: Vec<Row> = report
            .items
            .iter()
            .map(|item| row(item, anchors.contains(&item.id)))
            .collect();
        if !guessing {
            head.remove(C_COLUMN);
            for row in &mut rows {
                row.cells.remove(C_COLUMN);
            }
        }
        body + &html::table(&head, &rows)
    };
    Section {
        id: "parameters",
        title: "Item parameters",
        body,
    }
}

fn row(item: &Item, is_anchor: bool) -> Row {
    let mut id = esc(&item.id);
    if is_anchor {
        id.push_str("<span class=\"tag\">anchor</span>");
    }
    let params = item.params.as_ref();
    if params.is_some_and(|p| p.fixed) {
        id.push_str("<span class=\"tag\">fixed</span>");
    }
    let with_se = |pick: fn(&Params) -> (Option<f64>, Option<f64>)| {
        params.map_or_else(
            || format::MISSING.to_string(),
            |p| {
                let (value, se) = pick(p);
                match (value, se) {
                    (Some(v), Some(se)) => {
                        format!("{} ({})", format::fixed(v, 3), format::fixed(se, 3))
                    }
                    (v, _) => {
                        v.map_or_else(|| format::MISSING.to_string(), |v| format::fixed(v, 3))
                    }
                }
            },
        )
    };
    let fit = item.fit.as_ref();
    let s_x2 = match fit.map(|f| (f.s_x2, f.s_x2_df)) {
        Some((Some(x2), Some(df))) => format!("{} ({})", format::num(x2), format::count(df)),
        Some((x2, _)) => format::opt(x2),
        None => format::MISSING.to_string(),
    };
    let status = item.status().unwrap_or(format::MISSING);
    let cells = vec![
        id,
        esc(item.model.as_deref().unwrap_or(format::MISSING)),
        with_se(|p| (p.a, p.se_a)),
        with_se(|p| (p.b, p.se_b)),
        with_se(|p| (p.c, p.se_c)),
        item.n_responses
            .map_or_else(|| format::MISSING.to_string(), format::count),
        format::opt(item.p_value),
        s_x2,
        format::opt(fit.and_then(|f| f.s_x2_p)),
        format::opt(fit.and_then(|f| f.rmsd)),
        format!(
            "{} / {}",
            format::opt(fit.and_then(|f| f.infit)),
            format::opt(fit.and_then(|f| f.outfit))
        ),
        esc(status),
        esc(item.reason().unwrap_or("")),
    ];
    Row::new(cells).with_class(status)
}
