//! The arguments of a calibration, as both front ends take them (the extension's
//! `mirt_calibrate(...)`, the command's `pg-irt calibrate --...`): the same names, defaults,
//! ranges and messages. A NULL where a value is needed and a value out of its range are refused
//! here, once, before anything is read.

use std::ops::RangeInclusive;

use crate::drift::{AnchorDrift, DriftRule};
use crate::error::{CoreError, Result};
use crate::linking::LinkingMethod;
use crate::model::ItemModel;
pub use crate::model::RunModel;
use crate::names::{named, unknown};
use crate::params::{Algorithm, StandardErrors};
use crate::priors::PriorsSetting;

pub const LOOKBACK_DAYS: RangeInclusive<i32> = 1..=36_500;
pub const MAX_CYCLES: RangeInclusive<i32> = 1..=100_000;
pub const QUADRATURE_POINTS: RangeInclusive<i32> = 5..=301;
pub const THREADS: RangeInclusive<i32> = 1..=1_024;
pub const MIN_COUNT: RangeInclusive<i32> = 1..=1_000_000;
pub const TOLERANCE: RangeInclusive<f64> = 1e-12..=1.0;
pub const DRIFT_Z: RangeInclusive<f64> = 1.0..=10.0;

/// The defaults of every argument (the extension's SQL defaults spell the same values).
pub mod defaults {
    pub const MODEL: &str = "2PL";
    pub const LOOKBACK_DAYS: i32 = 60;
    pub const LINKING: &str = "auto";
    pub const PRIORS: &str = "bank";
    pub const SOURCE: &str = "attempt";
    pub const ITEMS: &str = "question";
    // The fit's own defaults (mirt's), which a caller of `FitParams` gets too.
    pub const MAX_CYCLES: i32 = crate::params::DEFAULT_MAX_CYCLES as i32;
    pub const TOLERANCE: f64 = crate::params::DEFAULT_TOLERANCE;
    pub const QUADRATURE_POINTS: i32 = crate::params::DEFAULT_QUADRATURE_POINTS as i32;
    pub const ACCEPT_NONCONVERGED: bool = false;
    pub const MIN_ANCHORS: i32 = 5;
    pub const MIN_RESPONSES: i32 = 5;
    pub const ATTEMPT: &str = "first";
    pub const ALGORITHM: &str = "squarem";
    pub const STANDARD_ERRORS: &str = "auto";
    pub const ANCHOR_DRIFT: &str = "purify";
    pub const DRIFT_Z: f64 = crate::drift::DEFAULT_THRESHOLD;
    /// The most answers a run loads (`pg_irt.max_answers`, `pg-irt --max-answers`).
    pub const MAX_ANSWERS: i32 = 50_000_000;
    /// The most memory, in MB, a run may be predicted to hold (`pg_irt.max_memory`,
    /// `pg-irt --max-memory`).
    pub const MAX_MEMORY_MB: i32 = 4_096;
}

/// The value of an argument that must not be NULL.
pub fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| CoreError::NullArgument { name: name.into() })
}

/// An integer argument within its range.
pub fn int_in(value: i32, name: &str, range: RangeInclusive<i32>) -> Result<i32> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(CoreError::InvalidArgument {
        message: format!(
            "{name} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        ),
    })
}

/// A float argument within its range (NaN and ±Infinity are outside every range).
pub fn float_in(value: f64, name: &str, range: RangeInclusive<f64>) -> Result<f64> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(CoreError::InvalidArgument {
        message: format!(
            "{name} must be between {:?} and {:?}, got {value}",
            range.start(),
            range.end()
        ),
    })
}

/// A finite float argument.
pub fn finite(value: f64, name: &str) -> Result<f64> {
    if value.is_finite() {
        return Ok(value);
    }
    Err(CoreError::InvalidArgument {
        message: format!("{name} must be a finite number, got {value}"),
    })
}

/// How the new calibration is put on the anchors' scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// Separate calibration, then θ* = A·θ + B from the anchors.
    Separate(LinkingMethod),
    /// Anchors held at their stored values during estimation.
    Fixed,
    None,
}

impl Linking {
    /// A method by name, or None for `auto` (the run chooses: see `pipeline::auto_linking`).
    pub fn parse(s: &str) -> Result<Option<Self>> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(None),
            "fixed" => Ok(Some(Self::Fixed)),
            "none" => Ok(Some(Self::None)),
            other => LinkingMethod::find(other)
                .map(|m| Some(Self::Separate(m)))
                .ok_or_else(|| {
                    let methods = LinkingMethod::ALL.map(LinkingMethod::name);
                    let valid = methods.iter().chain(&["fixed", "none", "auto"]);
                    unknown("linking", ("linking method", "methods"), s, valid)
                }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Separate(m) => m.name(),
            Self::Fixed => "fixed",
            Self::None => "none",
        }
    }
}

/// Which attempt counts when a user answered an item more than once in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptRule {
    First,
    Last,
}

