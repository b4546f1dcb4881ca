//! `anchors`: the final drift screening, stored against new parameters on the anchors' scale.

use std::ops::Range;

use irt_core::stats::two_sided_level;

use super::chart_figure;

use crate::doc::{text, DriftRow, Report, Run};
use crate::format;
use crate::html::{self, esc, Row, Section};
use crate::plots::{span, Chart, Marker, Points, FLAGGED, GUIDE, NEW};

const SIZE: (u32, u32) = (380, 340);

/// The widest axes of the scatters: an anchor past them is counted, not drawn.
const B_LIMIT: Range<f64> = -10.0..10.0;
const A_LIMIT: Range<f64> = 0.0..10.0;

pub fn section(report: &Report, run: &Run) -> Section {
    let anchors = report.anchor_ids();
    let screening = report.final_screening();
    let body = if anchors.is_empty() {
        html::p("This run has no anchors: it was not linked, and nothing was screened for drift.")
    } else if screening.is_empty() {
        html::p(&format!(
            "The {} were not screened for drift (<code>anchor_drift => 'off'</code>, or no \
             screening is recorded).",
            format::counted(anchors.len(), "anchor", "anchors")
        ))
    } else {
        screened(run, &screening)
    };
    Section {
        id: "anchors",
        title: "Anchor drift",
        body,
    }
}

fn screened(run: &Run, screening: &[&DriftRow]) -> String {
    let drift = &run.spec["anchor_drift"];
    let screenings = screening.iter().map(|r| r.iteration).max().unwrap_or(0);
    let mode = text(&drift["mode"])
        .map_or_else(String::new, |m| format!(" Mode <code>{}</code>", esc(&m)));
    let threshold = drift["z"].as_f64().map_or_else(String::new, |z| {
        format!(
            ", flagged where the score test of the stored parameters has a p-value at most the \
             two-sided level of |z| ≥ {} ({} %): with no drift, at most about that share of \
             anchors is flagged by chance in a run",
            format::num(z),
            format::fixed(100.0 * two_sided_level(z), 1)
        )
    });
    let mut body = html::p(&format!(
        "{} in the final screening, number {} of the run.{mode}{threshold}{}",
        format::counted(screening.len(), "anchor", "anchors"),
        format::count(screenings as f64),
        if mode.is_empty() { "" } else { "." }
    ));
    let flagged: Vec<String> = screening
        .iter()
        .filter(|r| r.flagged)
        .map(|r| format!("<code>{}</code>", esc(&r.item_id)))
        .collect();
    body.push_str(&html::p(&if flagged.is_empty() {
        "No anchor is flagged.".to_string()
    } else {
        format!(
            "<span class=\"key-flagged\">Flagged</span> ({}): {}. The next screening run starts \
             its link without them and takes back each one its screening passes; updating an \
             anchor's stored parameters clears its flag.",
            flagged.len(),
            flagged.join(", ")
        )
    }));
    body.push_str("<div class=\"charts\">\n");
    body.push_str(&scatter(screening, "b", B_LIMIT, |r| {
        (r.stored[1], r.new[1])
    }));
    body.push_str(&scatter(screening, "a", A_LIMIT, |r| {
        (r.stored[0], r.new[0])
    }));
    body.push_str("</div>\n");
    body.push_str(&table(screening));
    body
}

/// Stored against new values of one parameter, with the line of no change.
fn scatter(
    screening: &[&DriftRow],
    name: &str,
    limit: Range<f64>,
    pick: fn(&DriftRow) -> (Option<f64>, Option<f64>),
) -> String {
    let known: Vec<((f64, f64), bool)> = screening
        .iter()
        .filter_map(|r| match pick(r) {
            (Some(stored), Some(new)) => Some(((stored, new), r.flagged)),
            _ => None,
        })
        .collect();
    let (pairs, outside): (Vec<_>, Vec<_>) = known
        .into_iter()
        .partition(|((x, y), _)| limit.contains(x) && limit.contains(y));
    let outside = match outside.len() {
        0 => String::new(),
        n => format!(
            " Not drawn: {} outside [{}, {}].",
            format::counted(n, "anchor", "anchors"),
            format::num(limit.start),
            format::num(limit.end)
        ),
    };
    let Some(range) = span(pairs.iter().flat_map(|((x, y), _)| [*x, *y]), limit) else {
        return html::p(&format!(
            "No anchor has stored and new values of {name} to plot.{outside}"
        ));
    };
    let group = |flagged: bool, marker, colour| Points {
        points: pairs
            .iter()
            .filter(|p| p.1 == flagged)
            .map(|p| p.0)
            .collect(),
        marker,
        colour,
    };
    let mut chart = Chart::new(SIZE, range.clone(), range.clone())
        .titled(&format!("stored {name}"), &format!("new {name}"))
        .line(
            vec![(range.start, range.start), (range.end, range.end)],
            GUIDE,
        );
    chart.points = vec![
        group(false, Marker::Dot, NEW),
        group(true, Marker::Cross, FLAGGED),
    ];
    let caption = format!(
        "{name}: stored against this run's value; the grey line is no change, crosses are \
         flagged.{outside}"
    );
    chart_figure("chart", None, &chart, &caption)
}

fn table(screening: &[&DriftRow]) -> String {
    let rows: Vec<Row> = screening
        .iter()
        .map(|r| {
            let mut cells = vec![esc(&r.item_id)];
            cells.extend(r.stored.iter().chain(&r.new).map(|v| format::opt(*v)));
            cells.extend(
                [
                    r.d_a, r.d_b, r.se_a, r.se_b, r.z_a, r.z_b, r.p_value, r.area,
                ]
                .map(format::opt),
            );
            cells.push(if r.flagged { "yes" } else { "no" }.to_string());
            let row = Row::new(cells);
            if r.flagged {
                row.with_class("flagged")
            } else {
                row
            }
        })
        .collect();
    html::table(
        &[
            "Anchor", "stored a", "stored b", "stored c", "new a", "new b", "new c", "d_a", "d_b",
            "SE d_a", "SE d_b", "z_a", "z_b", "p", "area", "flagged",
        ],
        &rows,
    )
}
