//! Forgiving reading of the report document. Whatever the JSON holds, reading succeeds: a
//! missing key, a null or a value of the wrong type reads as absent (`None`, an empty list), and
//! the sections say in words what is absent. Indexing a `serde_json::Value` never panics (a
//! missing key or a non-object gives `Null`), which is what every reader here relies on.

use irt_core::settings::RunModel;
use irt_core::{ItemParams, Latent, Steps};
use serde_json::Value;

/// A finite number, or nothing (JSON has no NaN, but a value may be a string or null).
pub fn num(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// Text, accepting numbers and booleans too: ids may arrive as `1` as well as `"1"`.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The elements of an array, or none.
pub fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The whole document.
pub struct Report<'a> {
    /// False when the document is not a JSON object at all.
    pub is_object: bool,
    pub requested: Option<String>,
    pub run: Option<Run<'a>>,
    pub items: Vec<Item>,
    pub drift: Vec<DriftRow>,
    /// Every item's DIF per focal group, for a run with groups.
    pub dif: Vec<DifRow>,
    /// The items whose trend across runs alarms in this run, with their series.
    pub trends: Vec<TrendRow>,
    /// `None`: the key is absent or null.
    pub abilities: Option<Abilities>,
    pub failures: Vec<Failure>,
}

impl<'a> Report<'a> {
    pub fn read(doc: &'a Value) -> Self {
        let run = &doc["run"];
        Self {
            is_object: doc.is_object(),
            requested: text(&doc["requested"]),
            run: run.is_object().then(|| Run::read(run)),
            items: list(&doc["items"]).iter().map(Item::read).collect(),
            drift: list(&doc["drift"]).iter().map(DriftRow::read).collect(),
            dif: list(&doc["dif"]).iter().map(DifRow::read).collect(),
            trends: list(&doc["trend"]).iter().map(TrendRow::read).collect(),
            abilities: doc["abilities"]
                .is_object()
                .then(|| Abilities::read(&doc["abilities"])),
            failures: list(&doc["failures"]).iter().map(Failure::read).collect(),
        }
    }

    /// Per screened anchor its last screening (the final one), in the order anchors first appear.
    pub fn final_screening(&self) -> Vec<&DriftRow> {
        let mut last: Vec<&DriftRow> = Vec::new();
        for row in &self.drift {
            match last.iter_mut().find(|r| r.item_id == row.item_id) {
                Some(kept) if row.iteration >= kept.iteration => *kept = row,
                Some(_) => {}
                None => last.push(row),
            }
        }
        last
    }

    /// The anchors: those the link used, then any other screened item, each once.
    pub fn anchor_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        let used = self
            .run
            .as_ref()
            .map_or(&[][..], |run| list(&run.spec["anchors_used"]));
        for id in used
            .iter()
            .filter_map(text)
            .chain(self.drift.iter().map(|r| r.item_id.clone()))
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }

    /// Whether any item has its fit recorded.
    pub fn has_item_fit(&self) -> bool {
        self.items.iter().any(|item| item.fit.is_some())
    }
}

/// A latent distribution usable for an axis: a mean within ±100, a variance from 10⁻⁶ to 10⁴.
fn usable_latent(v: &Value) -> Option<Latent> {
    let mean = num(&v["mean"]).filter(|m| m.abs() <= 100.0)?;
    let variance = num(&v["variance"]).filter(|v| (1e-6..=1e4).contains(v))?;
    Some(Latent { mean, variance })
}

/// One group of persons of a run, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupLatent {
    pub name: String,
    pub persons: f64,
    pub latent: Latent,
}

/// The run's row of `mirt_fit_meta`. `spec` and `metrics` stay JSON: the summary shows every
/// key they hold, known or not.
pub struct Run<'a> {
    pub run_id: Option<String>,
    pub status: Option<String>,
    pub fitted_at: Option<String>,
    pub spec: &'a Value,
    pub metrics: &'a Value,
}

impl<'a> Run<'a> {
    fn read(run: &'a Value) -> Self {
        Self {
            run_id: text(&run["run_id"]),
            status: text(&run["status"]),
            fitted_at: text(&run["fitted_at"]),
            spec: &run["model_spec"],
            metrics: &run["metrics"],
        }
    }

    /// The latent distribution on the reported scale, when it is recorded and usable for an
    /// axis: a mean within ±100, a variance from 10⁻⁶ to 10⁴.
    pub fn latent(&self) -> Option<Latent> {
        usable_latent(&self.spec["latent"])
    }

    /// The groups of a run with groups (`model_spec->'groups'`), reference first, each with its
    /// persons and latent distribution where recorded and usable; none without groups.
    pub fn groups(&self) -> Vec<GroupLatent> {
        list(&self.spec["groups"]["groups"])
            .iter()
            .filter_map(|g| {
                Some(GroupLatent {
                    name: text(&g["group"])?,
                    persons: num(&g["persons"]).filter(|&n| n > 0.0)?,
                    latent: usable_latent(g)?,
                })
            })
            .collect()
    }

