//! The item response models and their response function.
//!
//! A dichotomous item: P(θ) = c + (1 − c) / (1 + exp(−(a·θ + d))), logistic without D. The
//! slope–intercept form (a, d) is what the estimator works in (as mirt does); b = −d/a is
//! reported beside it. An item scored in K ordered categories has a slope and K − 1 intercepts
//! (`categories`).

mod categories;
mod covariance;
mod response_curves;

use ndarray::ArrayView1;

pub use crate::deriv::{Deriv, MAX_COORDS};
use crate::error::{CoreError, Result};
pub use crate::logistic::{logistic, logit, softplus};
use crate::names::named;
pub use categories::{Steps, MAX_CATEGORIES};
pub use covariance::ParamCovariance;
pub use response_curves::{CurvePoint, CurvesAt};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemModel {
    /// All slopes 1, latent variance estimated (mirt's 'Rasch').
    Rasch,
    /// One common slope for every free item, latent variance 1.
    OnePL,
    TwoPL,
    /// 2PL with a lower asymptote c.
    ThreePL,
}

named!(ItemModel, "model", "model", "models", {
    Rasch => "Rasch",
    OnePL => "1PL",
    TwoPL => "2PL",
    ThreePL => "3PL",
});

impl ItemModel {
    /// Why an anchor with stored parameters `p` cannot anchor a calibration of this model, if it
    /// cannot: linking compares its stored curve with the new one, and a curve with a lower
    /// asymptote c > 0 is one a model without guessing never draws (the 2PL nearest to it would
    /// differ in a and b too), so such an anchor is left out rather than used with a bias.
    pub fn anchor_mismatch(self, p: &ItemParams) -> Option<String> {
        (!self.has_guessing() && p.c > 0.0).then(|| {
            format!(
                "its stored lower asymptote c = {} needs a 3PL; a {} has none",
                p.c,
                self.name()
            )
        })
    }

    pub fn has_guessing(self) -> bool {
        self == Self::ThreePL
    }

    /// Slopes estimated item by item.
    pub fn has_item_slopes(self) -> bool {
        matches!(self, Self::TwoPL | Self::ThreePL)
    }

    /// An item of this model at `given`'s difficulty: with `given`'s slope where the model
    /// estimates slopes item by item (1 for Rasch, `common_slope` for 1PL), and lower asymptote
    /// `c` where it has one; an item in categories at its thresholds.
    pub fn shaped(self, given: &ItemParams, common_slope: f64, c: f64) -> ItemParams {
        if let Some(steps) = given.steps {
            // An item in categories: its own slope, or slope 1 at its thresholds (Rasch).
            if self.has_item_slopes() {
                return *given;
            }
            let n = given.n_coords();
            return ItemParams::from_thresholds(steps, 1.0, &given.irt_coords()[1..n])
                .expect("as many thresholds as the item has");
        }
        let b = given.b();
        match self {
            Self::Rasch => ItemParams::from_irt(1.0, b, 0.0),
            Self::OnePL => ItemParams::from_irt(common_slope, b, 0.0),
            Self::TwoPL => ItemParams::from_irt(given.a, b, 0.0),
            Self::ThreePL => ItemParams::from_irt(given.a, b, c),
        }
    }
}

/// The model a run is asked for: a model of right/wrong items, or one of items scored in
/// categories. On an item with two categories the graded and the generalized partial credit
/// model are the 2PL and the partial credit model is the Rasch model, so a test that mixes
/// right/wrong items with items in categories runs under one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunModel {
    Rasch,
    OnePL,
    TwoPL,
    ThreePL,
    Graded,
    GeneralizedPartialCredit,
    PartialCredit,
}

named!(RunModel, "model", "model", "models", {
    Rasch => "Rasch",
    OnePL => "1PL",
    TwoPL => "2PL",
    ThreePL => "3PL",
    Graded => "GRM",
    GeneralizedPartialCredit => "GPCM",
    PartialCredit => "PCM",
});

