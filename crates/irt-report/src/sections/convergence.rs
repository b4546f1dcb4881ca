//! `convergence`: the log-likelihood at the start of every EM cycle.

use super::chart_figure;
use crate::doc::Run;
use crate::format;
use crate::html::{self, Section};
use crate::plots::{span, Chart, Marker, Points, NEW};

const SIZE: (u32, u32) = (620, 330);

/// Markers for each cycle while they stay apart; a longer trace is drawn as a line alone.
const MAX_MARKERS: usize = 100;

pub fn section(run: &Run) -> Section {
    let body = match run.em_trace() {
        None => html::p("The log-likelihood per EM cycle is not recorded for this run."),
        Some(trace) if trace.is_empty() => html::p("The recorded log-likelihood trace is empty."),
        Some(trace) => chart(trace),
    };
    Section {
        id: "convergence",
        title: "Convergence",
        body,
    }
}

fn chart(trace: Vec<(f64, f64)>) -> String {
    let cycles = trace.len();
    let (Some(x), Some(y)) = (
        span(trace.iter().map(|p| p.0), f64::MIN..f64::MAX),
        span(trace.iter().map(|p| p.1), f64::MIN..f64::MAX),
    ) else {
        return html::p("The recorded log-likelihood trace holds no numbers.");
    };
    let mut chart = Chart::new(SIZE, x, y).titled("EM cycle", "log-likelihood");
    if cycles <= MAX_MARKERS {
        chart.points = vec![Points {
            points: trace.clone(),
            marker: Marker::Dot,
            colour: NEW,
        }];
    }
    let chart = chart.line(trace, NEW);
    let caption = format!(
        "Log-likelihood at the start of each of {}.",
        format::counted(cycles, "EM cycle", "EM cycles")
    );
    chart_figure("chart", None, &chart, &caption)
}
