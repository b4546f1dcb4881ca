//! The accuracy study's worlds and measures (`irt-accuracy`, `tests/accuracy.rs`): seeded item
//! banks and windows of answers with known truth, calibrated by the same `pipeline::calibrate`
//! the front ends run, and measured against that truth.
//!
//! The truth is on the anchors' scale: log a ~ N(0, 0.3²), b ~ N(0, 1)
//! (`simulate::draw_items`), and this window's persons θ ~ N(0.3, 1.1²) as in the demo database
//! (`scripts/demo_data.sql`), so that a link which did nothing would be visibly wrong. An anchor
//! is stored as its truth plus noise (log a and b each + N(0, noise²)); a drifted anchor's
//! stored b lies above the b its answers now follow (an exposed item that became easier). Every
//! estimate is compared on the anchors' scale, as the run reports it.
//!
//! The DIF study's worlds are two groups answering one test (`dif_world`).

use rayon::ThreadPool;

use crate::bank::Bank;
use crate::dif::Side;
use crate::drift::DriftRule;
use crate::error::CoreError;
use crate::model::ItemParams;
use crate::pipeline::{calibrate, Answers, Calibration, Quiet, Relations};
use crate::responses::Responses;
use crate::settings::{Arguments, Settings};
use crate::simulate::{draw_items, respond, Rng};
use crate::window::GroupsRead;

pub const POPULATION_MEAN: f64 = 0.3;
pub const POPULATION_SD: f64 = 1.1;

/// The size of a window: `persons` each answering `per_person` random items of `items`, the
/// first `anchors` of which are anchors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub persons: usize,
    pub items: usize,
    pub anchors: usize,
    pub per_person: usize,
}

impl Shape {
    pub fn answers_per_item(&self) -> f64 {
        (self.persons * self.per_person) as f64 / self.items as f64
    }
}

/// A world to draw: its shape, the noise of the stored anchors (and whether the bank records
/// it as their standard errors), how many have drifted and how far (a drifted anchor's stored b
/// lies `drift` logits above its present one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    pub shape: Shape,
    pub noise: f64,
    pub noise_recorded: bool,
    pub drifted: usize,
    pub drift: f64,
}

/// One draw: the truth, the answers it generated and the bank as stored.
pub struct World {
    /// Every item's present parameters on the anchors' scale; item j has id `j + 1`.
    pub truth: Vec<ItemParams>,
    pub thetas: Vec<f64>,
    pub responses: Responses,
    pub bank: Bank,
    /// Per item: an anchor whose stored b has drifted.
    pub drifted: Vec<bool>,
}

/// Draws a world: the same scenario and seed give the same world on every machine.
pub fn world(scenario: &Scenario, seed: u64) -> World {
    let Shape {
        persons,
        items,
        anchors,
        per_person,
    } = scenario.shape;
    let mut rng = Rng::new(seed);
    let truth = draw_items(&mut rng, items);
    let drifted_anchors = rng.sample(anchors, scenario.drifted.min(anchors));
    let mut drifted = vec![false; items];
    for &j in &drifted_anchors {
        drifted[j as usize] = true;
    }
    let mut bank = Bank::default();
    for (j, p) in truth.iter().enumerate().take(anchors) {
        let a = p.slope() * (scenario.noise * rng.normal()).exp();
        let shift = if drifted[j] { scenario.drift } else { 0.0 };
        let b = p.b() + scenario.noise * rng.normal() + shift;
        if scenario.noise_recorded {
            // The SE of a is a times the SE of ln a.
            bank.anchor_se
                .insert((j + 1).to_string(), [a * scenario.noise, scenario.noise]);
        }
        bank.anchors
            .push(((j + 1).to_string(), ItemParams::from_irt(a, b, 0.0)));
    }
    let (thetas, responses) = respond(
        &mut rng,
        &truth,
        persons,
        per_person,
        POPULATION_MEAN,
        POPULATION_SD,
    );
    World {
        truth,
        thetas,
        responses,
        bank,
        drifted,
    }
}