    /// Log-likelihood per EM cycle (cycle numbers from 1), skipping entries that are not numbers.
    pub fn em_trace(&self) -> Option<Vec<(f64, f64)>> {
        let trace = self.metrics["em_trace"].as_array()?;
        Some(
            trace
                .iter()
                .enumerate()
                .filter_map(|(k, v)| num(v).map(|ll| ((k + 1) as f64, ll)))
                .collect(),
        )
    }
}

/// An item's parameters on the reported scale.
pub struct Params {
    /// How the categories of an item in three or more are formed, and its intercepts
    /// d_1 … d_(K−1) on the reported scale.
    pub categories: Option<(Steps, Vec<f64>)>,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub c: Option<f64>,
    pub se_a: Option<f64>,
    pub se_b: Option<f64>,
    pub se_c: Option<f64>,
    pub fixed: bool,
}

impl Params {
    pub(crate) fn read(v: &Value) -> Self {
        let steps = text(&v["model"]).and_then(|m| RunModel::find(&m)?.steps());
        let intercepts: Option<Vec<f64>> = v["intercepts"]
            .as_array()
            .and_then(|d| d.iter().map(num).collect());
        Self {
            categories: steps.zip(intercepts),
            a: num(&v["a"]),
            b: num(&v["b"]),
            c: num(&v["c"]),
            se_a: num(&v["se_a"]),
            se_b: num(&v["se_b"]),
            se_c: num(&v["se_c"]),
            fixed: v["fixed"].as_bool().unwrap_or(false),
        }
    }

    /// The curve, when a and b are known (c defaults to 0); of an item in categories, from its
    /// slope and intercepts.
    pub fn curve(&self) -> Option<ItemParams> {
        if let Some((steps, d)) = &self.categories {
            let item = ItemParams::in_categories(*steps, self.a?, d)?;
            return item.check(0).is_ok().then_some(item);
        }
        curve(self.a?, self.b?, self.c.unwrap_or(0.0))
    }
}

/// irt-core's item from IRT parameters, when irt-core's own check passes (finite, a ≠ 0,
/// c in [0, 1)): only such an item gives a curve within [0, 1].
pub fn curve(a: f64, b: f64, c: f64) -> Option<ItemParams> {
    let item = ItemParams::from_irt(a, b, c);
    item.check(0).is_ok().then_some(item)
}

pub struct Fit {
    pub s_x2: Option<f64>,
    pub s_x2_df: Option<f64>,
    pub s_x2_p: Option<f64>,
    pub rmsd: Option<f64>,
    pub infit: Option<f64>,
    pub outfit: Option<f64>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

impl Fit {
    fn read(v: &Value) -> Self {
        Self {
            s_x2: num(&v["s_x2"]),
            s_x2_df: num(&v["s_x2_df"]),
            s_x2_p: num(&v["s_x2_p"]),
            rmsd: num(&v["rmsd"]),
            infit: num(&v["infit"]),
            outfit: num(&v["outfit"]),
            status: text(&v["status"]),
            reason: text(&v["reason"]),
        }
    }
}

pub struct Item {
    pub id: String,
    pub model: Option<String>,
    /// `None`: no parameters (an excluded item).
    pub params: Option<Params>,
    pub n_responses: Option<f64>,
    pub p_value: Option<f64>,
    /// `None`: no item fit recorded.
    pub fit: Option<Fit>,
}

impl Item {
    fn read(v: &Value) -> Self {
        Self {
            id: text(&v["item_id"]).unwrap_or_default(),
            model: text(&v["model"]),
            params: v["params"].is_object().then(|| Params::read(&v["params"])),
            n_responses: num(&v["n_responses"]),
            p_value: num(&v["p_value"]),
            fit: v["fit"].is_object().then(|| Fit::read(&v["fit"])),
        }
    }

    pub fn status(&self) -> Option<&str> {
        self.fit.as_ref()?.status.as_deref()
    }

    /// The gate that set the status.
    pub fn reason(&self) -> Option<&str> {
        self.fit.as_ref()?.reason.as_deref()
    }

