//! Which items join the anchors and which leave them, from their last runs: a new item that has
//! been `ok`, well measured and stable is promoted (its parameters become the bank's), an anchor
//! that every one of its last screenings flagged is retired (it stops anchoring).
//!
//! Promotion asks, of the item's last `stable_runs` runs up to the run judged (the run judged
//! among them: an item that run did not calibrate is not judged on older numbers):
//! - every one gave it the status `ok` (so no drift, DIF, trend, misfit or low discrimination);
//! - the run judged saw at least `min_responses` answers and an SE of b at most `max_se_b`;
//! - each earlier run's b is within the larger of the two runs' SEs of the judged run's b (the
//!   estimates agree to their own precision; a slow drift is the trend's to catch).
//!
//! Retirement asks that the anchor's status was `drifted` (flagged by the screening, or held
//! out for an earlier flag) in each of its last `retire_after` runs up to the run judged.

use crate::error::{CoreError, Result};

/// The rules, each with a default as `mirt_promote` takes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    pub min_responses: u64,
    pub max_se_b: f64,
    pub stable_runs: usize,
    pub retire_after: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_responses: 500,
            max_se_b: 0.2,
            stable_runs: 3,
            retire_after: 3,
        }
    }
}

impl Rules {
    /// The rules from a caller's numbers, checked.
    pub fn new(
        min_responses: i64,
        max_se_b: f64,
        stable_runs: i32,
        retire_after: i32,
    ) -> Result<Self> {
        let bad = |message: String| Err(CoreError::InvalidArgument { message });
        if min_responses < 1 {
            return bad(format!(
                "min_responses must be at least 1, got {min_responses}"
            ));
        }
        if !(max_se_b.is_finite() && max_se_b > 0.0) {
            return bad(format!(
                "max_se_b must be a positive number, got {max_se_b}"
            ));
        }
        for (name, runs) in [("stable_runs", stable_runs), ("retire_after", retire_after)] {
            if !(1..=MAX_RUNS).contains(&runs) {
                return bad(format!(
                    "{name} must be between 1 and {MAX_RUNS}, got {runs}"
                ));
            }
        }
        Ok(Self {
            min_responses: min_responses as u64,
            max_se_b,
            stable_runs: stable_runs as usize,
            retire_after: retire_after as usize,
        })
    }

    /// How many of an item's latest runs the rules read.
    pub fn runs_read(&self) -> usize {
        self.stable_runs.max(self.retire_after)
    }
}

/// The most runs a rule may ask for.
pub const MAX_RUNS: i32 = 365;

/// One run of an item, as its rows say.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemRun {
    pub run_id: String,
    pub status: String,
    /// b and its SE where the run calibrated the item.
    pub b: Option<f64>,
    pub se_b: Option<f64>,
    pub answers: u64,
}

/// An item of the bank and its latest runs up to the run judged, latest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemHistory {
    pub item_id: String,
    pub anchor: bool,
    pub runs: Vec<ItemRun>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Promote,
    Retire,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::Retire => "retire",
        }
    }
}

/// What to do with one item, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub item_id: String,
    pub action: Action,
    pub reason: String,
}

/// The proposals for `items` judged at run `run_id`, in the items' order.
pub fn propose(items: &[ItemHistory], run_id: &str, rules: &Rules) -> Vec<Proposal> {
    items
        .iter()
        .filter(|item| item.runs.first().is_some_and(|r| r.run_id == run_id))
        .filter_map(|item| {
            let (action, reason) = if item.anchor {
                (Action::Retire, retire(item, rules)?)
            } else {
                (Action::Promote, promote(item, rules)?)
            };
            Some(Proposal {
                item_id: item.item_id.clone(),
                action,
                reason,
            })
        })
        .collect()
}

