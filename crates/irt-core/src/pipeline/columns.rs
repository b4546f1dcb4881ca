//! The columns a run writes, built once for both front ends and allocated fallibly where they
//! grow with the data.

use crate::alloc;
use crate::error::Result;
use crate::item_fit::ItemFit;
use crate::model::ItemParams;

use super::anchors::DriftRow;
use super::categories::ItemKinds;
use super::dif_screening::DifScreening;
use super::reported::ReportedItem;
use super::review::ItemReview;
use super::trends::TrendRow;

/// The written columns of a calibration: per item in `item_ids` order, per user in `user_ids`
/// order (with `answers_per_user`).
pub struct Columns {
    pub params: Vec<String>,
    /// Each item's model (`Calibration::item_model_name`).
    pub models: Vec<String>,
    pub n_responses: Vec<i64>,
    pub p_values: Vec<f64>,
    pub thetas: Vec<f64>,
    pub ses: Vec<f64>,
    /// NULL where lz is not defined (a person whose every answer is certain under the model).
    pub zh: Vec<Option<f64>>,
    pub drift: DriftColumns,
    pub item_fit: ItemFitColumns,
    pub dif: DifColumns,
    pub trend: TrendColumns,
}

/// The rows of `mirt_anchor_drift`, column by column.
#[derive(Default)]
pub struct DriftColumns {
    pub iteration: Vec<i32>,
    pub item_id: Vec<String>,
    pub stored_a: Vec<f64>,
    pub stored_b: Vec<f64>,
    pub stored_c: Vec<f64>,
    pub new_a: Vec<f64>,
    pub new_b: Vec<f64>,
    pub new_c: Vec<f64>,
    pub d_a: Vec<f64>,
    pub d_b: Vec<f64>,
    pub z_a: Vec<Option<f64>>,
    pub z_b: Vec<Option<f64>>,
    pub se_a: Vec<Option<f64>>,
    pub se_b: Vec<Option<f64>>,
    pub chi2: Vec<Option<f64>>,
    pub p_value: Vec<Option<f64>>,
    pub area: Vec<f64>,
    pub flagged: Vec<bool>,
}

impl DriftColumns {
    /// A few rows per anchor and screening: bounded by the bank, not by the data.
    pub(super) fn of(rows: &[DriftRow]) -> Self {
        let mut c = Self::default();
        for r in rows {
            let k = &r.check;
            c.iteration.push(r.iteration as i32);
            c.item_id.push(r.item_id.clone());
            c.stored_a.push(k.stored.a);
            c.stored_b.push(k.stored.b);
            c.stored_c.push(k.stored.c);
            c.new_a.push(k.new.a);
            c.new_b.push(k.new.b);
            c.new_c.push(k.new.c);
            c.d_a.push(k.d_a);
            c.d_b.push(k.d_b);
            c.z_a.push(k.z_a);
            c.z_b.push(k.z_b);
            c.se_a.push(k.se_a);
            c.se_b.push(k.se_b);
            c.chi2.push(k.chi2);
            c.p_value.push(k.p_value);
            c.area.push(k.area);
            c.flagged.push(k.flagged);
        }
        c
    }
}

/// The rows of `mirt_item_fit`, column by column; NULL where a statistic is not available.
pub struct ItemFitColumns {
    pub item_id: Vec<String>,
    pub s_x2: Vec<Option<f64>>,
    pub s_x2_df: Vec<Option<i32>>,
    pub s_x2_p: Vec<Option<f64>>,
    pub s_x2_rmsea: Vec<Option<f64>>,
    pub infit: Vec<Option<f64>>,
    pub infit_z: Vec<Option<f64>>,
    pub outfit: Vec<Option<f64>>,
    pub outfit_z: Vec<Option<f64>>,
    pub rmsd: Vec<Option<f64>>,
    pub status: Vec<String>,
    pub reason: Vec<Option<String>>,
}

impl ItemFitColumns {
    pub(super) fn of(reviews: &[ItemReview]) -> Result<Self> {
        let column = |f: &dyn Fn(&ItemFit) -> Option<f64>| {
            alloc::collect(
                reviews
                    .iter()
                    .map(|r| r.fit.as_ref().and_then(f).filter(|x| x.is_finite())),
                "the item fit rows",
            )
        };
        Ok(Self {
            item_id: alloc::collect(
                reviews.iter().map(|r| r.item_id.clone()),
                "the item fit rows",
            )?,
            s_x2: column(&|f| f.s_x2)?,
            s_x2_df: alloc::collect(
                reviews
                    .iter()
                    .map(|r| r.fit.as_ref().and_then(|f| f.s_x2_df).map(|d| d as i32)),
                "the item fit rows",
            )?,
            s_x2_p: column(&|f| f.s_x2_p)?,
            s_x2_rmsea: column(&|f| f.s_x2_rmsea)?,
            infit: column(&|f| Some(f.infit))?,
            infit_z: column(&|f| Some(f.infit_z))?,
            outfit: column(&|f| Some(f.outfit))?,
            outfit_z: column(&|f| Some(f.outfit_z))?,
            rmsd: column(&|f| Some(f.rmsd))?,
            status: alloc::collect(
                reviews.iter().map(|r| r.status.name().to_string()),
                "the item fit rows",
            )?,
            reason: alloc::collect(
                reviews.iter().map(|r| r.reason.clone()),
                "the item fit rows",
            )?,
        })
    }
}