impl RunModel {
    /// The model of the run's right/wrong items (and of its items in two categories).
    pub fn item_model(self) -> ItemModel {
        match self {
            Self::Rasch | Self::PartialCredit => ItemModel::Rasch,
            Self::OnePL => ItemModel::OnePL,
            Self::TwoPL | Self::Graded | Self::GeneralizedPartialCredit => ItemModel::TwoPL,
            Self::ThreePL => ItemModel::ThreePL,
        }
    }

    /// How an item in three or more categories is formed; None where the model takes right or
    /// wrong answers only.
    pub fn steps(self) -> Option<Steps> {
        match self {
            Self::Graded => Some(Steps::Graded),
            Self::GeneralizedPartialCredit | Self::PartialCredit => Some(Steps::PartialCredit),
            _ => None,
        }
    }
}

impl From<ItemPoint> for ItemParams {
    fn from(p: ItemPoint) -> Self {
        Self::from_irt(p.a, p.b, p.c)
    }
}

/// One item's parameters in the IRT form, on one scale: logistic, no D
/// (P = c + (1-c)/(1+exp(-a(θ-b)))), of an item in categories its slope and location; what the
/// drift screening records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemPoint {
    /// Discrimination (slope); must be positive.
    pub a: f64,
    /// Difficulty (location).
    pub b: f64,
    /// Lower asymptote (guessing); 0 for 1PL/2PL items.
    pub c: f64,
}

/// One item's parameters in slope–intercept form. The fields are the model's own: every phase
/// reads an item through the methods below, so that its shape (a slope, intercepts, a lower
/// asymptote) is known in this module alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemParams {
    /// None for a dichotomous item (right or wrong); else how its K categories are formed.
    steps: Option<Steps>,
    a: f64,
    /// d of a dichotomous item in `d[0]`; d_1 … d_(K−1) of an item with K categories.
    d: [f64; MAX_CATEGORIES - 1],
    /// The lower asymptote of a dichotomous item; 0 for items in categories.
    c: f64,
    categories: u8,
}

/// The largest slope and the largest |b| that [`ItemParams::given`] accepts.
pub const MAX_GIVEN_SLOPE: f64 = 1000.0;
pub const MAX_GIVEN_LOCATION: f64 = 1000.0;

/// `irt` (the (a, b, c) of linking and drift), `b`, `prob` and `log_probs` are a right/wrong
/// item's; the other methods answer for both kinds, an item in categories through
/// `categories`.
impl ItemParams {
    /// A dichotomous item from the slope–intercept form: slope a, intercept d, lower asymptote c.
    pub fn new(a: f64, d: f64, c: f64) -> Self {
        let mut intercepts = [0.0; MAX_CATEGORIES - 1];
        intercepts[0] = d;
        Self {
            steps: None,
            a,
            d: intercepts,
            c,
            categories: 2,
        }
    }

    /// A dichotomous item from the IRT form; `b` is the difficulty.
    pub fn from_irt(a: f64, b: f64, c: f64) -> Self {
        Self::new(a, -a * b, c)
    }

    /// An item scored in `d.len() + 1` ordered categories, with slope a and intercepts
    /// d_1 … d_(K−1) (decreasing for a graded item). None beyond [`MAX_CATEGORIES`].
    pub fn in_categories(steps: Steps, a: f64, d: &[f64]) -> Option<Self> {
        if d.is_empty() || d.len() >= MAX_CATEGORIES {
            return None;
        }
        let mut intercepts = [0.0; MAX_CATEGORIES - 1];
        intercepts[..d.len()].copy_from_slice(d);
        Some(Self {
            steps: Some(steps),
            a,
            d: intercepts,
            c: 0.0,
            categories: d.len() as u8 + 1,
        })
    }