    /// The curve, unless the item is excluded or its parameters give none.
    pub fn curve(&self) -> Option<ItemParams> {
        if self.status() == Some("excluded") {
            return None;
        }
        self.params.as_ref()?.curve()
    }
}

/// One item's DIF against one focal group (`mirt_item_dif`).
pub struct DifRow {
    pub item_id: String,
    pub focal_group: String,
    pub reference_group: String,
    pub n_focal: Option<f64>,
    pub n_reference: Option<f64>,
    pub ets_delta: Option<f64>,
    pub ets_class: Option<String>,
    pub mh_p_adjusted: Option<f64>,
    pub lr_x2: Option<f64>,
    pub lr_df: Option<f64>,
    pub lr_p_adjusted: Option<f64>,
    pub signed_area: Option<f64>,
    pub unsigned_area: Option<f64>,
    pub reference: Option<Params>,
    pub focal: Option<Params>,
    pub flagged: bool,
}

impl DifRow {
    fn read(v: &Value) -> Self {
        let params = |key: &str| v[key].is_object().then(|| Params::read(&v[key]));
        Self {
            item_id: text(&v["item_id"]).unwrap_or_default(),
            focal_group: text(&v["focal_group"]).unwrap_or_default(),
            reference_group: text(&v["reference_group"]).unwrap_or_default(),
            n_focal: num(&v["n_focal"]),
            n_reference: num(&v["n_reference"]),
            ets_delta: num(&v["ets_delta"]),
            ets_class: text(&v["ets_class"]),
            mh_p_adjusted: num(&v["mh_p_adjusted"]),
            lr_x2: num(&v["lr_x2"]),
            lr_df: num(&v["lr_df"]),
            lr_p_adjusted: num(&v["lr_p_adjusted"]),
            signed_area: num(&v["signed_area"]),
            unsigned_area: num(&v["unsigned_area"]),
            reference: params("reference_params"),
            focal: params("focal_params"),
            flagged: v["flagged"].as_bool().unwrap_or(false),
        }
    }
}

/// An alarming item's trend (`mirt_item_trend`) and its series up to this run: b and its SE.
pub struct TrendRow {
    pub item_id: String,
    pub runs: Option<f64>,
    pub b: Option<f64>,
    pub z_b: Option<f64>,
    pub z_a: Option<f64>,
    /// b up, b down, ln a up, ln a down.
    pub sums: [Option<f64>; 4],
    pub history: Vec<(Option<f64>, Option<f64>)>,
}

impl TrendRow {
    fn read(v: &Value) -> Self {
        Self {
            item_id: text(&v["item_id"]).unwrap_or_default(),
            runs: num(&v["runs"]),
            b: num(&v["b"]),
            z_b: num(&v["z_b"]),
            z_a: num(&v["z_a"]),
            sums: ["cusum_b_up", "cusum_b_down", "cusum_a_up", "cusum_a_down"]
                .map(|key| num(&v[key])),
            history: list(&v["history"])
                .iter()
                .map(|h| (num(&h["b"]), num(&h["se_b"])))
                .collect(),
        }
    }
}

/// One anchor in one screening (`mirt_anchor_drift`).
pub struct DriftRow {
    pub iteration: i64,
    pub item_id: String,
    pub stored: [Option<f64>; 3],
    pub new: [Option<f64>; 3],
    pub d_a: Option<f64>,
    pub d_b: Option<f64>,
    pub z_a: Option<f64>,
    pub z_b: Option<f64>,
    pub se_a: Option<f64>,
    pub se_b: Option<f64>,
    pub p_value: Option<f64>,
    pub area: Option<f64>,
    pub flagged: bool,
}

impl DriftRow {
    fn read(v: &Value) -> Self {
        let abc = |prefix: &str| ["a", "b", "c"].map(|p| num(&v[format!("{prefix}_{p}")]));
        Self {
            iteration: v["iteration"].as_i64().unwrap_or(0),
            item_id: text(&v["item_id"]).unwrap_or_default(),
            stored: abc("stored"),
            new: abc("new"),
            d_a: num(&v["d_a"]),
            d_b: num(&v["d_b"]),
            z_a: num(&v["z_a"]),
            z_b: num(&v["z_b"]),
            se_a: num(&v["se_a"]),
            se_b: num(&v["se_b"]),
            p_value: num(&v["p_value"]),
            area: num(&v["area"]),
            flagged: v["flagged"].as_bool().unwrap_or(false),
        }
    }

    pub fn stored_curve(&self) -> Option<ItemParams> {
        let [a, b, c] = self.stored;
        curve(a?, b?, c.unwrap_or(0.0))
    }

    pub fn new_curve(&self) -> Option<ItemParams> {
        let [a, b, c] = self.new;
        curve(a?, b?, c.unwrap_or(0.0))
    }
}

pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: f64,
}

pub struct Abilities {
    pub n: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    /// Only bins with lo < hi and a count ≥ 0.
    pub bins: Vec<Bin>,
}

impl Abilities {
    fn read(v: &Value) -> Self {
        Self {
            n: num(&v["n"]),
            mean: num(&v["mean"]),
            sd: num(&v["sd"]),
            bins: list(&v["bins"])
                .iter()
                .filter_map(|b| {
                    let (lo, hi, count) = (num(&b["lo"])?, num(&b["hi"])?, num(&b["count"])?);
                    (lo < hi && count >= 0.0).then_some(Bin { lo, hi, count })
                })
                .collect(),
        }
    }
}

/// A failed scheduled run.
pub struct Failure {
    pub at: Option<String>,
    pub message: Option<String>,
}

impl Failure {
    fn read(v: &Value) -> Self {
        Self {
            at: text(&v["at"]),
            message: text(&v["message"]).or_else(|| text(v)),
        }
    }
}
