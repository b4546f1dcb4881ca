//! Charts drawn by plotters' SVG backend into strings.
//!
//! One [`Chart`] describes any plot of the report: bars, lines and point markers on two linear
//! axes. Axes and ticks are drawn transparent (plotters would emit them as `<polyline>`s) and a
//! frame rectangle bounds the plot instead, so each line of a chart is exactly one
//! `<polyline>` of its SVG. Parts outside the axes' ranges are not drawn: plotters does not
//! clip paths to the plotting area.

use std::ops::Range;

use plotters::prelude::*;

use crate::format;

pub const NEW: RGBColor = RGBColor(31, 95, 191);
pub const STORED: RGBColor = RGBColor(232, 89, 12);
pub const FLAGGED: RGBColor = RGBColor(201, 42, 42);
pub const GUIDE: RGBColor = RGBColor(140, 140, 140);
pub const BAR: RGBColor = RGBColor(173, 198, 230);
const GRID: RGBColor = RGBColor(232, 232, 232);
const FRAME: RGBColor = RGBColor(150, 150, 150);

pub struct Line {
    pub points: Vec<(f64, f64)>,
    pub colour: RGBColor,
}

pub enum Marker {
    Dot,
    Cross,
}

pub struct Points {
    pub points: Vec<(f64, f64)>,
    pub marker: Marker,
    pub colour: RGBColor,
}

pub struct Chart {
    pub size: (u32, u32),
    pub x: Range<f64>,
    pub y: Range<f64>,
    /// Axis titles; empty for the small multiples, which have no room for them.
    pub x_desc: String,
    pub y_desc: String,
    /// Bars from x₀ to x₁ of a height.
    pub bars: Vec<(f64, f64, f64)>,
    pub lines: Vec<Line>,
    pub points: Vec<Points>,
}

impl Chart {
    pub fn new(size: (u32, u32), x: Range<f64>, y: Range<f64>) -> Self {
        Self {
            size,
            x,
            y,
            x_desc: String::new(),
            y_desc: String::new(),
            bars: Vec::new(),
            lines: Vec::new(),
            points: Vec::new(),
        }
    }

    pub fn titled(mut self, x_desc: &str, y_desc: &str) -> Self {
        self.x_desc = x_desc.to_string();
        self.y_desc = y_desc.to_string();
        self
    }

    pub fn line(mut self, points: Vec<(f64, f64)>, colour: RGBColor) -> Self {
        self.lines.push(Line { points, colour });
        self
    }

    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        self.x.start <= x && x <= self.x.end && self.y.start <= y && y <= self.y.end
    }

    /// The SVG, or why it could not be drawn.
    pub fn draw(&self) -> Result<String, String> {
        if !(usable(&self.x) && usable(&self.y)) {
            return Err("the axes have no usable range".to_string());
        }
        let mut svg = String::new();
        self.draw_into(&mut svg).map_err(|e| e.to_string())?;
        Ok(svg)
    }

    fn draw_into(&self, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
        let small = self.x_desc.is_empty() && self.y_desc.is_empty();
        let root = SVGBackend::with_string(svg, self.size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(if small { 18 } else { 40 })
            .y_label_area_size(if small { 30 } else { 62 })
            .build_cartesian_2d(self.x.clone(), self.y.clone())?;
        chart
            .configure_mesh()
            .x_labels(if small { 5 } else { 9 })
            .y_labels(if small { 3 } else { 6 })
            .x_label_formatter(&|v| tick(*v, &self.x))
            .y_label_formatter(&|v| tick(*v, &self.y))
            .axis_style(TRANSPARENT)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .label_style(("sans-serif", if small { 12 } else { 14 }))
            .axis_desc_style(("sans-serif", 15))
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .draw()?;

        let clamp_x = |x: f64| x.clamp(self.x.start, self.x.end);
        let clamp_y = |y: f64| y.clamp(self.y.start, self.y.end);
        chart.draw_series(self.bars.iter().map(|&(x0, x1, h)| {
            Rectangle::new(
                [(clamp_x(x0), clamp_y(0.0)), (clamp_x(x1), clamp_y(h))],
                BAR.filled(),
            )
        }))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(self.x.start, self.y.start), (self.x.end, self.y.end)],
            FRAME,
        )))?;
        for line in &self.lines {
            for run in self.runs_inside(&line.points) {
                chart.draw_series(LineSeries::new(run, line.colour.stroke_width(2)))?;
            }
        }
        for group in &self.points {
            let inside = group.points.iter().copied().filter(|&p| self.contains(p));
            match group.marker {
                Marker::Dot => {
                    chart.draw_series(inside.map(|p| Circle::new(p, 3, group.colour.filled())))?
                }
                Marker::Cross => chart
                    .draw_series(inside.map(|p| Cross::new(p, 4, group.colour.stroke_width(2))))?,
            };
        }
        root.present()?;
        Ok(())
    }

    /// The stretches of a line that lie inside the axes (one for a line wholly inside).
    fn runs_inside(&self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &p in points {
            if self.contains(p) {
                if let Some(run) = runs.last_mut() {
                    run.push(p);
                }
            } else if runs.last().is_some_and(|run| !run.is_empty()) {
                runs.push(Vec::new());
            }
        }
        runs.retain(|run| run.len() >= 2);
        runs
    }
}