    /// An item in `thresholds.len() + 1` categories from its IRT form: slope a and thresholds
    /// b_1 … b_(K−1) (`categories::thresholds`). None beyond [`MAX_CATEGORIES`].
    pub fn from_thresholds(steps: Steps, a: f64, thresholds: &[f64]) -> Option<Self> {
        let mut d = [0.0; MAX_CATEGORIES - 1];
        let d = d.get_mut(..thresholds.len())?;
        categories::intercepts(steps, a, thresholds, d);
        Self::in_categories(steps, a, d)
    }

    /// How many categories the item's answers fall in (2 for a dichotomous item).
    pub fn categories(&self) -> usize {
        usize::from(self.categories)
    }

    /// None for a dichotomous item; how its categories are formed otherwise.
    pub fn steps(&self) -> Option<Steps> {
        self.steps
    }

    /// How an item in categories is formed and how many it has; None for a right/wrong item.
    pub fn shape(&self) -> Option<(Steps, usize)> {
        self.steps.map(|steps| (steps, self.categories()))
    }

    /// d_1 … d_(K−1) of an item in categories (d of a dichotomous item).
    pub fn intercepts(&self) -> &[f64] {
        &self.d[..self.categories() - 1]
    }

    /// log P(X = k | θ) for every category k into `out` (length K), without underflow.
    pub fn log_category_probs(&self, theta: f64, out: &mut [f64]) {
        match self.steps {
            None => {
                let (log_p, log_q) = self.log_probs(theta);
                out[0] = log_q;
                out[1] = log_p;
            }
            Some(steps) => categories::log_probs(steps, self.a, self.intercepts(), theta, out),
        }
    }

    /// P(X = k | θ) for every category k into `out` (length K), a transcendental function per
    /// category (`categories::probs`: known to ε absolutely, so take `log_category_probs` for
    /// the logarithm of a category far from θ).
    pub fn category_probs(&self, theta: f64, out: &mut [f64]) {
        match self.steps {
            None => {
                let p = self.prob(theta);
                out[0] = 1.0 - p;
                out[1] = p;
            }
            Some(steps) => categories::probs(steps, self.a, self.intercepts(), theta, out),
        }
    }

    /// The IRT form (a, b, c): what is reported, linked and screened for drift; of an item in
    /// categories its slope and location (the mean of its thresholds), c = 0.
    pub fn irt(&self) -> ItemPoint {
        ItemPoint {
            a: self.a,
            b: self.location(),
            c: self.c,
        }
    }

    pub fn slope(&self) -> f64 {
        self.a
    }

    pub fn intercept(&self) -> f64 {
        self.d[0]
    }

    pub fn b(&self) -> f64 {
        -self.d[0] / self.a
    }

    /// Where the item sits on θ: b of a right/wrong item, the mean of its thresholds of an item
    /// in categories (what `params->'b'` records for it).
    pub fn location(&self) -> f64 {
        let difficulties = self.difficulty_coords();
        let n = difficulties.len() as f64;
        self.irt_coords()[difficulties].iter().sum::<f64>() / n
    }

    /// The lower asymptote c.
    pub fn guessing(&self) -> f64 {
        self.c
    }

    /// Whether the curve has a lower asymptote above 0, where log P − log Q is not linear in θ.
    pub fn has_guessing(&self) -> bool {
        self.c != 0.0
    }

    /// Whether the item is right or wrong with log P − log Q = a·θ + d: no lower asymptote and
    /// two categories (the test forms' shortcut needs it).
    pub fn logit_is_linear(&self) -> bool {
        self.steps.is_none() && self.c == 0.0
    }

    /// b = −d/a with its gradient and Hessian in (a, d, logit c): the chain rule a prior on the
    /// difficulty needs.
    pub fn location_derivatives(&self) -> (f64, [f64; 3], [[f64; 3]; 3]) {
        let (a, d) = (self.a, self.d[0]);
        let grad = [d / (a * a), -1.0 / a, 0.0];
        let mut hess = [[0.0; 3]; 3];
        hess[0][0] = -2.0 * d / a.powi(3);
        hess[0][1] = 1.0 / (a * a);
        hess[1][0] = hess[0][1];
        (self.b(), grad, hess)
    }

