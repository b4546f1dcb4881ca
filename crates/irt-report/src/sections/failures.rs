//! `failures`: scheduled runs that failed after this run and so wrote nothing.

use super::text_or_missing;
use crate::doc::Failure;
use crate::format;
use crate::html::{self, esc, Row, Section};

pub fn section(failures: &[Failure]) -> Section {
    let rows: Vec<Row> = failures
        .iter()
        .map(|f| {
            Row::new(vec![
                text_or_missing(f.at.as_deref()),
                f.message.as_deref().map_or_else(
                    || "no message recorded".to_string(),
                    |m| format!("<code>{}</code>", esc(m)),
                ),
            ])
        })
        .collect();
    Section {
        id: "failures",
        title: "Failed runs",
        body: html::p(&format!(
            "{} (pg_cron) failed; a failed run rolls back and writes nothing, so only its error \
             remains.",
            format::counted(failures.len(), "scheduled run", "scheduled runs")
        )) + &html::table(&["At", "Message"], &rows),
    }
}
