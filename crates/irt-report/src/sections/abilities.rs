//! `abilities`: the histogram of this run's abilities still in `mirt_ability`, against the
//! latent distribution the run estimated (with groups: their mixture, and each group's share).

use super::chart_figure;
use crate::curves;
use crate::doc::{Abilities, GroupLatent, Report, Run};
use crate::format;
use crate::html::{self, Section};
use crate::plots::{Chart, FLAGGED, GUIDE, NEW, STORED};

const SIZE: (u32, u32) = (620, 330);

/// The most bins drawn; more would be a document, not a chart.
const MAX_BINS: usize = 400;

/// Each group's line, in the order of the groups (the reference first), and their names in the
/// caption.
const GROUP_COLOURS: [(plotters::style::RGBColor, &str); 3] =
    [(NEW, "blue"), (FLAGGED, "red"), (GUIDE, "grey")];

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
    // The densities scaled to counts: n · bin width · φ, a group's by its share of the persons.
    let groups = run.groups();
    let persons: f64 = groups.iter().map(|g| g.persons).sum();
    let scaled = |share: f64, density: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        curves::grid(x.start, x.end)
            .into_iter()
            .map(|t| (t, n * width * share * density(t)))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let group_lines: Vec<Vec<(f64, f64)>> = groups
        .iter()
        .map(|g| scaled(g.persons / persons, &|t| g.latent.density(t)))
        .collect();
    let density: Vec<(f64, f64)> = if groups.len() > 1 {
        let mixture = |t: f64| {
            groups
                .iter()
                .map(|g| g.persons / persons * g.latent.density(t))
                .sum()
        };
        scaled(1.0, &mixture)
    } else {
        run.latent()
            .map_or_else(Vec::new, |latent| scaled(1.0, &|t| latent.density(t)))
    };
    let top = bins
        .iter()
        .map(|b| b.count)
        .chain(density.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let mut chart = Chart::new(SIZE, x, 0.0..(top * 1.05).max(1.0))
        .titled("θ (EAP)", "users")
        .line(density, STORED);
    if groups.len() > 1 {
        for (line, (colour, _)) in group_lines.into_iter().zip(GROUP_COLOURS.iter().cycle()) {
            chart = chart.line(line, *colour);
        }
    }
    chart.bars = bins.iter().map(|b| (b.lo, b.hi, b.count)).collect();
    let caption = if groups.len() > 1 {
        format!(
            "Bars: abilities per bin. Orange: the estimated latent distribution, the mixture of \
             the groups' in proportion to their persons, scaled to counts; each group's share: {}.",
            group_legend(&groups)
        )
    } else {
        match run.latent() {
            Some(latent) => format!(
                "Bars: abilities per bin. Line: the estimated latent distribution N({}, {}), \
                 scaled to counts.",
                format::num(latent.mean),
                format::num(latent.variance)
            ),
            None => "Bars: abilities per bin. The latent distribution is not recorded, so no \
                     density is drawn."
                .to_string(),
        }
    };
    if abilities.bins.len() > MAX_BINS {
        body.push_str(&html::p(&format!(
            "Only the first {MAX_BINS} of {} bins are drawn.",
            abilities.bins.len()
        )));
    }
    body + &chart_figure("chart", None, &chart, &caption)
}

/// "blue: ref N(0, 1), 1,500 persons; red: …", the groups in the order of their lines.
fn group_legend(groups: &[GroupLatent]) -> String {
    groups
        .iter()
        .zip(GROUP_COLOURS.iter().cycle())
        .map(|(g, (_, colour))| {
            format!(
                "{colour}: {} N({}, {}), {} persons",
                html::esc(&g.name),
                format::num(g.latent.mean),
                format::num(g.latent.variance),
                format::count(g.persons)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
