//! `summary`: what the run was, how it went, and every setting and metric it recorded; or, when
//! there is no run, why.

use serde_json::Value;

use super::{text_or_missing, NOT_RECORDED};
use crate::doc::{num, text, Report, Run};
use crate::format;
use crate::html::{self, esc, Row, Section};

const ID: &str = "summary";
const TITLE: &str = "Summary";

/// model_spec keys shown here or in another section; any other key is listed as it is.
const KNOWN_SPEC: [&str; 23] = [
    "model",
    "n_items",
    "n_users",
    "n_anchors",
    "n_observations",
    "linking_method",
    "linking_constants",
    "latent",
    "priors",
    "algorithm",
    "window",
    "lookback_days",
    "source",
    "items",
    "threads",
    "tolerance",
    "quadrature",
    "written_by",
    "extension_version",
    "excluded_items",
    "anchors_used",
    "anchor_drift",
    "skipped_rows",
];

const KNOWN_METRICS: [&str; 14] = [
    "ms",
    "loglik",
    "aic",
    "bic",
    "n_params",
    "converged",
    "em_cycles",
    "max_change",
    "se_status",
    "item_status",
    "s_x2_skipped",
    "anchors_flagged",
    "persons_zh_below_-1.96",
    "em_trace",
];

/// Phases in pipeline order; others recorded follow.
const PHASES: [&str; 8] = [
    "load", "fit", "link", "score", "dif", "item_fit", "write", "total",
];

/// Statuses in the order of the gates; others recorded follow.
const STATUSES: [&str; 6] = [
    "ok",
    "misfit",
    "low_discrimination",
    "drifted",
    "dif",
    "excluded",
];

/// The page's first section when there is no run to show.
pub fn no_run(report: &Report) -> Section {
    let what = if !report.is_object {
        "The report document is not a JSON object, so there is no run to show.".to_string()
    } else {
        match &report.requested {
            Some(id) => format!(
                "There is no run with id <code>{}</code> in <code>mirt_fit_meta</code>.",
                esc(id)
            ),
            None => "There is no run yet: <code>mirt_fit_meta</code> is empty.".to_string(),
        }
    };
    let failures = if report.failures.is_empty() {
        "No failed scheduled run is recorded either."
    } else {
        "The failed scheduled runs below are what is known of runs that did not finish."
    };
    Section {
        id: ID,
        title: TITLE,
        body: html::warning(&what)
            + &html::p(
                "A run that fails writes nothing: its transaction rolls back, so it leaves no row \
                 in <code>mirt_fit_meta</code> and the items, abilities and fit of the previous \
                 run stay as they were.",
            )
            + &html::p(failures),
    }
}

pub fn section(run: &Run) -> Section {
    let spec = run.spec;
    let metrics = run.metrics;
    let mut body = String::new();
    match run.status.as_deref() {
        Some("succeeded") => {}
        Some("not_converged") => body.push_str(&html::warning(&format!(
            "This run did not converge: EM stopped while its parameters still moved (EM cycles: \
             {}, largest last change: {}). Its estimates were written; treat them with care.",
            opt_count(&metrics["em_cycles"]),
            format::opt(num(&metrics["max_change"]))
        ))),
        Some(other) => body.push_str(&html::warning(&format!(
            "This run's status is <code>{}</code>, which this report does not know.",
            esc(other)
        ))),
        None => body.push_str(&html::warning("This run's status is not recorded.")),
    }
    if !spec.is_object() {
        body.push_str(&html::p(
            "The run's <code>model_spec</code> is not recorded: its model, counts and settings \
             are unknown.",
        ));
    }
    if !metrics.is_object() {
        body.push_str(&html::p(
            "The run's <code>metrics</code> are not recorded: its fit, timings and statuses are \
             unknown.",
        ));
    }

    let field = |v: &Value| text_or_missing(text(v).as_deref());
    let written_by = match (text(&spec["written_by"]), text(&spec["extension_version"])) {
        (Some(by), Some(version)) => format!("{} {}", esc(&by), esc(&version)),
        (Some(by), None) => format!("{} (version not recorded)", esc(&by)),
        (None, _) => NOT_RECORDED.to_string(),
    };
    body.push_str(&html::facts(&[
        ("Run", text_or_missing(run.run_id.as_deref())),
        ("Status", text_or_missing(run.status.as_deref())),
        ("Fitted at", text_or_missing(run.fitted_at.as_deref())),
        ("Written by", written_by),
        ("Model", field(&spec["model"])),
        ("Items", opt_count(&spec["n_items"])),
        ("Users", opt_count(&spec["n_users"])),
        ("Anchors", opt_count(&spec["n_anchors"])),
        ("Observations", opt_count(&spec["n_observations"])),
        ("Window", window(spec)),
        ("Source", field(&spec["source"])),
        ("Items relation", field(&spec["items"])),
        ("Algorithm", field(&spec["algorithm"])),
        ("Priors", field(&spec["priors"])),
        ("Tolerance", opt_json(&spec["tolerance"])),
        ("Quadrature", quadrature(&spec["quadrature"])),
        ("Threads", opt_count(&spec["threads"])),
        ("Linking", field(&spec["linking_method"])),
        ("Anchor drift", opt_json(&spec["anchor_drift"])),
        ("Excluded items", excluded(&spec["excluded_items"])),
        ("Skipped rows", opt_json(&spec["skipped_rows"])),
    ]));
    body.push_str(&others("Other recorded settings", spec, &KNOWN_SPEC));

    body.push_str("<h3>Fit</h3>\n");
    body.push_str(&html::facts(&[
        ("Converged", convergence(metrics)),
        ("Log-likelihood", opt_fixed(&metrics["loglik"], 1)),
        ("AIC", opt_fixed(&metrics["aic"], 1)),
        ("BIC", opt_fixed(&metrics["bic"], 1)),
        ("Parameters", opt_count(&metrics["n_params"])),
        ("Standard errors", standard_errors(&metrics["se_status"])),
        ("Item status", item_status(&metrics["item_status"])),
        ("Anchors flagged", opt_count(&metrics["anchors_flagged"])),
        (
            "Persons with Zh below −1.96",
            opt_count(&metrics["persons_zh_below_-1.96"]),
        ),
        ("S-X2", s_x2(&metrics["s_x2_skipped"])),
    ]));
    body.push_str(&others("Other recorded metrics", metrics, &KNOWN_METRICS));

    body.push_str("<h3>Time per phase</h3>\n");
    body.push_str(&timings(&metrics["ms"]));
    Section {
        id: ID,
        title: TITLE,
        body,
    }
}