/// A calibration's errors against the truth of its world.
#[derive(Clone, Debug, PartialEq)]
pub struct Measures {
    /// The linking method the run used (what `auto` chose).
    pub linking: String,
    /// RMSE over every calibrated item as the run reports it (held anchors at their stored
    /// values), and over the items that are not anchors.
    pub rmse_a: f64,
    pub rmse_b: f64,
    pub rmse_a_new: f64,
    pub rmse_b_new: f64,
    pub rmse_theta: f64,
    /// The reported latent mean and SD less the mean and SD of this window's true θ.
    pub mean_bias: f64,
    pub sd_bias: f64,
    pub max_abs_b: f64,
    /// The largest |b| of the truth.
    pub max_abs_b_true: f64,
    /// Drifted anchors the last screening flagged, and other anchors it flagged.
    pub hits: usize,
    pub false_alarms: usize,
    /// Drifted anchors held at their stored values.
    pub drifted_held_fixed: usize,
}

/// Why a run gave no measures.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    NotConverged,
    Error(String),
}

impl World {
    /// The window as a front end would read it: ids from 1.
    pub fn answers(&self) -> Answers {
        window(&self.responses, self.truth.len(), None)
    }

    /// Calibrates this world's window under `arguments`, as the front ends do, screening
    /// anchors by `rule`.
    pub fn calibrate(
        &self,
        arguments: &Arguments,
        rule: DriftRule,
        pool: &ThreadPool,
    ) -> Result<Calibration, Failure> {
        let mut settings =
            Settings::from_arguments(arguments).map_err(|e| Failure::Error(e.to_string()))?;
        settings.drift_rule = rule;
        run(self.answers(), &self.bank, settings, pool)
    }

    pub fn measure(&self, c: &Calibration) -> Measures {
        let index = |id: &str| id.parse::<usize>().expect("simulated ids are numbers") - 1;
        let anchors = self.bank.anchors.len();
        let items: Vec<(usize, &ItemParams)> = c
            .item_ids
            .iter()
            .zip(&c.items)
            .map(|(id, item)| (index(id), &item.params))
            .collect();
        let rmse_of = |new_only: bool, f: &dyn Fn(&ItemParams) -> f64| {
            rmse(
                items
                    .iter()
                    .filter(|(j, _)| !new_only || *j >= anchors)
                    .map(|&(j, p)| (f(p), f(&self.truth[j]))),
            )
        };
        let thetas: Vec<(f64, f64)> = c
            .user_ids
            .iter()
            .zip(&c.abilities)
            .map(|(id, s)| (s.theta, self.thetas[index(id)]))
            .collect();
        let (true_mean, true_sd) = moments(self.thetas.iter().copied());
        let flagged: Vec<usize> = c.drifted().iter().map(|id| index(id)).collect();
        let hits = flagged.iter().filter(|&&j| self.drifted[j]).count();
        let drifted_held_fixed = c
            .item_ids
            .iter()
            .zip(&c.items)
            .filter(|(id, item)| item.fixed && self.drifted[index(id)])
            .count();
        Measures {
            linking: c.settings.linking.name().to_string(),
            rmse_a: rmse_of(false, &|p| p.slope()),
            rmse_b: rmse_of(false, &|p| p.b()),
            rmse_a_new: rmse_of(true, &|p| p.slope()),
            rmse_b_new: rmse_of(true, &|p| p.b()),
            rmse_theta: rmse(thetas.iter().copied()),
            mean_bias: c.latent.mean - true_mean,
            sd_bias: c.latent.variance.sqrt() - true_sd,
            max_abs_b: items.iter().map(|(_, p)| p.b().abs()).fold(0.0, f64::max),
            max_abs_b_true: self.truth.iter().map(|p| p.b().abs()).fold(0.0, f64::max),
            hits,
            false_alarms: flagged.len() - hits,
            drifted_held_fixed,
        }
    }
}

fn rmse(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (sum, n) = pairs.fold((0.0, 0usize), |(s, n), (x, y)| (s + (x - y).powi(2), n + 1));
    (sum / n as f64).sqrt()
}