named!(AttemptRule, "attempt", "attempt rule", "rules", {
    First => "first",
    Last => "last",
});

/// The arguments as given: None where the caller passed NULL (the extension) or where a
/// front end has no value (the command fills in [`defaults`] first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arguments<'a> {
    pub model: Option<&'a str>,
    pub lookback_days: Option<i32>,
    pub linking: Option<&'a str>,
    pub priors: Option<&'a str>,
    pub source: Option<&'a str>,
    pub items: Option<&'a str>,
    pub max_cycles: Option<i32>,
    pub tolerance: Option<f64>,
    pub quadrature_points: Option<i32>,
    /// None: the cores available.
    pub threads: Option<i32>,
    pub accept_nonconverged: Option<bool>,
    pub min_anchors: Option<i32>,
    pub min_responses: Option<i32>,
    pub attempt: Option<&'a str>,
    pub algorithm: Option<&'a str>,
    pub standard_errors: Option<&'a str>,
    pub anchor_drift: Option<&'a str>,
    pub drift_z: Option<f64>,
    /// None: one population, no groups.
    pub groups: Option<&'a str>,
    /// None: the largest group.
    pub reference_group: Option<&'a str>,
}

impl Arguments<'static> {
    /// Every argument at its default.
    pub fn defaults() -> Self {
        use defaults::*;
        Self {
            model: Some(MODEL),
            lookback_days: Some(LOOKBACK_DAYS),
            linking: Some(LINKING),
            priors: Some(PRIORS),
            source: Some(SOURCE),
            items: Some(ITEMS),
            max_cycles: Some(MAX_CYCLES),
            tolerance: Some(TOLERANCE),
            quadrature_points: Some(QUADRATURE_POINTS),
            threads: None,
            accept_nonconverged: Some(ACCEPT_NONCONVERGED),
            min_anchors: Some(MIN_ANCHORS),
            min_responses: Some(MIN_RESPONSES),
            attempt: Some(ATTEMPT),
            algorithm: Some(ALGORITHM),
            standard_errors: Some(STANDARD_ERRORS),
            anchor_drift: Some(ANCHOR_DRIFT),
            drift_z: Some(DRIFT_Z),
            groups: None,
            reference_group: None,
        }
    }
}

/// Checked settings of one calibration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The model as asked for.
    pub run_model: RunModel,
    /// The model of its right/wrong items: `run_model.item_model()`.
    pub model: ItemModel,
    pub lookback_days: i32,
    /// The method of the run: as given, or once the run has chosen, what `auto` chose.
    pub linking: Linking,
    /// `linking => 'auto'`: `linking` is Stocking–Lord until the run chooses.
    pub linking_auto: bool,
    pub priors: PriorsSetting,
    pub priors_name: String,
    pub source: String,
    pub items: String,
    pub max_cycles: usize,
    pub tolerance: f64,
    pub quadrature_points: usize,
    pub threads: Option<usize>,
    pub accept_nonconverged: bool,
    pub min_anchors: usize,
    pub min_responses: usize,
    pub attempt: AttemptRule,
    pub algorithm: Algorithm,
    pub standard_errors: StandardErrors,
    pub anchor_drift: AnchorDrift,
    /// |z| whose two-sided level an anchor's p-value must reach to flag it.
    pub drift_z: f64,
    /// The score test; no argument changes it (the accuracy study sets the robust z beside it).
    pub drift_rule: DriftRule,
    /// The source's column whose value puts each person in a group (`groups`), and the group
    /// on the anchors' scale (`reference_group`, None for the largest).
    pub groups: Option<GroupSetting>,
}

/// `groups` and `reference_group` as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSetting {
    pub column: String,
    pub reference: Option<String>,
}

impl GroupSetting {
    /// None without `groups`; a reference group needs groups, and the mirt-compatible algorithm
    /// fits one population only.
    fn from_arguments(a: &Arguments<'_>, algorithm: Algorithm) -> Result<Option<Self>> {
        let invalid = |message: &str| CoreError::InvalidArgument {
            message: message.into(),
        };
        let Some(column) = a.groups else {
            return match a.reference_group {
                Some(_) => Err(invalid(
                    "reference_group names a group of the groups column: give groups too",
                )),
                None => Ok(None),
            };
        };
        if column.is_empty() {
            return Err(invalid("groups must name a column of the source, got ''"));
        }
        if algorithm == Algorithm::MirtCompatible {
            return Err(invalid(
                "algorithm 'mirt' fits one population: calibrate groups with 'squarem' or 'em'",
            ));
        }
        Ok(Some(Self {
            column: column.into(),
            reference: a.reference_group.map(str::to_string),
        }))
    }
}

