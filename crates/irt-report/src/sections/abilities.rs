//! `abilities`: the histogram of this run's abilities still in `mirt_ability`, against the
//! latent distribution the run estimated.

use super::chart_figure;
use crate::curves;
use crate::doc::{Abilities, Report, Run};
use crate::format;
use crate::html::{self, Section};
use crate::plots::{Chart, STORED};

const SIZE: (u32, u32) = (620, 330);

/// The most bins drawn; more would be a document, not a chart.
const MAX_BINS: usize = 400;

pub fn section(report: &Report, run: &Run) -> Section {
    let body = match &report.abilities {
        Some(abilities) if abilities.n.is_some_and(|n| n > 0.0) => histogram(abilities, run),
        _ => html::p(
            "No abilities of this run remain in <code>mirt_ability</code>: later runs have \
             scored its users again (each user keeps only the latest run's ability), or the run \
             scored none.",
        ),
    };
    Section {
        id: "abilities",
        title: "Abilities",
        body,
    }
}

fn histogram(abilities: &Abilities, run: &Run) -> String {
    let n = abilities.n.unwrap_or(0.0);
    let mut body = html::p(&format!(
        "{} abilities (EAP) of this run remain in <code>mirt_ability</code>; later runs replace \
         the abilities of the users they score. Mean {}, SD {}.",
        format::count(n),
        format::opt(abilities.mean),
        format::opt(abilities.sd)
    ));
    let bins = &abilities.bins[..abilities.bins.len().min(MAX_BINS)];
    if bins.is_empty() {
        body.push_str(&html::p("The document holds no histogram bins for them."));
        return body;
    }
    let x = bins.iter().map(|b| b.lo).fold(f64::INFINITY, f64::min)
        ..bins.iter().map(|b| b.hi).fold(f64::NEG_INFINITY, f64::max);
    let width = (x.end - x.start) / bins.len() as f64;
    // The density scaled to counts: n · bin width · φ.
    let density: Vec<(f64, f64)> = run.latent().map_or_else(Vec::new, |latent| {
        curves::grid(x.start, x.end)
            .into_iter()
            .map(|t| (t, n * width * latent.density(t)))
            .filter(|p| p.1.is_finite())
            .collect()
    });
    let top = bins
        .iter()
        .map(|b| b.count)
        .chain(density.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let mut chart = Chart::new(SIZE, x, 0.0..(top * 1.05).max(1.0))
        .titled("θ (EAP)", "users")
        .line(density, STORED);
    chart.bars = bins.iter().map(|b| (b.lo, b.hi, b.count)).collect();
    let caption = match run.latent() {
        Some(latent) => format!(
            "Bars: abilities per bin. Line: the estimated latent distribution N({}, {}), scaled \
             to counts.",
            format::num(latent.mean),
            format::num(latent.variance)
        ),
        None => "Bars: abilities per bin. The latent distribution is not recorded, so no \
                 density is drawn."
            .to_string(),
    };
    if abilities.bins.len() > MAX_BINS {
        body.push_str(&html::p(&format!(
            "Only the first {MAX_BINS} of {} bins are drawn.",
            abilities.bins.len()
        )));
    }
    body + &chart_figure("chart", None, &chart, &caption)
}
