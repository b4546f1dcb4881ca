//! Settings of a calibration, checked once: only a [`FitConfig`] made by [`FitParams::check`]
//! can run, so the estimator never meets a bad value.

use crate::error::{CoreError, Result};
use crate::interrupt::Interrupt;
use crate::model::{ItemModel, ItemParams, Steps, MAX_CATEGORIES};
use crate::names::named;
use crate::priors::Priors;
use crate::quadrature::Grid;

/// mirt's defaults: 61 nodes on [−6, 6], converged when no parameter moves by 1e-4 in a cycle,
/// at most 500 cycles.
pub const DEFAULT_QUADRATURE_POINTS: usize = 61;
pub const DEFAULT_THETA_RANGE: (f64, f64) = (-6.0, 6.0);
pub const DEFAULT_TOLERANCE: f64 = 1e-4;
pub const DEFAULT_MAX_CYCLES: usize = 500;

/// How the EM cycles are run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// EM with SQUAREM acceleration: plain EM's maximum in far fewer cycles.
    #[default]
    Squarem,
    /// Plain EM.
    Em,
    /// R mirt 1.46's EM step for step (joint BFGS M-steps, Ramsay acceleration, its start values
    /// and stopping rule), to reproduce mirt's estimates where it stops short of the maximum.
    /// Rasch, 2PL and 3PL without priors or anchors.
    MirtCompatible,
}

named!(Algorithm, "algorithm", "algorithm", "algorithms", {
    Squarem => "squarem",
    Em => "em",
    MirtCompatible => "mirt",
});

/// How the standard errors are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandardErrors {
    /// `Full` up to [`AUTO_FULL_PARAMETERS`] estimated parameters, `Item` above.
    Auto,
    /// The inverse of the whole cross-product information: exact, (2·items)² memory, n³ time.
    Full,
    /// Each item's block of the information inverted alone (and the common slope's, and the
    /// latent distribution's): linear in the bank, cross-item covariances dropped.
    Item,
    None,
}

/// The largest number of estimated parameters `Auto` inverts the whole information for: 4,000
/// (2,000 2PL items) is 256 MB and a few seconds; the cost grows with the cube.
pub const AUTO_FULL_PARAMETERS: usize = 4_000;

named!(StandardErrors, "standard_errors", "standard errors", "values", {
    Auto => "auto",
    Full => "full",
    Item => "item",
    None => "none",
});

