//! `trends`: the items whose trend across runs alarms — each one's b run after run with its
//! 95 % band, and the sums that passed the decision interval.

use super::chart_figure;
use crate::doc::{num, Report, Run, TrendRow};
use crate::format;
use crate::html::{self, esc, Row, Section};
use crate::plots::{span, Chart, GUIDE, NEW};

pub fn section(report: &Report, run: &Run) -> Section {
    let record = &run.spec["trend"];
    let body = if !record.is_object() {
        html::p("This run recorded no trends across runs.")
    } else {
        let (k, h) = (num(&record["reference"]), num(&record["decision"]));
        let mut body =
            html::p(&format!(
            "Every item with an estimate of its own continues its series: the change in b (and \
             ln a) since its previous run, over that change's SE with the answers the two runs \
             share taken out, summed by a CUSUM up and down (k = {}); an item alarms while a sum \
             is over h = {}. {} with a series this run, {} alarming.",
            format::opt(k),
            format::opt(h),
            format::counted(num(&record["items"]).unwrap_or(0.0) as usize, "item", "items"),
            format::opt(num(&record["alarms"])),
        ));
        if report.trends.is_empty() {
            body.push_str(&html::p("No item's trend alarms."));
        } else {
            body.push_str(&html::p(
                "Each alarming item's b in its last runs (at most 60) on the anchors' scale, \
                 <span class=\"key-new\">blue</span>, with ±1.96 SE in grey.",
            ));
            for t in &report.trends {
                body.push_str(&series(t));
            }
            body.push_str(&table(&report.trends));
        }
        body
    };
    Section {
        id: "trends",
        title: "Trends across runs",
        body,
    }
}

/// b against the run's place in the series, with its band.
fn series(t: &TrendRow) -> String {
    let points: Vec<(f64, f64, f64)> = t
        .history
        .iter()
        .enumerate()
        .filter_map(|(i, &(b, se))| Some((i as f64 + 1.0, b?, se?)))
        .collect();
    let caption = format!(
        "item {}: b over its last {} runs",
        esc(&t.item_id),
        points.len()
    );
    let y = span(
        points
            .iter()
            .flat_map(|&(_, b, se)| [b - 1.96 * se, b + 1.96 * se]),
        -10.0..10.0,
    );
    let (Some(y), true) = (y, points.len() > 1) else {
        return html::p(&format!("{caption}: too few runs to draw."));
    };
    let x = 1.0..points.len() as f64;
    let band = |sign: f64| {
        points
            .iter()
            .map(|&(i, b, se)| (i, b + sign * 1.96 * se))
            .collect()
    };
    let chart = Chart::new((360, 200), x, y)
        .titled("run in the series", "b")
        .line(band(-1.0), GUIDE)
        .line(band(1.0), GUIDE)
        .line(points.iter().map(|&(i, b, _)| (i, b)).collect(), NEW);
    chart_figure("trend", Some(&t.item_id), &chart, &caption)
}

fn table(rows: &[TrendRow]) -> String {
    let rows: Vec<Row> = rows
        .iter()
        .map(|t| {
            let mut cells = vec![
                format!("<code>{}</code>", esc(&t.item_id)),
                format::opt(t.runs),
                format::opt(t.b),
                format::opt(t.z_b),
                format::opt(t.z_a),
            ];
            cells.extend(t.sums.iter().map(|&s| format::opt(s)));
            Row::new(cells).with_class("trending")
        })
        .collect();
    html::table(
        &[
            "item",
            "runs",
            "b",
            "z b",
            "z ln a",
            "CUSUM b up",
            "b down",
            "ln a up",
            "ln a down",
        ],
        &rows,
    )
}
