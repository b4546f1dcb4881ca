//! The report's sections, one module each, in the order of the page.

pub mod abilities;
pub mod anchors;
pub mod convergence;
pub mod dif;
pub mod failures;
pub mod item_curves;
pub mod linking;
pub mod parameters;
pub mod summary;
pub mod test_curves;
pub mod trends;

use crate::html;
use crate::plots::Chart;

/// Said of any value the document does not hold.
const NOT_RECORDED: &str = "<span class=\"missing\">not recorded</span>";

/// Escaped text, or "not recorded".
fn text_or_missing(text: Option<&str>) -> String {
    text.map_or_else(|| NOT_RECORDED.to_string(), html::esc)
}

/// A chart with its caption, or a sentence saying why it could not be drawn.
fn chart_figure(class: &str, item: Option<&str>, chart: &Chart, caption: &str) -> String {
    match chart.draw() {
        Ok(svg) => html::figure(class, item, &svg, caption),
        Err(why) => html::p(&format!(
            "A chart could not be drawn ({}): {caption}",
            html::esc(&why)
        )),
    }
}
