//! The item bank's known parameters, as both front ends read them from `meta`: anchors (tagged
//! "anchor", parameters in `meta->'irt'`) and the stored parameters of other items, which are
//! start values. An anchor whose parameters break the rule of `ItemParams::given` is left out
//! with a warning; one listed twice is used once, or left out when its copies disagree.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{ItemParams, RunModel, Steps, MAX_CATEGORIES};

/// One row of the bank, as read: the id, whether the item is tagged "anchor", and its
/// `meta->'irt'` where present.
pub struct BankRow {
    pub id: String,
    pub anchor: bool,
    pub irt: Option<Value>,
}

/// Known parameters from the item bank.
#[derive(Clone, Debug, Default)]
pub struct Bank {
    /// Anchors by id, in id order, each once.
    pub anchors: Vec<(String, ItemParams)>,
    /// Standard errors of an anchor's stored a and b, by id, where `meta->'irt'` records them
    /// (`se_a`, `se_b`, as `mirt_item_params.params` writes them): the drift screening adds
    /// their uncertainty to the answers'.
    pub anchor_se: HashMap<String, [f64; 2]>,
    pub starts: HashMap<String, ItemParams>,
    /// Items' declared numbers of categories (`meta->'irt'->'categories'`), by id.
    pub categories: HashMap<String, usize>,
    /// Items' own models (`meta->'irt'->'model'`), by id.
    pub models: HashMap<String, RunModel>,
    /// Anchors the last screening run flagged as drifted, by id: that run's id and the stored
    /// parameters it flagged.
    pub flagged: HashMap<String, (String, ItemParams)>,
}

impl Bank {
    /// Records that run `run` flagged anchor `id` while it had the stored (a, b, c): a row of
    /// the store's `flagged_anchors`.
    pub fn flagged_in(&mut self, id: String, run: String, a: f64, b: f64, c: f64) {
        self.flagged
            .insert(id, (run, ItemParams::from_irt(a, b, c)));
    }

    /// The run that flagged this anchor while it had these stored parameters, if one did: such
    /// an anchor stays out of the link until someone updates its stored parameters (after
    /// review) or removes its tag.
    pub fn flagged_by(&self, id: &str, stored: &ItemParams) -> Option<&str> {
        let (run, flagged) = self.flagged.get(id)?;
        let same = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
        (same(flagged.slope(), stored.slope())
            && same(flagged.b(), stored.b())
            && same(flagged.guessing(), stored.guessing()))
        .then_some(run.as_str())
    }
}

impl Bank {
    /// From rows ordered by id; `warn` hears of every anchor left out and why (`relation`
    /// names the bank in those words).
    pub fn from_rows(
        rows: impl IntoIterator<Item = BankRow>,
        relation: &str,
        mut warn: impl FnMut(String),
    ) -> Self {
        let mut bank = Self::default();
        let mut conflicting: Option<String> = None;
        for BankRow { id, anchor, irt } in rows {
            if let Some(named) = irt.as_ref().and_then(|v| v.get("model")) {
                match named.as_str().and_then(RunModel::find) {
                    Some(model) => {
                        bank.models.insert(id.clone(), model);
                    }
                    None => warn(format!(
                        "item {id}: meta->'irt'->'model' must name one of {}, got {named}; ignored",
                        RunModel::ALL.map(RunModel::name).join(", ")
                    )),
                }
            }
            if let Some(declared) = irt.as_ref().and_then(|v| v.get("categories")) {
                match declared.as_u64().filter(|k| (2..=MAX_CATEGORIES as u64).contains(k)) {
                    Some(k) => {
                        bank.categories.insert(id.clone(), k as usize);
                    }
                    None => warn(format!(
                        "item {id}: meta->'irt'->'categories' must be a whole number from 2 to {MAX_CATEGORIES}, got {declared}; ignored"
                    )),
                }
            }
            match (anchor, irt.as_ref().map(parse_irt)) {
                (true, Some(Ok((p, se)))) => match bank.anchors.last() {
                    // Rows come ordered by id, so a repeat follows its first row.
                    Some((last, q)) if *last == id && *q == p => warn(format!(
                        "anchor {id} appears more than once in {relation} with the same parameters; used once"
                    )),
                    Some((last, _)) if *last == id => {
                        warn(format!(
                            "anchor {id} appears more than once in {relation} with different parameters; left out"
                        ));
                        bank.anchors.pop();
                        conflicting = Some(id);
                    }
                    _ if conflicting.as_ref() == Some(&id) => {}
                    _ => {
                        if let Some(se) = se {
                            bank.anchor_se.insert(id.clone(), se);
                        }
                        bank.anchors.push((id, p))
                    }
                },
                (true, Some(Err(why))) => warn(format!("anchor {id} left out: {why}")),
                (true, None) => warn(format!("anchor {id} left out: meta has no \"irt\" parameters")),
                (false, Some(Ok((p, _)))) => {
                    bank.starts.insert(id, p);
                }
                (false, _) => {}
            }
        }
        bank
    }
}