fn opt_count(v: &Value) -> String {
    num(v).map_or_else(|| NOT_RECORDED.to_string(), format::count)
}

fn opt_fixed(v: &Value, decimals: usize) -> String {
    num(v).map_or_else(|| NOT_RECORDED.to_string(), |x| format::fixed(x, decimals))
}

fn opt_json(v: &Value) -> String {
    if v.is_null() {
        NOT_RECORDED.to_string()
    } else {
        esc(&format::json(v))
    }
}

fn window(spec: &Value) -> String {
    let w = &spec["window"];
    let range = match (text(&w["start"]), text(&w["end"])) {
        (Some(start), Some(end)) => format!("{} to {}", esc(&start), esc(&end)),
        _ => opt_json(w),
    };
    match num(&spec["lookback_days"]) {
        Some(days) => format!("{range} (lookback {} days)", format::count(days)),
        None => range,
    }
}

fn quadrature(v: &Value) -> String {
    match (num(&v["points"]), num(&v["range"][0]), num(&v["range"][1])) {
        (Some(points), Some(lo), Some(hi)) => format!(
            "{} points on [{}, {}]",
            format::count(points),
            format::num(lo),
            format::num(hi)
        ),
        _ => opt_json(v),
    }
}

/// The excluded items with their reasons, however each entry is shaped.
fn excluded(v: &Value) -> String {
    let Some(entries) = v.as_array() else {
        return opt_json(v);
    };
    if entries.is_empty() {
        return "none".to_string();
    }
    const SHOWN: usize = 50;
    let mut parts: Vec<String> = entries
        .iter()
        .take(SHOWN)
        .map(|e| match (text(&e["item_id"]), text(&e["reason"])) {
            (Some(id), Some(reason)) => format!("<code>{}</code> ({})", esc(&id), esc(&reason)),
            (Some(id), None) => format!("<code>{}</code>", esc(&id)),
            _ => esc(&format::json(e)),
        })
        .collect();
    if entries.len() > SHOWN {
        parts.push(format!("and {} more", entries.len() - SHOWN));
    }
    format!(
        "{}: {}",
        format::count(entries.len() as f64),
        parts.join(", ")
    )
}

fn convergence(metrics: &Value) -> String {
    let cycles = opt_count(&metrics["em_cycles"]);
    let change = format::opt(num(&metrics["max_change"]));
    match metrics["converged"].as_bool() {
        Some(true) => format!("yes, after {cycles} EM cycles (largest last change {change})"),
        Some(false) => format!("no: {cycles} EM cycles, largest last change {change}"),
        None => NOT_RECORDED.to_string(),
    }
}

fn standard_errors(v: &Value) -> String {
    match text(v).as_deref() {
        Some("ok") => "ok".to_string(),
        Some("not_positive_definite") => "no standard errors: the information matrix was not \
                                          positive definite where the estimates ended"
            .to_string(),
        Some("skipped") => "no standard errors: none were asked for".to_string(),
        Some(other) => esc(other),
        None => NOT_RECORDED.to_string(),
    }
}

fn item_status(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return NOT_RECORDED.to_string();
    };
    let known = STATUSES.iter().filter_map(|s| map.get_key_value(*s));
    let others = map.iter().filter(|(k, _)| !STATUSES.contains(&k.as_str()));
    known
        .chain(others)
        .map(|(k, v)| format!("{} {}", opt_count(v), esc(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn s_x2(v: &Value) -> String {
    match text(v) {
        Some(why) => format!("skipped: {}", esc(&why)),
        None => "no skip recorded".to_string(),
    }
}

/// The keys of `v` not in `known`, each with its value as text.
fn others(title: &str, v: &Value, known: &[&str]) -> String {
    let Some(map) = v.as_object() else {
        return String::new();
    };
    let rows: Vec<Row> = map
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| Row::new(vec![esc(k), esc(&format::json(v))]))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h3>{}</h3>\n{}",
        esc(title),
        html::table(&["Key", "Value"], &rows)
    )
}

fn timings(ms: &Value) -> String {
    let Some(map) = ms.as_object() else {
        return html::p("Timings are not recorded for this run.");
    };
    let known = PHASES.iter().filter_map(|p| map.get_key_value(*p));
    let others = map.iter().filter(|(k, _)| !PHASES.contains(&k.as_str()));
    let rows: Vec<Row> = known
        .chain(others)
        .map(|(phase, v)| {
            Row::new(vec![
                esc(phase),
                num(v).map_or_else(|| format::MISSING.to_string(), |x| format::fixed(x, 1)),
            ])
        })
        .collect();
    html::table(&["Phase", "Milliseconds"], &rows)
}
