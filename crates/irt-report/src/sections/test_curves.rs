//! `test-curves`: the test characteristic curve, the test information and its standard error
//! of measurement over the population's range of θ.

use irt_core::ItemParams;

use super::chart_figure;
use crate::curves;
use crate::doc::{Report, Run};
use crate::format;
use crate::html::{self, Section};
use crate::plots::{Chart, NEW, STORED};

const SIZE: (u32, u32) = (380, 270);

/// Over how many times the smallest standard error the SE axis reaches: where the information
/// is near zero the SE runs off to infinity, and the axis must not follow it.
const SE_AXIS_RATIO: f64 = 10.0;

pub fn section(report: &Report, run: &Run) -> Section {
    let items: Vec<ItemParams> = report.items.iter().filter_map(|i| i.curve()).collect();
    let mut body = String::new();
    if items.is_empty() {
        body.push_str(&html::p(
            "No item of this run has parameters that give a curve, so there are no test curves.",
        ));
    } else {
        body.push_str(&axis_note(run, items.len(), report.items.len()));
        let theta = curves::theta_grid(run.latent());
        body.push_str(&charts(&items, &theta));
    }
    Section {
        id: "test-curves",
        title: "Test curves",
        body,
    }
}

fn axis_note(run: &Run, drawn: usize, all: usize) -> String {
    let left_out = match all - drawn {
        0 => String::new(),
        n => format!(
            " Left out: {} without parameters (excluded, or values that give no curve).",
            format::counted(n, "item", "items")
        ),
    };
    let axis = match run.latent() {
        Some(_) => "θ spans the latent mean ± 4 SD on the reported scale.",
        None => "The latent distribution is not recorded: θ spans ±4 around 0.",
    };
    html::p(&format!(
        "Over the {} with parameters. {axis}{left_out}",
        format::counted(drawn, "item", "items")
    ))
}

fn charts(items: &[ItemParams], theta: &[f64]) -> String {
    let x = curves::extent(theta);
    let tcc = Chart::new(SIZE, x.clone(), 0.0..items.len() as f64)
        .titled("θ", "expected score")
        .line(curves::test_characteristic(items, theta), NEW);
    let information = curves::test_information(items, theta);
    let info_max = information.iter().map(|p| p.1).fold(0.0, f64::max);
    let se = curves::standard_error(&information);
    let se_min = se.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let se_max = se.iter().map(|p| p.1).fold(0.0, f64::max);
    let se_top = se_max.min(SE_AXIS_RATIO * se_min) * 1.05;
    let info = Chart::new(SIZE, x.clone(), 0.0..info_max * 1.05)
        .titled("θ", "information I(θ)")
        .line(information, NEW);
    let se_chart = Chart::new(SIZE, x, 0.0..se_top)
        .titled("θ", "standard error 1/√I(θ)")
        .line(se, STORED);
    let se_caption = if se_max > se_top {
        format!(
            "Standard error of measurement; above {} it leaves the chart.",
            format::num(se_top)
        )
    } else {
        "Standard error of measurement.".to_string()
    };
    format!(
        "<div class=\"charts\">\n{}{}{}</div>\n",
        chart_figure(
            "chart",
            None,
            &tcc,
            "Test characteristic curve: the expected summed score."
        ),
        chart_figure("chart", None, &info, "Test information."),
        chart_figure("chart", None, &se_chart, &se_caption)
    )
}