impl StandardErrors {
    /// The mode for `n` estimated parameters: `Full`, `Item` or `None`.
    pub fn resolve(self, n: usize) -> Self {
        match self {
            Self::Auto if n <= AUTO_FULL_PARAMETERS => Self::Full,
            Self::Auto => Self::Item,
            other => other,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FitParams {
    model: ItemModel,
    priors: Priors,
    quadrature_points: usize,
    theta_range: (f64, f64),
    tolerance: f64,
    max_cycles: usize,
    algorithm: Algorithm,
    standard_errors: StandardErrors,
    fixed: Vec<(usize, ItemParams)>,
    start: Vec<(usize, ItemParams)>,
    joint: Vec<usize>,
    screened: Vec<usize>,
    categories: Vec<(usize, Steps, usize)>,
    item_models: Vec<(usize, ItemModel)>,
    interrupt: Interrupt,
    follow_latent: bool,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct FitConfig {
    pub model: ItemModel,
    pub priors: Priors,
    pub grid: Grid,
    pub tolerance: f64,
    pub max_cycles: usize,
    pub algorithm: Algorithm,
    pub standard_errors: StandardErrors,
    /// Per item: held at these values (anchors).
    pub fixed: Vec<Option<ItemParams>>,
    /// Per item: start here instead of at classical estimates.
    pub start: Vec<Option<ItemParams>>,
    /// Items whose (a, b, c) estimates are wanted with their covariance across items (the
    /// anchors of a link), in this order.
    pub joint: Vec<usize>,
    /// Items whose final expected counts are kept (`ItemEstimate::counts`): the anchors, whose
    /// drift screening tests their stored parameters against them.
    pub screened: Vec<usize>,
    /// Per item: scored in this many ordered categories, formed so (None: right or wrong).
    pub categories: Vec<Option<(Steps, usize)>>,
    /// Per item: the model of a right/wrong item (`model` unless the caller gave it its own).
    pub item_models: Vec<ItemModel>,
    /// Polled by the long phases (see [`Interrupt`]).
    pub interrupt: Interrupt,
    /// Whether the grid moves to cover a latent distribution that outgrows it (mirt's stays).
    pub follow_latent: bool,
}

impl FitConfig {
    pub fn n_fixed(&self) -> usize {
        self.fixed.iter().flatten().count()
    }

    /// Anchors set the scale, so the latent mean and variance are then estimated.
    pub fn free_mean(&self) -> bool {
        self.n_fixed() > 0
    }

    /// mirt's Rasch identifies the scale by the slopes and estimates the variance.
    pub fn free_variance(&self) -> bool {
        self.n_fixed() > 0 || self.model == ItemModel::Rasch
    }
}

impl FitParams {
    pub fn new(model: ItemModel) -> Self {
        Self {
            model,
            priors: Priors::NONE,
            quadrature_points: DEFAULT_QUADRATURE_POINTS,
            theta_range: DEFAULT_THETA_RANGE,
            tolerance: DEFAULT_TOLERANCE,
            max_cycles: DEFAULT_MAX_CYCLES,
            algorithm: Algorithm::Squarem,
            standard_errors: StandardErrors::Auto,
            fixed: Vec::new(),
            start: Vec::new(),
            joint: Vec::new(),
            screened: Vec::new(),
            categories: Vec::new(),
            item_models: Vec::new(),
            interrupt: Interrupt::never(),
            follow_latent: true,
        }
    }

    pub fn priors(mut self, priors: Priors) -> Self {
        self.priors = priors;
        self
    }

    pub fn quadrature(mut self, points: usize, lower: f64, upper: f64) -> Self {
        self.quadrature_points = points;
        self.theta_range = (lower, upper);
        self
    }

    /// Keeps the grid where `quadrature` put it, as mirt does, rather than moving it to cover a
    /// latent distribution that outgrows it: for reproducing mirt's own numbers.
    pub fn fixed_grid(mut self) -> Self {
        self.follow_latent = false;
        self
    }

    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    pub fn max_cycles(mut self, max_cycles: usize) -> Self {
        self.max_cycles = max_cycles;
        self
    }

    /// SQUAREM by default.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    pub fn standard_errors(mut self, mode: StandardErrors) -> Self {
        self.standard_errors = mode;
        self
    }

    /// Holds item `item` at `params` (an anchor).
    pub fn fix_item(mut self, item: usize, params: ItemParams) -> Self {
        self.fixed.push((item, params));
        self
    }

    /// Asks for the joint covariance of these items' estimates (see [`FitConfig::joint`]).
    pub fn joint_covariance_of(mut self, items: Vec<usize>) -> Self {
        self.joint = items;
        self
    }

    /// Keeps these items' final expected counts (see [`FitConfig::screened`]).
    pub fn keep_counts_of(mut self, items: Vec<usize>) -> Self {
        self.screened = items;
        self
    }

    /// How the caller stops a fit in the middle of a phase.
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// Starts item `item` at `params`.
    pub fn start_item(mut self, item: usize, params: ItemParams) -> Self {
        self.start.push((item, params));
        self
    }

    /// Item `item` is scored in `categories` ordered categories (answers 0 … categories − 1),
    /// formed by `steps`: with model 2PL a graded or generalized partial credit item, with
    /// Rasch a partial credit item. The other items are right or wrong.
    pub fn in_categories(mut self, item: usize, steps: Steps, categories: usize) -> Self {
        self.categories.push((item, steps, categories));
        self
    }

    /// Right/wrong item `item` follows `model` (2PL or 3PL) instead of the run's: a lower
    /// asymptote for a multiple-choice item beside items without, or in categories. Only in a
    /// run whose model estimates slopes item by item.
    pub fn item_model(mut self, item: usize, model: ItemModel) -> Self {
        self.item_models.push((item, model));
        self
    }

    pub fn check(&self, n_items: usize) -> Result<FitConfig> {
        let setting = |field, reason: String| Err(CoreError::InvalidSetting { field, reason });
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return setting(
                "tolerance",
                format!("{} must be a positive number", self.tolerance),
            );
        }
        if self.max_cycles == 0 {
            return setting("max_cycles", "must be at least 1".into());
        }
        self.priors.check()?;
        self.check_algorithm()?;
        let grid = Grid::new(
            self.quadrature_points,
            self.theta_range.0,
            self.theta_range.1,
        )?;
        let per_item = |given: &[(usize, ItemParams)]| -> Result<Vec<Option<ItemParams>>> {
            let mut out = vec![None; n_items];
            for &(item, params) in given {
                if item >= n_items {
                    return Err(CoreError::ItemOutOfRange { item, n_items });
                }
                params.check(item)?;
                out[item] = Some(params);
            }
            Ok(out)
        };
        let fixed = per_item(&self.fixed)?;
        if fixed.iter().all(Option::is_some) {
            return Err(CoreError::NothingToEstimate);
        }
        let start = per_item(&self.start)?;
        let categories = self.check_categories(n_items)?;
        let item_models = self.check_item_models(n_items, &categories)?;
        if let Some(&item) = self
            .joint
            .iter()
            .chain(&self.screened)
            .find(|&&j| j >= n_items)
        {
            return Err(CoreError::ItemOutOfRange { item, n_items });
        }
        Ok(FitConfig {
            model: self.model,
            priors: self.priors,
            grid,
            tolerance: self.tolerance,
            max_cycles: self.max_cycles,
            algorithm: self.algorithm,
            standard_errors: self.standard_errors,
            fixed,
            start,
            joint: self.joint.clone(),
            screened: self.screened.clone(),
            categories,
            item_models,
            interrupt: self.interrupt.clone(),
            follow_latent: self.follow_latent,
        })
    }

    /// Each item's model: the run's, or a 2PL or 3PL of its own on a right/wrong item of a run
    /// with item slopes (a common slope or slopes of 1 would not be a 2PL's or 3PL's), outside
    /// mirt-compatible mode.
    fn check_item_models(
        &self,
        n_items: usize,
        categories: &[Option<(Steps, usize)>],
    ) -> Result<Vec<ItemModel>> {
        let mut out = vec![self.model; n_items];
        for &(item, model) in &self.item_models {
            if item >= n_items {
                return Err(CoreError::ItemOutOfRange { item, n_items });
            }
            let refused = if !matches!(model, ItemModel::TwoPL | ItemModel::ThreePL) {
                Some(format!("a {} of its own", model.name()))
            } else if !self.model.has_item_slopes() {
                Some(format!("a model of its own under {}", self.model.name()))
            } else if categories[item].is_some() {
                Some("a right/wrong model, being in categories".into())
            } else if self.algorithm == Algorithm::MirtCompatible {
                Some("a model of its own with algorithm mirt".into())
            } else {
                None
            };
            if let Some(what) = refused {
                return Err(CoreError::InvalidSetting {
                    field: "item model",
                    reason: format!(
                        "item {item} cannot take {what}: an item's own model is a 2PL or 3PL in \
                         a run whose model estimates slopes item by item"
                    ),
                });
            }
            out[item] = model;
        }
        Ok(out)
    }

    /// Items in categories: 2 to [`MAX_CATEGORIES`] of them, under a model whose slopes they
    /// can take (each its own, or all 1), with what the fit computes for them so far.
    fn check_categories(&self, n_items: usize) -> Result<Vec<Option<(Steps, usize)>>> {
        let mut out = vec![None; n_items];
        let setting = |reason: String| CoreError::InvalidSetting {
            field: "categories",
            reason,
        };
        for &(item, steps, k) in &self.categories {
            if item >= n_items {
                return Err(CoreError::ItemOutOfRange { item, n_items });
            }
            if !(2..=MAX_CATEGORIES).contains(&k) {
                return Err(setting(format!(
                    "item {item} has {k} categories; an item has 2 to {MAX_CATEGORIES}"
                )));
            }
            out[item] = Some((steps, k));
        }
        if self.categories.is_empty() {
            return Ok(out);
        }
        if !matches!(self.model, ItemModel::TwoPL | ItemModel::Rasch) {
            return Err(setting(format!(
                "items in categories take model 2PL (graded, generalized partial credit) or \
                 Rasch (partial credit), not {}",
                self.model.name()
            )));
        }
        // An item is held fixed (an anchor) or started only at values of its own shape: as many
        // categories, so formed (none for a right/wrong item).
        if let Some(&(item, _)) = self.fixed.iter().find(|(j, p)| out[*j] != p.shape()) {
            return Err(setting(format!(
                "the fixed values of item {item} are not of its shape (its categories)"
            )));
        }
        if let Some(&(item, _)) = self.start.iter().find(|(j, p)| out[*j] != p.shape()) {
            return Err(setting(format!(
                "the start values of item {item} are not of its shape (its categories)"
            )));
        }
        Ok(out)
    }

    /// mirt-compatible mode reproduces mirt's plain MML of its own Rasch, 2PL and 3PL, and of
    /// items in categories under them (graded, generalized and plain partial credit); anchors
    /// would need mirt's latent-parameter optimiser, which it does not reproduce.
    fn check_algorithm(&self) -> Result<()> {
        if self.algorithm != Algorithm::MirtCompatible {
            return Ok(());
        }
        let reason = if self.priors != Priors::NONE {
            "mirt-compatible mode fits without priors; set priors to none"
        } else if self.model == ItemModel::OnePL || !self.fixed.is_empty() {
            "mirt-compatible mode supports Rasch, 2PL and 3PL without anchors"
        } else {
            return Ok(());
        };
        Err(CoreError::InvalidSetting {
            field: "algorithm",
            reason: reason.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_bad_field() {
        let field = |p: FitParams| match p.check(3).unwrap_err() {
            CoreError::InvalidSetting { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(FitParams::new(ItemModel::TwoPL).tolerance(0.0)),
            "tolerance"
        );
        assert_eq!(
            field(FitParams::new(ItemModel::TwoPL).tolerance(f64::NAN)),
            "tolerance"
        );
        assert_eq!(
            field(FitParams::new(ItemModel::TwoPL).max_cycles(0)),
            "max_cycles"
        );
        assert_eq!(
            field(FitParams::new(ItemModel::TwoPL).quadrature(2, -6.0, 6.0)),
            "quadrature_points"
        );
        let bad_anchor =
            FitParams::new(ItemModel::TwoPL).fix_item(0, ItemParams::from_irt(1.0, 0.0, 1.5));
        assert!(matches!(
            bad_anchor.check(3),
            Err(CoreError::InvalidItemParams { item: 0, .. })
        ));
        let out_of_range =
            FitParams::new(ItemModel::TwoPL).start_item(7, ItemParams::from_irt(1.0, 0.0, 0.0));
        assert!(matches!(
            out_of_range.check(3),
            Err(CoreError::ItemOutOfRange { item: 7, .. })
        ));
        let all_fixed =
            FitParams::new(ItemModel::TwoPL).fix_item(0, ItemParams::from_irt(1.0, 0.0, 0.0));
        assert_eq!(
            all_fixed.check(1).unwrap_err(),
            CoreError::NothingToEstimate
        );
    }

    #[test]
    fn algorithm_parses_and_mirt_mode_refuses_what_it_cannot_reproduce() {
        assert_eq!(
            Algorithm::parse(" MIRT ").unwrap(),
            Algorithm::MirtCompatible
        );
        let err = Algorithm::parse("newton").unwrap_err().to_string();
        assert!(err.contains("squarem, em, mirt"), "{err}");
        let mirt = |model| FitParams::new(model).algorithm(Algorithm::MirtCompatible);
        assert!(mirt(ItemModel::ThreePL).check(3).is_ok());
        for refused in [
            mirt(ItemModel::OnePL),
            mirt(ItemModel::TwoPL).priors(Priors::DEFAULT),
            mirt(ItemModel::Rasch).fix_item(0, ItemParams::from_irt(1.0, 0.0, 0.0)),
        ] {
            assert!(matches!(
                refused.check(3),
                Err(CoreError::InvalidSetting {
                    field: "algorithm",
                    ..
                })
            ));
        }
    }
}