/// An item's parameters as `meta->'irt'` holds them, in the keys `mirt_item_params.params` writes
/// (so a calibration's row can be copied into the bank, and the report reads the rows with
/// it): `{"a": …, "b": …, "c": …, "D": …, "se_a": …, "se_b": …}` on the logistic metric, an
/// explicit D multiplying a (and its SE), the SEs counting only as a pair; or an item in
/// categories, `{"model": "GRM" | "GPCM" | "PCM", "a": …, "thresholds": [b_1, …], "D": …}`
/// (thresholds increasing for a graded item).
pub fn parse_irt(v: &Value) -> Result<(ItemParams, Option<[f64; 2]>), String> {
    if !v.is_object() {
        return Err(format!("meta->'irt' is not an object: {v}"));
    }
    let number = |key: &str, required: bool| -> Result<Option<f64>, String> {
        match v.get(key) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(format!("\"{key}\" is missing")),
            Some(x) => x
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| format!("\"{key}\" is not a number: {x}")),
        }
    };
    let a = number("a", true)?.unwrap_or_default();
    let scale = number("D", false)?.unwrap_or(1.0);
    if scale <= 0.0 {
        return Err(format!("D must be positive, got {scale}"));
    }
    if let Some(thresholds) = v.get("thresholds") {
        return Ok((in_categories(v, a * scale, thresholds)?, None));
    }
    let b = number("b", true)?.unwrap_or_default();
    let c = number("c", false)?.unwrap_or(0.0);
    let se = match (number("se_a", false)?, number("se_b", false)?) {
        (Some(se_a), Some(se_b)) if se_a >= 0.0 && se_b >= 0.0 => Some([se_a * scale, se_b]),
        (Some(_), Some(_)) => return Err("a standard error is negative".into()),
        _ => None,
    };
    Ok((ItemParams::given(a * scale, b, c)?, se))
}

/// An item in categories from its model's name, slope and thresholds, by the rule of
/// [`ItemParams::given`] for each threshold.
fn in_categories(v: &Value, a: f64, thresholds: &Value) -> Result<ItemParams, String> {
    let model = v.get("model").and_then(Value::as_str).unwrap_or_default();
    let steps = RunModel::find(model)
        .and_then(RunModel::steps)
        .ok_or_else(|| {
            format!("\"model\" must be GRM, GPCM or PCM with \"thresholds\", got {model:?}")
        })?;
    let b: Vec<f64> = thresholds
        .as_array()
        .and_then(|b| b.iter().map(Value::as_f64).collect())
        .ok_or_else(|| format!("\"thresholds\" is not a list of numbers: {thresholds}"))?;
    if !(1..MAX_CATEGORIES).contains(&b.len()) {
        return Err(format!(
            "an item has 1 to {} thresholds, got {}",
            MAX_CATEGORIES - 1,
            b.len()
        ));
    }
    for &b in &b {
        ItemParams::given(a, b, 0.0)?;
    }
    if steps == Steps::Graded && b.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!(
            "the thresholds of a graded item must increase, got {b:?}"
        ));
    }
    Ok(ItemParams::from_thresholds(steps, a, &b).expect("1 to 9 thresholds"))
}

