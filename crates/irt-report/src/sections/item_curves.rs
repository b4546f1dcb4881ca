//! `item-curves`: small multiples of item characteristic curves for the anchors (stored curve
//! against this run's) and for every item whose status asks for a review.

use irt_core::ItemParams;
use plotters::style::RGBColor;

use super::chart_figure;
use crate::curves;
use crate::doc::{DriftRow, Report, Run};
use crate::format;
use crate::html::{self, esc, Section};
use crate::plots::{Chart, NEW, STORED};

/// Curves drawn per group; past it the section says how many were left out.
const MAX_DRAWN: usize = 60;
const SIZE: (u32, u32) = (235, 165);

/// One requested item: its curves (none when it has no usable parameters) and caption.
pub(super) struct Small {
    pub id: String,
    pub curves: Vec<(ItemParams, RGBColor)>,
    pub caption: String,
}

pub fn section(report: &Report, run: &Run) -> Section {
    let theta = curves::theta_grid(run.latent());
    let anchor_ids = report.anchor_ids();
    let mut body = html::p(
        "Probability of a correct answer against θ on the reported scale; of an item scored in \
         categories, the probability of each of its categories. \
         <span class=\"key-new\">Blue</span>: this run's curve; \
         <span class=\"key-stored\">orange</span>: an anchor's stored curve, as the final drift \
         screening compared them. Captions give an anchor's final screening, or an item's status and the gate that set it.",
    );

    body.push_str("<h3>Anchors</h3>\n");
    if anchor_ids.is_empty() {
        body.push_str(&html::p("This run has no anchors."));
    } else {
        let screening = report.final_screening();
        let anchors: Vec<Small> = anchor_ids
            .iter()
            .map(|id| anchor(report, id, screening.iter().find(|r| r.item_id == *id)))
            .collect();
        body.push_str(&group(&anchors, &theta, "anchors"));
    }

    body.push_str("<h3>Items to review</h3>\n");
    let review: Vec<Small> = report
        .items
        .iter()
        .filter(|item| item.status().is_some_and(|s| s != "ok") && !anchor_ids.contains(&item.id))
        .map(|item| Small {
            id: item.id.clone(),
            curves: item.curve().map(|c| (c, NEW)).into_iter().collect(),
            caption: status_caption(item.status(), item.reason()),
        })
        .collect();
    if !report.has_item_fit() {
        body.push_str(&html::p(
            "No item fit is recorded for this run, so no item is marked for review.",
        ));
    } else if review.is_empty() {
        body.push_str(&html::p(
            "Every item apart from the anchors has status ok: none needs a review.",
        ));
    } else {
        body.push_str(&group(&review, &theta, "items to review"));
    }
    Section {
        id: "item-curves",
        title: "Item curves",
        body,
    }
}

/// An anchor compares the stored curve with the new one of its final screening; an anchor
/// never screened has only this run's curve.
fn anchor(report: &Report, id: &str, screened: Option<&&DriftRow>) -> Small {
    let item = report.item(id);
    let status = item.and_then(|i| i.status());
    let reason = item.and_then(|i| i.reason());
    match screened {
        Some(row) => {
            let curves = [(row.stored_curve(), STORED), (row.new_curve(), NEW)]
                .into_iter()
                .filter_map(|(curve, colour)| curve.map(|c| (c, colour)))
                .collect();
            let verdict = if row.flagged {
                "<span class=\"key-flagged\">flagged</span>"
            } else {
                "not flagged"
            };
            Small {
                id: id.to_string(),
                curves,
                caption: format!(
                    "anchor, {verdict}: z<sub>a</sub> {}, z<sub>b</sub> {}, area {}",
                    format::opt(row.z_a),
                    format::opt(row.z_b),
                    format::opt(row.area)
                ),
            }
        }
        None => Small {
            id: id.to_string(),
            curves: item
                .and_then(|i| i.curve())
                .map(|c| (c, NEW))
                .into_iter()
                .collect(),
            caption: format!(
                "anchor, not screened for drift; {}",
                status_caption(status, reason)
            ),
        },
    }
}

fn status_caption(status: Option<&str>, reason: Option<&str>) -> String {
    match (status, reason) {
        (Some(status), Some(reason)) => format!("{}: {}", esc(status), esc(reason)),
        (Some(status), None) => esc(status),
        (None, _) => "no status recorded".to_string(),
    }
}

/// The figures of a group, at most [`MAX_DRAWN`], then the items without a curve and the
/// number left out.
pub(super) fn group(smalls: &[Small], theta: &[f64], what: &str) -> String {
    let (drawable, without): (Vec<&Small>, Vec<&Small>) =
        smalls.iter().partition(|s| !s.curves.is_empty());
    let mut out = String::new();
    if !drawable.is_empty() {
        let x = curves::extent(theta);
        out.push_str("<div class=\"icc-grid\">\n");
        for small in drawable.iter().take(MAX_DRAWN) {
            let chart = small.curves.iter().fold(
                Chart::new(SIZE, x.clone(), 0.0..1.0),
                |chart, (item, colour)| match item.steps() {
                    None => chart.line(curves::icc(item, theta), *colour),
                    // An item in categories: one curve per category.
                    Some(_) => curves::category_curves(item, theta)
                        .into_iter()
                        .fold(chart, |chart, curve| chart.line(curve, *colour)),
                },
            );
            let caption = format!("<strong>{}</strong> {}", esc(&small.id), small.caption);
            out.push_str(&chart_figure("icc", Some(&small.id), &chart, &caption));
        }
        out.push_str("</div>\n");
    }
    if drawable.len() > MAX_DRAWN {
        out.push_str(&html::p(&format!(
            "Only the first {MAX_DRAWN} of {} {what} with curves are drawn; {} more are left out \
             (all are in the parameter table).",
            format::count(drawable.len() as f64),
            format::count((drawable.len() - MAX_DRAWN) as f64)
        )));
    }
    if !without.is_empty() {
        let mut listed: Vec<String> = without
            .iter()
            .take(MAX_DRAWN)
            .map(|s| format!("<code>{}</code> ({})", esc(&s.id), s.caption))
            .collect();
        if without.len() > MAX_DRAWN {
            listed.push(format!("and {} more", without.len() - MAX_DRAWN));
        }
        out.push_str(&html::p(&format!(
            "No curve can be drawn for these {what}, which have no usable parameters in this run: {}.",
            listed.join(", ")
        )));
    }
    out
}
