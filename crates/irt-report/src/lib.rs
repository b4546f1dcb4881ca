//! The HTML report of one calibration run, shared by the extension (`mirt_report`) and the
//! `pg-irt report` command: both fetch the same JSON document and call [`render`].
//!
//! The page is one self-contained file: hand-written HTML and CSS around charts drawn by
//! plotters' SVG backend, no scripts and nothing fetched. Rendering reads the document
//! forgivingly (`doc`), says in words what is missing, and is deterministic: the same document
//! gives the same bytes.

mod curves;
mod doc;
mod format;
mod html;
mod plots;
mod sections;

use doc::Report;
use sections::{
    abilities, anchors, convergence, dif, failures, item_curves, linking, parameters, summary,
    test_curves, trends,
};

/// One self-contained HTML document (inline SVG and CSS, no scripts, no network) for the run
/// described by `doc` (the JSON the report query returns).
pub fn render(doc: &serde_json::Value) -> String {
    let report = Report::read(doc);
    let mut page = match &report.run {
        Some(run) => vec![
            summary::section(run),
            linking::section(run),
            test_curves::section(&report, run),
            item_curves::section(&report, run),
            parameters::section(&report),
            anchors::section(&report, run),
            dif::section(&report, run),
            trends::section(&report, run),
            abilities::section(&report, run),
            convergence::section(run),
        ],
        None => vec![summary::no_run(&report)],
    };
    // Failures show whenever there are any, with or without a run.
    if !report.failures.is_empty() {
        page.push(failures::section(&report.failures));
    }
    let title = match report.run.as_ref().and_then(|run| run.run_id.as_deref()) {
        Some(id) => format!("pg_irt calibration report: {id}"),
        None => "pg_irt calibration report".to_string(),
    };
    html::page(&title, &page)
}
