//! The columns a run writes, built once for both front ends and allocated fallibly where they
//! grow with the data.

use crate::alloc;
use crate::error::Result;
use crate::item_fit::ItemFit;

use super::anchors::DriftRow;
use super::review::ItemReview;

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
