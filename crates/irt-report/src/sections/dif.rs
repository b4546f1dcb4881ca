//! `dif`: differential item functioning of a run with groups — what each focal group's
//! screening did, the flagged items' curves in the reference and the focal group, and their
//! statistics.

use super::item_curves::{group, Small};
use crate::curves;
use crate::doc::{list, num, text, DifRow, Report, Run};
use crate::format;
use crate::html::{self, esc, Row, Section};
use crate::plots::{GUIDE, NEW, STORED};

pub fn section(report: &Report, run: &Run) -> Section {
    let record = &run.spec["dif"];
    let body = if !record.is_object() {
        html::p(
            "This run has no groups of persons, so no item was screened for differential item \
             functioning (<code>groups => 'column'</code> names a column of the source that \
             puts each person in a group).",
        )
    } else {
        screened(report, run)
    };
    Section {
        id: "dif",
        title: "Differential item functioning",
        body,
    }
}

fn screened(report: &Report, run: &Run) -> String {
    let record = &run.spec["dif"];
    let mut body = html::p(
        "Each item against each focal group, the reference group on the other side: \
         Mantel–Haenszel on the matching score, purified of the items it flags (ETS Δ = −2.35 ln α, \
         negative against the focal group; class A negligible, B moderate, C large), then the \
         likelihood-ratio test of the items it does not clear, with the cleared items as anchors. \
         An item is flagged at class B or C, or at a likelihood-ratio p, adjusted by \
         Benjamini–Hochberg, below the level.",
    );
    let mut facts = Vec::new();
    for focal in list(&record["focal_groups"]) {
        let name = text(&focal["group"]).unwrap_or_default();
        let matching = match text(&focal["matching"]).as_deref() {
            Some("number_right") => "the number-right score (every person answered every item)",
            Some("expected_score") => {
                "the expected score at a common-prior EAP θ (persons took different items)"
            }
            _ => "a matching score not recorded",
        };
        let flagged = report
            .dif
            .iter()
            .filter(|r| r.focal_group == name && r.flagged)
            .count();
        let lr = match text(&focal["lr_skipped"]) {
            Some(why) => format!("no likelihood-ratio test: {}", esc(&why)),
            None => format!(
                "{} tested by likelihood ratio",
                format::counted(
                    num(&focal["lr_tested"]).unwrap_or(0.0) as usize,
                    "item",
                    "items"
                )
            ),
        };
        facts.push((
            "focal group",
            format!(
                "<code>{}</code>: matched on {matching}, {} screenings; {lr}; {} flagged",
                esc(&name),
                format::opt(num(&focal["screenings"])),
                format::counted(flagged, "item", "items"),
            ),
        ));
    }
    body.push_str(&html::facts(&facts));
    let flagged: Vec<&DifRow> = report.dif.iter().filter(|r| r.flagged).collect();
    if flagged.is_empty() {
        body.push_str(&html::p("No item is flagged for DIF."));
        return body;
    }
    body.push_str(&html::p(
        "The flagged items' curves as the likelihood-ratio baseline estimated them, on the reported \
         scale: <span class=\"key-stored\">orange</span> in the reference group, \
         <span class=\"key-new\">blue</span> in the focal group; grey, the run's one curve of an \
         item Mantel–Haenszel flagged that the likelihood-ratio test did not take.",
    ));
    let theta = curves::theta_grid(run.latent());
    let smalls: Vec<Small> = flagged
        .iter()
        .map(|r| {
            let by_group: Vec<_> = [(&r.reference, STORED), (&r.focal, NEW)]
                .into_iter()
                .filter_map(|(p, colour)| p.as_ref()?.curve().map(|c| (c, colour)))
                .collect();
            let (curves, tested) = if by_group.is_empty() {
                let own = report.item(&r.item_id).and_then(|i| i.curve());
                (own.map(|c| (c, GUIDE)).into_iter().collect(), false)
            } else {
                (by_group, true)
            };
            Small {
                id: r.item_id.clone(),
                curves,
                caption: format!(
                    "{} against {}: ETS {} (Δ {}), {}",
                    esc(&r.focal_group),
                    esc(&r.reference_group),
                    r.ets_class.as_deref().map_or("-".into(), esc),
                    format::opt(r.ets_delta),
                    if tested {
                        format!("signed area {}", format::opt(r.signed_area))
                    } else {
                        "not tested by likelihood ratio".to_string()
                    }
                ),
            }
        })
        .collect();
    body.push_str(&group(&smalls, &theta, "flagged items"));
    body.push_str(&table(&flagged));
    body
}

fn table(rows: &[&DifRow]) -> String {
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            Row::new(vec![
                format!("<code>{}</code>", esc(&r.item_id)),
                esc(&r.focal_group),
                format!(
                    "{} / {}",
                    format::opt(r.n_focal),
                    format::opt(r.n_reference)
                ),
                format::opt(r.ets_delta),
                r.ets_class.as_deref().map_or("-".into(), esc),
                format::opt(r.mh_p_adjusted),
                format::opt(r.lr_x2),
                format::opt(r.lr_df),
                format::opt(r.lr_p_adjusted),
                format::opt(r.signed_area),
                format::opt(r.unsigned_area),
            ])
            .with_class("dif")
        })
        .collect();
    html::table(
        &[
            "item",
            "focal group",
            "answered (focal / reference)",
            "ETS Δ",
            "class",
            "MH p (BH)",
            "LR X²",
            "df",
            "LR p (BH)",
            "signed area",
            "unsigned area",
        ],
        &rows,
    )
}