/// Narrower than this, relative to the magnitude of its ends, a range is not drawn: plotters
/// places its tick labels by dividing the width down, and on a width lost in rounding (zero,
/// or the last bits of a large number) that never ends.
const MIN_RELATIVE_WIDTH: f64 = 1e-9;

fn usable(range: &Range<f64>) -> bool {
    let width = range.end - range.start;
    width.is_finite() && width > MIN_RELATIVE_WIDTH * range.start.abs().max(range.end.abs())
}

/// A tick label. Ticks are computed in floating point, so the one at zero can come out as
/// 5.55e-17; anything that close to zero for its axis is 0.
fn tick(v: f64, axis: &Range<f64>) -> String {
    if v.abs() < 1e-9 * (axis.end - axis.start) {
        "0".to_string()
    } else {
        format::num(v)
    }
}

/// An axis range holding the finite `values` that lie within `limit`, padded by 5 %: a chart's
/// range follows its data but an outlier (an item with a huge |b|) cannot squash it. Values
/// (nearly) equal get a range around them. `None` when no value lies within the limit.
pub fn span(values: impl IntoIterator<Item = f64>, limit: Range<f64>) -> Option<Range<f64>> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && limit.start <= *v && *v <= limit.end)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    let pad = if usable(&(lo..hi)) {
        0.05 * (hi - lo)
    } else {
        0.5_f64.max(0.05 * hi.abs())
    };
    Some(lo - pad..hi + pad).filter(usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_one_polyline() {
        let svg = Chart::new((200, 150), 0.0..1.0, 0.0..1.0)
            .line(vec![(0.0, 0.0), (0.5, 0.4), (1.0, 1.0)], NEW)
            .draw()
            .unwrap();
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.starts_with("<svg"));
    }

    #[test]
    fn a_line_leaving_the_axes_is_cut_there() {
        let chart = Chart::new((200, 150), 0.0..4.0, 0.0..1.0);
        let runs = chart.runs_inside(&[(0.0, 0.1), (1.0, 0.2), (2.0, 5.0), (3.0, 0.3), (4.0, 0.4)]);
        assert_eq!(
            runs,
            vec![vec![(0.0, 0.1), (1.0, 0.2)], vec![(3.0, 0.3), (4.0, 0.4)]]
        );
    }

    #[test]
    fn a_tick_next_to_zero_is_zero() {
        assert_eq!(tick(-5.55e-17, &(-0.5..0.5)), "0");
        assert_eq!(tick(1e-12, &(0.0..1e-9)), "1.00e-12");
    }

    #[test]
    fn spans_ignore_outliers_and_widen_a_single_value() {
        assert_eq!(span([1.0, 2.0, 1e9], -10.0..10.0), Some(0.95..2.05));
        assert_eq!(span([3.0], -10.0..10.0), Some(2.5..3.5));
        assert_eq!(span([f64::NAN], -10.0..10.0), None);
    }

    #[test]
    fn spans_of_values_equal_but_for_rounding_are_widened() {
        let v = -654642.9;
        let range = span([v, v + 1e-10], f64::MIN..f64::MAX).unwrap();
        assert!(range.start < v && v < range.end && range.end - range.start > 1.0);
        assert_eq!(span([-1e308, 1e308], f64::MIN..f64::MAX), None);
    }

    #[test]
    fn a_range_too_narrow_to_label_is_an_error_not_a_hang() {
        for x in [
            1.0..1.0,
            1e6..1e6 + 1e-10,
            f64::MIN..f64::MAX,
            0.0..f64::INFINITY,
        ] {
            assert!(Chart::new((200, 150), x, 0.0..1.0).draw().is_err());
        }
    }
}