fn promote(item: &ItemHistory, rules: &Rules) -> Option<String> {
    let runs = item.runs.get(..rules.stable_runs)?;
    let judged = &runs[0];
    if runs.iter().any(|r| r.status != "ok") || judged.answers < rules.min_responses {
        return None;
    }
    let (b, se) = (judged.b?, judged.se_b?);
    if se > rules.max_se_b {
        return None;
    }
    let mut widest = 0.0f64;
    for r in &runs[1..] {
        let (b_r, se_r) = (r.b?, r.se_b?);
        let apart = (b_r - b).abs();
        if apart > se.max(se_r) {
            return None;
        }
        widest = widest.max(apart);
    }
    Some(format!(
        "ok in its last {} runs; {} answers, b {b:.3} with SE {se:.3}; b moved at most {widest:.3}",
        rules.stable_runs, judged.answers
    ))
}

fn retire(item: &ItemHistory, rules: &Rules) -> Option<String> {
    let runs = item.runs.get(..rules.retire_after)?;
    runs.iter().all(|r| r.status == "drifted").then(|| {
        format!(
            "drifted in each of its last {} runs ({} to {})",
            rules.retire_after,
            runs[runs.len() - 1].run_id,
            runs[0].run_id
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, status: &str, b: f64, se: f64, answers: u64) -> ItemRun {
        ItemRun {
            run_id: id.into(),
            status: status.into(),
            b: Some(b),
            se_b: Some(se),
            answers,
        }
    }

    fn item(anchor: bool, runs: Vec<ItemRun>) -> ItemHistory {
        ItemHistory {
            item_id: "7".into(),
            anchor,
            runs,
        }
    }

    fn stable() -> Vec<ItemRun> {
        vec![
            run("r3", "ok", 0.50, 0.10, 800),
            run("r2", "ok", 0.45, 0.11, 780),
            run("r1", "ok", 0.58, 0.10, 760),
        ]
    }

    #[test]
    fn an_ok_well_measured_stable_item_is_promoted() {
        let rules = Rules::default();
        let p = propose(&[item(false, stable())], "r3", &rules);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].action, Action::Promote);
        assert!(p[0].reason.contains("800 answers"), "{}", p[0].reason);
        // Not judged on a run that did not calibrate it.
        assert!(propose(&[item(false, stable())], "r4", &rules).is_empty());
    }

    #[test]
    fn each_rule_can_keep_an_item_new() {
        let rules = Rules::default();
        let keeps = |runs: Vec<ItemRun>| propose(&[item(false, runs)], "r3", &rules).is_empty();
        let mut r = stable();
        r[2].status = "misfit".into();
        assert!(keeps(r), "not ok in one run");
        let mut r = stable();
        r[0].answers = 499;
        assert!(keeps(r), "too few answers");
        let mut r = stable();
        r[0].se_b = Some(0.21);
        assert!(keeps(r), "measured too poorly");
        let mut r = stable();
        r[2].b = Some(0.62);
        assert!(keeps(r), "moved beyond its SEs");
        assert!(keeps(stable()[..2].to_vec()), "too few runs");
        let mut r = stable();
        r[1].se_b = None;
        assert!(keeps(r), "an SE missing");
    }

    #[test]
    fn an_anchor_drifted_in_each_of_its_last_runs_is_retired() {
        let rules = Rules::default();
        let drifted = |statuses: [&str; 3]| {
            let runs = statuses
                .iter()
                .zip(["r3", "r2", "r1"])
                .map(|(s, id)| run(id, s, 0.0, 0.1, 900))
                .collect();
            propose(&[item(true, runs)], "r3", &rules)
        };
        let p = drifted(["drifted"; 3]);
        assert_eq!(p[0].action, Action::Retire);
        assert_eq!(p[0].reason, "drifted in each of its last 3 runs (r1 to r3)");
        assert!(drifted(["drifted", "ok", "drifted"]).is_empty());
    }

    #[test]
    fn rules_out_of_range_are_refused() {
        assert!(Rules::new(0, 0.2, 3, 3).is_err());
        assert!(Rules::new(500, f64::NAN, 3, 3).is_err());
        assert!(Rules::new(500, 0.2, 0, 3).is_err());
        assert!(Rules::new(500, 0.2, 3, 366).is_err());
        assert_eq!(Rules::new(500, 0.2, 3, 3).unwrap(), Rules::default());
    }
}