/// Mean and SD (divisor n).
fn moments(x: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = x.clone().count() as f64;
    let mean = x.clone().sum::<f64>() / n;
    let var = x.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Two groups answering one complete test of right/wrong items, drawn as the shared fixtures'
/// two-group set is: log a ~ N(0, 0.3²), b ~ N(0, 1) (`draw_items`); the reference group θ ~ N(0, 1), the
/// focal group N(−0.4, 1.1²) (impact, which a matching score must not mistake for DIF); the
/// first `dif_items` items `dif` logits harder for the focal group (uniform DIF).
pub struct DifWorld {
    pub responses: Responses,
    pub side: Vec<Option<Side>>,
    /// Per item: whether it carries DIF.
    pub dif: Vec<bool>,
}

impl DifWorld {
    /// Calibrates the world as a run with groups does (`groups => 'group'`, the reference group
    /// `ref`, no anchors), its DIF screening included.
    pub fn calibrate(&self, pool: &ThreadPool) -> Result<Calibration, Failure> {
        let settings = Settings::from_arguments(&Arguments {
            linking: Some("none"),
            groups: Some("group"),
            reference_group: Some("ref"),
            ..Arguments::defaults()
        })
        .map_err(|e| Failure::Error(e.to_string()))?;
        let groups = GroupsRead {
            names: vec!["ref".into(), "focal".into()],
            of_user: self
                .side
                .iter()
                .map(|s| u32::from(*s == Some(Side::Focal)))
                .collect(),
        };
        let answers = window(&self.responses, self.dif.len(), Some(groups));
        run(answers, &Bank::default(), settings, pool)
    }
}

/// A simulated window as a front end would read it: ids from 1.
fn window(responses: &Responses, n_items: usize, groups: Option<GroupsRead>) -> Answers {
    Answers {
        scores: false,
        user_ids: (1..=responses.n_persons()).map(|i| i.to_string()).collect(),
        item_ids: (1..=n_items).map(|j| j.to_string()).collect(),
        rows_in_window: responses.n_answers() as i64,
        responses: responses.clone(),
        null_answers: 0,
        repeated: 0,
        groups,
        null_groups: 0,
    }
}

/// A simulated window calibrated as the front ends calibrate one, quietly.
fn run(
    answers: Answers,
    bank: &Bank,
    settings: Settings,
    pool: &ThreadPool,
) -> Result<Calibration, Failure> {
    let relations = Relations {
        source: "simulated",
        items: "simulated_bank",
    };
    // A world has no earlier runs.
    calibrate(
        answers,
        bank,
        &std::collections::HashMap::new(),
        settings,
        &relations,
        pool,
        &mut Quiet,
        u128::MAX,
    )
    .map_err(|e| match e {
        CoreError::NotConverged { .. } => Failure::NotConverged,
        e => Failure::Error(e.to_string()),
    })
}

pub const FOCAL_MEAN: f64 = -0.4;
pub const FOCAL_SD: f64 = 1.1;

/// Draws a two-group world: the same arguments give the same world on every machine.
pub fn dif_world(
    per_group: usize,
    items: usize,
    dif_items: usize,
    dif: f64,
    seed: u64,
) -> DifWorld {
    let mut rng = Rng::new(seed);
    let reference = draw_items(&mut rng, items);
    let focal: Vec<ItemParams> = reference
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let shift = if j < dif_items { dif } else { 0.0 };
            ItemParams::from_irt(p.slope(), p.b() + shift, 0.0)
        })
        .collect();
    let mut responses = Responses::with_items(items);
    let mut side = Vec::with_capacity(2 * per_group);
    for (group, params, mean, sd) in [
        (Side::Reference, &reference, 0.0, 1.0),
        (Side::Focal, &focal, FOCAL_MEAN, FOCAL_SD),
    ] {
        for _ in 0..per_group {
            let theta = mean + sd * rng.normal();
            let answers: Vec<(u32, u8)> = params
                .iter()
                .enumerate()
                .map(|(j, p)| (j as u32, rng.answer(p, theta)))
                .collect();
            responses
                .push_scored_person(answers)
                .expect("a world's answers fit in memory");
            side.push(Some(group));
        }
    }
    DifWorld {
        responses,
        side,
        dif: (0..items).map(|j| j < dif_items).collect(),
    }
}