impl Settings {
    /// Checks every argument, in the order they are declared.
    pub fn from_arguments(a: &Arguments<'_>) -> Result<Self> {
        let run_model = RunModel::parse(required(a.model, "model")?)?;
        let lookback_days = int_in(
            required(a.lookback_days, "lookback_days")?,
            "lookback_days",
            LOOKBACK_DAYS,
        )?;
        let linking = Linking::parse(required(a.linking, "linking")?)?;
        let priors_name = required(a.priors, "priors")?;
        let priors = PriorsSetting::parse(priors_name)?;
        let source = required(a.source, "source")?.to_string();
        let items = required(a.items, "items")?.to_string();
        let count =
            |value: Option<i32>, name: &str, range| int_in(required(value, name)?, name, range);
        let max_cycles = count(a.max_cycles, "max_cycles", MAX_CYCLES)? as usize;
        let tolerance = float_in(required(a.tolerance, "tolerance")?, "tolerance", TOLERANCE)?;
        let quadrature_points =
            count(a.quadrature_points, "quadrature_points", QUADRATURE_POINTS)? as usize;
        let threads = match a.threads {
            Some(n) => Some(int_in(n, "threads", THREADS)? as usize),
            None => None,
        };
        let accept_nonconverged = required(a.accept_nonconverged, "accept_nonconverged")?;
        let min_anchors = count(a.min_anchors, "min_anchors", MIN_COUNT)? as usize;
        let min_responses = count(a.min_responses, "min_responses", MIN_COUNT)? as usize;
        let attempt = AttemptRule::parse(required(a.attempt, "attempt")?)?;
        let algorithm = Algorithm::parse(required(a.algorithm, "algorithm")?)?;
        let standard_errors =
            StandardErrors::parse(required(a.standard_errors, "standard_errors")?)?;
        let anchor_drift = AnchorDrift::parse(required(a.anchor_drift, "anchor_drift")?)?;
        let drift_z = float_in(required(a.drift_z, "drift_z")?, "drift_z", DRIFT_Z)?;
        let groups = GroupSetting::from_arguments(a, algorithm)?;
        Ok(Self {
            run_model,
            model: run_model.item_model(),
            lookback_days,
            linking: linking.unwrap_or(Linking::Separate(LinkingMethod::StockingLord)),
            linking_auto: linking.is_none(),
            priors,
            priors_name: priors_name.trim().to_ascii_lowercase(),
            source,
            items,
            max_cycles,
            tolerance,
            quadrature_points,
            threads,
            accept_nonconverged,
            min_anchors,
            min_responses,
            attempt,
            algorithm,
            standard_errors,
            anchor_drift,
            drift_z,
            drift_rule: DriftRule::ScoreTest,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_settings() {
        let s = Settings::from_arguments(&Arguments::defaults()).unwrap();
        assert_eq!(s.model, ItemModel::TwoPL);
        assert!(s.linking_auto);
        assert_eq!(s.priors, crate::priors::PriorsSetting::Bank);
        assert_eq!(
            (s.lookback_days, s.max_cycles, s.quadrature_points),
            (60, 500, 61)
        );
    }

    #[test]
    fn nulls_and_ranges_are_named() {
        let mut a = Arguments::defaults();
        a.lookback_days = None;
        assert_eq!(
            Settings::from_arguments(&a).unwrap_err().to_string(),
            "argument lookback_days must not be NULL"
        );
        let mut a = Arguments::defaults();
        a.quadrature_points = Some(2_000_000_000);
        assert_eq!(
            Settings::from_arguments(&a).unwrap_err().to_string(),
            "quadrature_points must be between 5 and 301, got 2000000000"
        );
        let mut a = Arguments::defaults();
        a.tolerance = Some(f64::NAN);
        assert!(Settings::from_arguments(&a)
            .unwrap_err()
            .to_string()
            .ends_with("got NaN"));
        let mut a = Arguments::defaults();
        a.linking = Some("sometimes");
        assert!(Settings::from_arguments(&a)
            .unwrap_err()
            .to_string()
            .ends_with("fixed, none, auto"));
        a.linking = Some(" AUTO ");
        assert!(Settings::from_arguments(&a).unwrap().linking_auto);
        let mut a = Arguments::defaults();
        a.threads = None;
        assert_eq!(Settings::from_arguments(&a).unwrap().threads, None);
    }

    #[test]
    fn groups_name_a_column_and_the_reference_needs_them() {
        let mut a = Arguments::defaults();
        a.reference_group = Some("ref");
        assert!(Settings::from_arguments(&a)
            .unwrap_err()
            .to_string()
            .contains("give groups too"));
        a.groups = Some("");
        assert!(Settings::from_arguments(&a).is_err());
        a.groups = Some("School Type");
        let s = Settings::from_arguments(&a).unwrap();
        assert_eq!(
            s.groups,
            Some(GroupSetting {
                column: "School Type".into(),
                reference: Some("ref".into())
            })
        );
        a.algorithm = Some("mirt");
        assert!(Settings::from_arguments(&a)
            .unwrap_err()
            .to_string()
            .contains("one population"));
    }
}