/// The rows of `mirt_item_dif`, column by column; NULL where a test did not run or is undefined.
#[derive(Default)]
pub struct DifColumns {
    pub item_id: Vec<String>,
    pub focal_group: Vec<String>,
    pub reference_group: Vec<String>,
    pub n_focal: Vec<i64>,
    pub n_reference: Vec<i64>,
    pub mh_chi2: Vec<Option<f64>>,
    pub mh_p: Vec<Option<f64>>,
    pub mh_p_adjusted: Vec<Option<f64>>,
    pub mh_alpha: Vec<Option<f64>>,
    pub ets_delta: Vec<Option<f64>>,
    pub ets_delta_se: Vec<Option<f64>>,
    pub ets_class: Vec<Option<String>>,
    pub lr_x2: Vec<Option<f64>>,
    pub lr_df: Vec<Option<i32>>,
    pub lr_p: Vec<Option<f64>>,
    pub lr_p_adjusted: Vec<Option<f64>>,
    pub signed_area: Vec<Option<f64>>,
    pub unsigned_area: Vec<Option<f64>>,
    /// The item in each group, as `mirt_item_params.params` holds an item, without SEs.
    pub reference_params: Vec<Option<String>>,
    pub focal_params: Vec<Option<String>>,
    pub flagged: Vec<bool>,
}

impl DifColumns {
    /// A row per item and focal group: items × groups, bounded by the bank and 100 groups.
    pub(super) fn of(
        dif: &DifScreening,
        item_ids: &[String],
        groups: &[String],
        kinds: &ItemKinds,
    ) -> Result<Self> {
        let n = dif.rows.len();
        let what = "the DIF rows";
        let finite = |x: f64| x.is_finite().then_some(x);
        let mut c = Self {
            item_id: alloc::with_capacity(n, what)?,
            focal_group: alloc::with_capacity(n, what)?,
            reference_group: alloc::with_capacity(n, what)?,
            ..Self::default()
        };
        for r in &dif.rows {
            c.item_id.push(item_ids[r.item].clone());
            c.focal_group.push(groups[r.focal].clone());
            c.reference_group.push(groups[0].clone());
            c.n_focal.push(r.n_focal as i64);
            c.n_reference.push(r.n_reference as i64);
            c.mh_chi2.push(r.mh.map(|m| m.chi2));
            c.mh_p.push(r.mh.map(|m| m.p));
            c.mh_p_adjusted.push(r.mh_p_adjusted);
            c.mh_alpha.push(r.mh.map(|m| m.alpha));
            c.ets_delta.push(r.mh.map(|m| m.delta));
            c.ets_delta_se.push(r.mh.map(|m| m.delta_se));
            c.ets_class.push(r.mh.map(|m| m.class.name().to_string()));
            c.lr_x2.push(r.lr.map(|t| t.x2));
            c.lr_df.push(r.lr.map(|t| t.df as i32));
            c.lr_p.push(r.lr.map(|t| t.p));
            c.lr_p_adjusted.push(r.lr.map(|t| t.p_adjusted));
            c.signed_area.push(r.areas.and_then(|a| finite(a.signed)));
            c.unsigned_area
                .push(r.areas.and_then(|a| finite(a.unsigned)));
            let json = |params: ItemParams| {
                ReportedItem {
                    params,
                    standard_errors: None,
                    fixed: false,
                    n_responses: 0,
                    p_value: f64::NAN,
                }
                .params_json(kinds.categories[r.item].as_ref(), kinds.pair_scores[r.item])
            };
            c.reference_params.push(r.curves.map(|[p, _]| json(p)));
            c.focal_params.push(r.curves.map(|[_, p]| json(p)));
            c.flagged.push(r.flagged);
        }
        Ok(c)
    }
}

/// The rows of `mirt_item_trend`, column by column: per item its estimate (a, not ln a), the
/// standardised changes, the four sums (NULL in ln a where the model shares its slope).
#[derive(Default)]
pub struct TrendColumns {
    pub item_id: Vec<String>,
    pub model: Vec<String>,
    pub a: Vec<Option<f64>>,
    pub se_log_a: Vec<Option<f64>>,
    pub b: Vec<f64>,
    pub se_b: Vec<f64>,
    pub n_responses: Vec<i64>,
    pub z_a: Vec<Option<f64>>,
    pub z_b: Vec<Option<f64>>,
    pub cusum_a_up: Vec<Option<f64>>,
    pub cusum_a_down: Vec<Option<f64>>,
    pub cusum_b_up: Vec<f64>,
    pub cusum_b_down: Vec<f64>,
    pub runs: Vec<i32>,
    pub alarm: Vec<bool>,
}

impl TrendColumns {
    /// A row per calibrated item: bounded by the bank.
    pub(super) fn of(rows: &[TrendRow], item_ids: &[String]) -> Result<Self> {
        let what = "the trend rows";
        let mut c = Self {
            item_id: alloc::with_capacity(rows.len(), what)?,
            ..Self::default()
        };
        for r in rows {
            let t = &r.trend;
            let slope = t.estimate.log_a;
            c.item_id.push(item_ids[r.item].clone());
            c.model.push(r.model.to_string());
            c.a.push(slope.map(|(l, _)| l.exp()));
            c.se_log_a.push(slope.map(|(_, se)| se));
            c.b.push(t.estimate.b.0);
            c.se_b.push(t.estimate.b.1);
            c.n_responses.push(t.estimate.answers as i64);
            c.z_a.push(t.z_a);
            c.z_b.push(t.z_b);
            c.cusum_a_up.push(slope.map(|_| t.cusum.a_up));
            c.cusum_a_down.push(slope.map(|_| t.cusum.a_down));
            c.cusum_b_up.push(t.cusum.b_up);
            c.cusum_b_down.push(t.cusum.b_down);
            c.runs.push(t.runs as i32);
            c.alarm.push(t.alarm());
        }
        Ok(c)
    }
}