    /// The standard error of d = −a·b by the delta method, from the covariance of (a, b, c).
    pub fn d_standard_error(&self, cov: &[[f64; 3]; 3]) -> f64 {
        let (a, b) = (self.a, self.b());
        (b * b * cov[0][0] + 2.0 * a * b * cov[0][1] + a * a * cov[1][1])
            .max(0.0)
            .sqrt()
    }

    /// Parameters given from outside (an anchor's stored values, a function's arguments),
    /// checked by the one rule every entry point applies: 0 < a ≤ 1000, |b| ≤ 1000 and c in
    /// [0, 1). The bounds are far past any real item, and keep a·θ + d finite for every
    /// finite θ. The error says which value breaks the rule.
    pub fn given(a: f64, b: f64, c: f64) -> std::result::Result<Self, String> {
        if !(a > 0.0 && a <= MAX_GIVEN_SLOPE) {
            return Err(format!(
                "a must be positive and at most {MAX_GIVEN_SLOPE}, got {a}"
            ));
        }
        if !(-MAX_GIVEN_LOCATION..=MAX_GIVEN_LOCATION).contains(&b) {
            return Err(format!(
                "b must lie in [-{MAX_GIVEN_LOCATION}, {MAX_GIVEN_LOCATION}], got {b}"
            ));
        }
        if !(0.0..1.0).contains(&c) {
            return Err(format!("c must lie in [0, 1), got {c}"));
        }
        Ok(Self::from_irt(a, b, c))
    }