/// The category an answer `score` falls in on an item given as `meta->'irt'` or `params` hold it
/// (`v`, read as `item` by [`parse_irt`]): its position among the item's `"scores"` (the score
/// each category stands for, recorded where unreached categories were merged), or the score
/// itself; an error where it is none of the item's categories.
pub fn category_of(v: &Value, item: &ItemParams, score: i64) -> Result<u8, String> {
    let k = item.categories();
    let category = match v.get("scores") {
        Some(Value::Array(scores)) if scores.len() == k => scores
            .iter()
            .position(|s| s.as_f64() == Some(score as f64))
            .ok_or_else(|| {
                format!(
                    "score {score} is none of the item's \"scores\" {}",
                    v["scores"]
                )
            })?,
        Some(Value::Null) | None => {
            usize::try_from(score)
                .ok()
                .filter(|&c| c < k)
                .ok_or_else(|| {
                    format!(
                        "score {score} is not a category of the item, 0 to {}",
                        k - 1
                    )
                })?
        }
        Some(other) => {
            return Err(format!(
                "\"scores\" must list the score of each of the item's {k} categories, got {other}"
            ))
        }
    };
    Ok(category as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, anchor: bool, irt: Option<Value>) -> BankRow {
        BankRow {
            id: id.into(),
            anchor,
            irt,
        }
    }

    #[test]
    fn anchors_starts_and_what_is_left_out() {
        let mut warnings = Vec::new();
        let bank = Bank::from_rows(
            [
                row("1", true, Some(json!({"a": 1.2, "b": 0.3}))),
                row("2", true, Some(json!({"a": "high", "b": 0.3}))),
                row("3", true, Some(json!({"a": 1.0, "b": 0.0, "D": 1.7}))),
                row("4", true, None),
                row("5", false, Some(json!({"a": 0.8, "b": -1.0}))),
                row("6", true, Some(json!({"a": 1.0, "b": 0.0}))),
                row("6", true, Some(json!({"a": 1.0, "b": 0.5}))),
                row(
                    "7",
                    true,
                    Some(json!({"a": 1.0, "b": 0.0, "se_a": 0.1, "se_b": 0.2})),
                ),
                row(
                    "8",
                    true,
                    Some(json!({"a": 1.0, "b": 0.0, "se_a": -0.1, "se_b": 0.2})),
                ),
                row("9", false, Some(json!({"categories": 4, "model": "3PL"}))),
                row("12", false, Some(json!({"model": "4PL"}))),
                row(
                    "11",
                    false,
                    Some(
                        json!({"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.2, 1.5], "D": 1.7}),
                    ),
                ),
                row("10", false, Some(json!({"categories": 11}))),
            ],
            "bank",
            |w| warnings.push(w),
        );
        let ids: Vec<&str> = bank.anchors.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["1", "3", "7"]);
        assert_eq!(bank.anchor_se.get("7"), Some(&[0.1, 0.2]));
        assert_eq!(bank.anchor_se.len(), 1);
        assert!((bank.anchors[1].1.slope() - 1.7).abs() < 1e-12);
        assert!(bank.starts.contains_key("5"));
        assert_eq!(bank.categories.get("9"), Some(&4));
        assert_eq!(bank.models.get("9"), Some(&RunModel::ThreePL));
        assert_eq!(bank.models.get("11"), Some(&RunModel::Graded));
        assert!(warnings
            .iter()
            .any(|w| w.contains("item 12") && w.contains("\"4PL\"")));
        let graded = bank.starts["11"];
        assert_eq!(
            (graded.categories(), graded.steps()),
            (4, Some(Steps::Graded))
        );
        assert!((graded.slope() - 1.2 * 1.7).abs() < 1e-12);
        assert!((graded.irt_coords()[2] - 0.2).abs() < 1e-12);
        assert!(!bank.categories.contains_key("10") && !bank.starts.contains_key("9"));
        assert_eq!(warnings.len(), 6, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("from 2 to 10, got 11")));
        assert!(warnings[3].contains("standard error is negative"));
        assert!(warnings[0].contains("\"a\" is not a number"));
        assert!(warnings[2].contains("different parameters"));
    }

    #[test]
    fn items_in_categories_follow_the_rules() {
        for (irt, word) in [
            (
                json!({"model": "GRM", "a": 1.0, "thresholds": [0.5, 0.1]}),
                "must increase",
            ),
            (
                json!({"model": "2PL", "a": 1.0, "thresholds": [0.5]}),
                "GRM, GPCM or PCM",
            ),
            (
                json!({"model": "GPCM", "a": 1.0, "thresholds": "x"}),
                "not a list",
            ),
            (
                json!({"model": "GPCM", "a": -1.0, "thresholds": [0.0]}),
                "a must",
            ),
            (
                json!({"model": "PCM", "a": 1.0, "thresholds": []}),
                "1 to 9",
            ),
        ] {
            let err = parse_irt(&irt).unwrap_err();
            assert!(err.contains(word), "{irt}: {err}");
        }
        // A partial credit item's steps may be out of order.
        let (p, _) =
            parse_irt(&json!({"model": "GPCM", "a": 1.0, "thresholds": [0.5, -0.2]})).unwrap();
        assert_eq!(p.steps(), Some(Steps::PartialCredit));
    }

    #[test]
    fn answers_fall_in_the_categories_their_scores_stand_for() {
        let graded = json!({"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5]});
        let (item, _) = parse_irt(&graded).unwrap();
        assert_eq!(category_of(&graded, &item, 2), Ok(2));
        assert!(category_of(&graded, &item, 3)
            .unwrap_err()
            .contains("0 to 2"));
        assert!(category_of(&graded, &item, -1).is_err());
        // Categories 0, 1, 2 stand for the scores 0, 1 and 3 (no one scored 2).
        let merged =
            json!({"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5], "scores": [0, 1, 3]});
        assert_eq!(category_of(&merged, &item, 3), Ok(2));
        assert!(category_of(&merged, &item, 2)
            .unwrap_err()
            .contains("[0,1,3]"));
        let short = json!({"model": "GRM", "a": 1.2, "thresholds": [-1.0, 0.5], "scores": [0, 1]});
        assert!(category_of(&short, &item, 1)
            .unwrap_err()
            .contains("3 categories"));
        let right_wrong = json!({"a": 1.0, "b": 0.0, "c": 0.2});
        let (item, _) = parse_irt(&right_wrong).unwrap();
        assert_eq!(category_of(&right_wrong, &item, 1), Ok(1));
        assert!(category_of(&right_wrong, &item, 2).is_err());
    }
}
