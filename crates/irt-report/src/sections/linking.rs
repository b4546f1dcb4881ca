//! `linking`: how the run was put on the anchors' scale, the constants with their uncertainty,
//! and what they mean.

use super::text_or_missing;
use crate::doc::{num, text, Run};
use crate::format;
use crate::html::{self, esc, Row, Section};

/// The two-sided 95 % normal quantile.
const Z_95: f64 = 1.959964;

pub fn section(run: &Run) -> Section {
    let spec = run.spec;
    let method = text(&spec["linking_method"]);
    let mut body = html::p(&format!(
        "Linking method: <code>{}</code>.",
        text_or_missing(method.as_deref())
    ));
    let constants = &spec["linking_constants"];
    match (num(&constants["slope"]), num(&constants["intercept"])) {
        (Some(slope), Some(intercept)) => {
            let (slope_se, intercept_se) =
                (num(&constants["slope_se"]), num(&constants["intercept_se"]));
            body.push_str(&html::table(
                &["Constant", "Estimate", "SE", "95 % interval"],
                &[
                    constant_row("slope A", slope, slope_se),
                    constant_row("intercept B", intercept, intercept_se),
                ],
            ));
            if slope_se.is_none() || intercept_se.is_none() {
                body.push_str(&html::p(
                    "There are no standard errors of the linking constants (standard errors were \
                     skipped or could not be computed), so there is no interval.",
                ));
            }
            body.push_str(&html::p(&format!(
                "θ on the anchors' scale = A·θ + B = {}·θ {} {}: a = a₀/A, b = A·b₀ + B for the \
                 calibration's own a₀, b₀; c is unchanged. Every parameter, ability and curve in \
                 this report is on the anchors' scale.",
                format::num(slope),
                if intercept < 0.0 { "−" } else { "+" },
                format::num(intercept.abs())
            )));
            if method.as_deref() == Some("fixed") {
                body.push_str(&html::p(
                    "With fixed anchors the anchors were held at their stored values; the \
                     constants are the estimated latent SD (A) and mean (B).",
                ));
            }
        }
        _ if method.as_deref().is_some_and(|m| m != "none") => {
            body.push_str(&html::p(&format!(
                "No linking constants are recorded although the method is <code>{}</code>.",
                esc(method.as_deref().unwrap_or_default())
            )));
        }
        _ => body.push_str(&html::p(
            "This run has no anchors: the scale is the calibration's own, N(0, 1) for its \
             sample, so θ and b are not on the scale of other runs.",
        )),
    }
    body.push_str(&html::p(&match run.latent() {
        Some(latent) => format!(
            "Latent distribution on the reported scale: N({}, {}) (mean, variance).",
            format::num(latent.mean),
            format::num(latent.variance)
        ),
        None => "The latent distribution on the reported scale is not recorded.".to_string(),
    }));
    Section {
        id: "linking",
        title: "Linking",
        body,
    }
}

fn constant_row(name: &str, estimate: f64, se: Option<f64>) -> Row {
    let interval = se.map_or_else(
        || format::MISSING.to_string(),
        |se| {
            format!(
                "[{}, {}]",
                format::num(estimate - Z_95 * se),
                format::num(estimate + Z_95 * se)
            )
        },
    );
    Row::new(vec![
        esc(name),
        format::num(estimate),
        format::opt(se),
        interval,
    ])
}