    pub fn check(&self, item: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(CoreError::InvalidItemParams {
                item,
                reason: reason.to_string(),
            })
        };
        if !(self.a.is_finite()
            && self.intercepts().iter().all(|d| d.is_finite())
            && self.c.is_finite())
        {
            return bad("a, b and c must be finite");
        }
        if self.a == 0.0 {
            return bad("a must not be zero");
        }
        if !(0.0..1.0).contains(&self.c) {
            return bad("c must lie in [0, 1)");
        }
        Ok(())
    }

    pub fn prob(&self, theta: f64) -> f64 {
        self.c + (1.0 - self.c) * logistic(self.a * theta + self.d[0])
    }

    /// (log P, log Q) without underflow far in the tails.
    pub fn log_probs(&self, theta: f64) -> (f64, f64) {
        let z = self.a * theta + self.d[0];
        let log_q = (-self.c).ln_1p() - softplus(z);
        let log_p = if self.c == 0.0 {
            -softplus(-z)
        } else {
            (self.c + (1.0 - self.c) * logistic(z)).ln()
        };
        (log_p, log_q)
    }

    /// Fisher information of the item at θ: P'²/(PQ) with P' = a(1 − c)s(1 − s), s the
    /// logistic, reduced to a²(1 − c)s(1 − s)·s/P. The quotient itself is 0/0 (NaN) wherever s
    /// rounds to 1 (aθ + d > 37, e.g. a steep item in MAP scoring), or to 0 without guessing;
    /// the reduced form is exact there and finite everywhere.
    pub fn information(&self, theta: f64) -> f64 {
        if let Some(steps) = self.steps {
            return categories::information(steps, self.a, self.intercepts(), theta);
        }
        let s = logistic(self.a * theta + self.d[0]);
        // s/P is 1 without guessing, and at most 1/(1 − c) with it.
        let s_over_p = if self.c == 0.0 {
            1.0
        } else {
            s / self.prob(theta)
        };
        self.a * self.a * (1.0 - self.c) * s * (1.0 - s) * s_over_p
    }

    /// The estimator's coordinates: (a, d, logit c) of a dichotomous item, where logit c is −∞
    /// for c = 0 and only read when c is estimated; (a, d_1 … d_(K−1)) of an item in categories.
    pub fn coords(&self) -> [f64; MAX_COORDS] {
        let mut x = [0.0; MAX_COORDS];
        x[0] = self.a;
        match self.steps {
            None => {
                x[1] = self.d[0];
                x[2] = logit(self.c);
            }
            Some(_) => x[1..self.categories()].copy_from_slice(self.intercepts()),
        }
        x
    }

    /// This item moved to coordinates `x`: c from logit c where it is estimated (`guessing`),
    /// else this item's own.
    pub fn at_coords(&self, x: &[f64; MAX_COORDS], guessing: bool) -> Self {
        let mut moved = *self;
        moved.a = x[0];
        match self.steps {
            None => {
                moved.d[0] = x[1];
                if guessing {
                    moved.c = guessing_at_logit(x[2]);
                }
            }
            Some(_) => moved.d[..self.categories() - 1].copy_from_slice(&x[1..self.categories()]),
        }
        moved
    }

    /// This item on the scale θ* = slope·θ + intercept, the same curves in θ*: a* = a/slope, a
    /// dichotomous item's b* = slope·b + intercept, and an item in categories keeps the value
    /// of every term k·a·θ + d_k of its logits (k = 1 graded, the category for partial
    /// credit): d_k* = d_k − k·a*·intercept, its thresholds moved as b is.
    pub fn on_scale(&self, slope: f64, intercept: f64) -> Self {
        let Some(steps) = self.steps else {
            return Self::from_irt(self.a / slope, slope * self.b() + intercept, self.c);
        };
        let mut moved = *self;
        moved.a = self.a / slope;
        for (m, d) in moved.d[..self.categories() - 1].iter_mut().enumerate() {
            let k = match steps {
                Steps::Graded => 1.0,
                Steps::PartialCredit => (m + 1) as f64,
            };
            *d -= k * moved.a * intercept;
        }
        moved
    }

    /// The larger of `so_far` and this item's largest change from `other`, on the scale mirt
    /// judges convergence on (the lower asymptote as a probability).
    pub fn max_change(&self, other: &Self, so_far: f64) -> f64 {
        self.intercepts()
            .iter()
            .zip(other.intercepts())
            .fold(so_far.max((self.a - other.a).abs()), |m, (d, e)| {
                m.max((d - e).abs())
            })
            .max((self.c - other.c).abs())
    }

    /// How many coordinates the item has: (a, d, logit c) of a dichotomous item, (a, d_1 …
    /// d_(K−1)) of an item in K categories; its IRT form has as many.
    pub fn n_coords(&self) -> usize {
        match self.steps {
            None => 3,
            Some(_) => self.categories(),
        }
    }

    /// The IRT form as coordinates: (a, b, c) of a dichotomous item, (a, b_1 … b_(K−1)) of an
    /// item in categories (its thresholds, `categories::thresholds`).
    pub fn irt_coords(&self) -> [f64; MAX_COORDS] {
        let mut x = [0.0; MAX_COORDS];
        x[0] = self.a;
        match self.steps {
            None => {
                x[1] = self.b();
                x[2] = self.c;
            }
            Some(steps) => {
                categories::thresholds(steps, self.a, self.intercepts(), &mut x[1..self.n_coords()])
            }
        }
        x
    }

    /// Where the difficulties lie in the IRT form ([`Self::irt_coords`]): b of a right/wrong
    /// item, the thresholds b_1 … b_(K−1) of one in categories.
    pub fn difficulty_coords(&self) -> std::ops::Range<usize> {
        match self.steps {
            None => 1..2,
            Some(_) => 1..self.n_coords(),
        }
    }

    /// An item of this one's shape at the IRT form's coordinates `x` ([`Self::irt_coords`]).
    pub fn with_irt_coords(&self, x: &[f64; MAX_COORDS]) -> Self {
        match self.steps {
            None => Self::from_irt(x[0], x[1], x[2]),
            Some(steps) => Self::from_thresholds(steps, x[0], &x[1..self.n_coords()])
                .expect("as many thresholds as the item has"),
        }
    }

    /// Every category's curve at θ with its derivatives in θ and in the IRT form
    /// (`response_curves`): what linking's characteristic curves are made of.
    pub fn curves(&self, theta: f64) -> CurvesAt {
        let x = self.irt_coords();
        match self.steps {
            None => response_curves::right_wrong(x[0], x[1], x[2], theta),
            Some(Steps::Graded) => response_curves::graded(x[0], &x[1..self.n_coords()], theta),
            Some(Steps::PartialCredit) => {
                response_curves::partial_credit(x[0], &x[1..self.n_coords()], theta)
            }
        }
    }

    /// ∂(IRT form)/∂(the estimator's coordinates), for the delta method.
    pub fn irt_jacobian(&self) -> [[f64; MAX_COORDS]; MAX_COORDS] {
        if let Some(steps) = self.steps {
            return categories::thresholds_jacobian(steps, self.a, self.intercepts());
        }
        let mut j = [[0.0; MAX_COORDS]; MAX_COORDS];
        j[0][0] = 1.0;
        j[1][0] = self.d[0] / (self.a * self.a);
        j[1][1] = -1.0 / self.a;
        j[2][2] = self.c * (1.0 - self.c);
        j
    }

    /// d log P(x | θ)/dη for every answer x and coordinate η ([`Self::coords`]): what a
    /// person's score in the cross-product SEs is made of. A dichotomous item's through
    /// z = aθ + d: d/dd = (x − P)·s/P, d/da = θ times it, d/d logit c = −c (wrong) or
    /// (1 − P)·c/P (right).
    pub fn answer_gradients(&self, theta: f64) -> [[f64; MAX_COORDS]; MAX_CATEGORIES] {
        let mut out = [[0.0; MAX_COORDS]; MAX_CATEGORIES];
        if let Some(steps) = self.steps {
            let mut logs = [0.0; MAX_CATEGORIES];
            self.log_category_probs(theta, &mut logs[..self.categories()]);
            categories::log_prob_gradients(
                steps,
                self.a,
                self.intercepts(),
                theta,
                &logs,
                &mut out,
            );
            return out;
        }
        let s = logistic(self.a * theta + self.d[0]);
        let prob = self.prob(theta);
        let s_over_p = if self.c == 0.0 { 1.0 } else { s / prob };
        for (x, [dz, dg]) in [
            [-prob * s_over_p, -self.c],
            [(1.0 - prob) * s_over_p, (1.0 - prob) * self.c / prob],
        ]
        .into_iter()
        .enumerate()
        {
            out[x][..3].copy_from_slice(&[theta * dz, dz, dg]);
        }
        out
    }

    /// The expected score Σ k·P(X = k | θ): P(θ) of a right/wrong item.
    pub fn expected_score(&self, theta: f64) -> f64 {
        if self.steps.is_none() {
            return self.prob(theta);
        }
        let k = self.categories();
        let mut logs = [0.0; MAX_CATEGORIES];
        self.log_category_probs(theta, &mut logs[..k]);
        (1..k).map(|x| x as f64 * logs[x].exp()).sum()
    }

    /// log P(x | θ) of an answer x.
    pub fn log_prob(&self, theta: f64, x: u8) -> f64 {
        let mut logs = [0.0; MAX_CATEGORIES];
        self.log_category_probs(theta, &mut logs[..self.categories()]);
        logs[usize::from(x)]
    }

    /// d log P(x | θ)/dθ of an answer x: a person's score in θ (MAP scoring).
    pub fn theta_score(&self, theta: f64, x: u8) -> f64 {
        if let Some(steps) = self.steps {
            return categories::theta_score(
                steps,
                self.a,
                self.intercepts(),
                theta,
                usize::from(x),
            );
        }
        let s = logistic(self.a * theta + self.d[0]);
        let prob = self.prob(theta);
        let s_over_p = if self.c == 0.0 { 1.0 } else { s / prob };
        self.a * (x as f64 - prob) * s_over_p
    }

    /// The expected complete-data log-likelihood of the expected answers in each category
    /// (`rows[k]` at `nodes`; a dichotomous item's wrong answers in `rows[0]`, right in
    /// `rows[1]`), its gradient in the item's coordinates and minus the Fisher information
    /// (which for 2PL and partial credit is the exact Hessian, and is negative definite for 3PL
    /// where the Hessian need not be); logit c only where `guessing`.
    pub fn expected_log_lik(
        &self,
        rows: &[ArrayView1<f64>],
        nodes: &[f64],
        guessing: bool,
    ) -> Deriv {
        let mut out = Deriv::default();
        if let Some(steps) = self.steps {
            categories::expected_log_lik(steps, self.a, self.intercepts(), rows, nodes, &mut out);
            return out;
        }
        let p = self;
        let (right, wrong) = (rows[1], rows[0]);
        for ((&r, &w), &theta) in right.iter().zip(&wrong).zip(nodes) {
            let n = r + w;
            let (log_p, log_q) = p.log_probs(theta);
            out.value += r * log_p + w * log_q;
            let s = logistic(p.a * theta + p.d[0]);
            let prob = log_p.exp();
            // dP/dz / (PQ) = s/P and dP/dlogit(c) / (PQ) = c/P; s/P = 1 exactly without c.
            let s_over_p = if p.c == 0.0 { 1.0 } else { s / prob };
            let resid = r - n * prob;
            let dz = resid * s_over_p;
            out.grad[0] += dz * theta;
            out.grad[1] += dz;
            let izz = n * (1.0 - p.c) * s * (1.0 - s) * s_over_p;
            out.hess[0][0] -= izz * theta * theta;
            out.hess[0][1] -= izz * theta;
            out.hess[1][1] -= izz;
            if guessing {
                let c_over_p = p.c / prob;
                out.grad[2] += resid * c_over_p;
                let izg = n * s * (1.0 - s) * c_over_p * (1.0 - p.c);
                out.hess[0][2] -= izg * theta;
                out.hess[1][2] -= izg;
                out.hess[2][2] -= n * (1.0 - s) * p.c * (1.0 - p.c) * c_over_p;
            }
        }
        out.hess[1][0] = out.hess[0][1];
        out.hess[2][0] = out.hess[0][2];
        out.hess[2][1] = out.hess[1][2];
        out
    }
}

/// The lower asymptote c at logit c = x, kept strictly inside (0, 1). Without a guessing prior
/// EM can drive logit c past −745 or +37, where the logistic rounds to exactly 0 or 1: logit c
/// is then ∓∞, the M-step's derivatives are not finite (its Newton loop never ended), and log Q
/// is −∞. Inside the bounds this is the logistic itself, bit for bit.
pub fn guessing_at_logit(x: f64) -> f64 {
    logistic(x).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_with_guessing_fit_only_a_3pl() {
        let guessing = ItemParams::from_irt(1.0, 0.0, 0.2);
        let plain = ItemParams::from_irt(1.0, 0.0, 0.0);
        for model in [ItemModel::Rasch, ItemModel::OnePL, ItemModel::TwoPL] {
            assert!(model
                .anchor_mismatch(&guessing)
                .unwrap()
                .contains("needs a 3PL"));
            assert_eq!(model.anchor_mismatch(&plain), None);
        }
        assert_eq!(ItemModel::ThreePL.anchor_mismatch(&guessing), None);
    }

    #[test]
    fn given_parameters_follow_one_rule() {
        assert_eq!(
            ItemParams::given(1.2, -0.5, 0.2),
            Ok(ItemParams::from_irt(1.2, -0.5, 0.2))
        );
        for (a, b, c, word) in [
            (0.0, 0.0, 0.0, "a must"),
            (-1.0, 0.0, 0.0, "a must"),
            (f64::NAN, 0.0, 0.0, "a must"),
            (f64::INFINITY, 0.0, 0.0, "a must"),
            (1.0, f64::NAN, 0.0, "b must"),
            (1.0, f64::NEG_INFINITY, 0.0, "b must"),
            (1.0, 0.0, 1.0, "c must"),
            (1.0, 0.0, -0.1, "c must"),
            (1.0, 0.0, f64::NAN, "c must"),
            (1000.5, 0.0, 0.0, "a must"),
            (1.0, -1000.5, 0.0, "b must"),
        ] {
            let err = ItemParams::given(a, b, c).unwrap_err();
            assert!(err.starts_with(word), "({a}, {b}, {c}): {err}");
        }
    }

    #[test]
    fn log_probs_agree_with_prob_and_stay_finite() {
        let item = ItemParams::from_irt(1.3, 0.4, 0.2);
        for theta in [-6.0, -1.0, 0.0, 2.5] {
            let (lp, lq) = item.log_probs(theta);
            approx::assert_relative_eq!(lp.exp(), item.prob(theta), max_relative = 1e-12);
            approx::assert_relative_eq!(lq.exp(), 1.0 - item.prob(theta), max_relative = 1e-12);
        }
        let steep = ItemParams::from_irt(4.0, 0.0, 0.0);
        let (lp, lq) = steep.log_probs(-300.0);
        assert!(lp.is_finite() && lp < -1000.0 && lq == 0.0);
    }

    /// Regression (found by tests/fuzz_properties.rs): where the logistic rounds to 0 or 1
    /// the information was 0/0, and MAP scores on steep items came out NaN.
    #[test]
    fn information_is_finite_in_the_tails() {
        for c in [0.0, 0.2] {
            let item = ItemParams::from_irt(1.3, 0.4, c);
            let (p, dp) = (
                item.prob(0.5),
                1.3 * (1.0 - c) * logistic(1.3 * 0.1) * logistic(-0.13),
            );
            approx::assert_relative_eq!(
                item.information(0.5),
                dp * dp / (p * (1.0 - p)),
                max_relative = 1e-12
            );
            for theta in [-40.0, 40.0] {
                let info = ItemParams::from_irt(2.8, 0.0, c).information(theta);
                assert!((0.0..1e-40).contains(&info), "c = {c}, θ = {theta}: {info}");
            }
        }
    }

    /// Regression (found by tests/fuzz_properties.rs): a 3PL fit without priors drove logit c
    /// below −745, c rounded to 0 and the M-step hung.
    #[test]
    fn guessing_stays_strictly_inside_the_unit_interval() {
        assert_eq!(guessing_at_logit(-1.3), logistic(-1.3));
        for x in [-1e4, -746.0, 37.0, 1e4] {
            let c = guessing_at_logit(x);
            assert!(c > 0.0 && c < 1.0 && logit(c).is_finite(), "{x}: {c}");
        }
    }

    /// On another scale an item draws the same curves: at θ* = A·θ + B its every category is as
    /// likely as at θ before.
    #[test]
    fn an_item_on_another_scale_draws_the_same_curves() {
        let (slope, intercept) = (1.3, -0.4);
        for item in [
            ItemParams::from_irt(1.2, 0.5, 0.2),
            ItemParams::in_categories(Steps::Graded, 0.9, &[1.5, 0.1, -1.2]).unwrap(),
            ItemParams::in_categories(Steps::PartialCredit, 1.1, &[0.7, 1.0, -0.5]).unwrap(),
        ] {
            let moved = item.on_scale(slope, intercept);
            for theta in [-2.0, 0.3, 1.7] {
                let (mut before, mut after) = ([0.0; 4], [0.0; 4]);
                let k = item.categories();
                item.log_category_probs(theta, &mut before[..k]);
                moved.log_category_probs(slope * theta + intercept, &mut after[..k]);
                for (b, a) in before.iter().zip(&after) {
                    approx::assert_relative_eq!(b, a, epsilon = 1e-12);
                }
            }
        }
    }

    #[test]
    fn parse_lists_valid_models() {
        assert_eq!(ItemModel::parse("2pl").unwrap(), ItemModel::TwoPL);
        let err = ItemModel::parse("4PL").unwrap_err().to_string();
        assert!(err.contains("Rasch, 1PL, 2PL, 3PL"), "{err}");
    }
}
