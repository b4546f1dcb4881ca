//! The one error type of the core and of both front ends' shared vocabulary: every impossible
//! argument, input or outcome has its own variant with its message, detail and hint, so that
//! the extension (a SQLSTATE) and the command (an exit code) say the same words for it.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CoreError {
    // Arguments.
    #[error("argument {name} must not be NULL")]
    NullArgument { name: String },
    #[error("{message}")]
    InvalidArgument { message: String },
    #[error("invalid setting {field}: {reason}")]
    InvalidSetting { field: &'static str, reason: String },

    // The source relations and their rows.
    #[error("invalid {role} relation name \"{name}\"")]
    InvalidRelationName { role: &'static str, name: String },
    #[error("{role} relation \"{name}\" does not exist")]
    MissingRelation { role: &'static str, name: String },
    #[error("relation {relation} has no column \"{column}\"")]
    MissingColumn {
        relation: String,
        column: String,
        expected: &'static str,
    },
    #[error("column {column} of {relation} has type {found}")]
    ColumnType {
        relation: String,
        column: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("column correct of {relation} holds {value}, which is neither 0 nor 1")]
    NotBinary { relation: String, value: f64 },
    #[error("column score of {relation} holds {value} for item {item}, which is not a category from 0 to 9")]
    NotAScore {
        relation: String,
        item: String,
        value: f64,
    },
    #[error("{count} rows of {relation} in the window have a NULL user_id or question_id")]
    NullIds { relation: String, count: i64 },
    #[error("more than {limit} rows in the window of {relation}: pg_irt.max_answers = {limit}")]
    TooManyAnswers { relation: String, limit: i64 },
    #[error(
        "user {user} is in group \"{first}\" and in group \"{second}\" in the window of {relation}"
    )]
    GroupChanged {
        relation: String,
        user: String,
        first: String,
        second: String,
    },
    #[error("the groups column of {relation} has more than {limit} distinct values in the window")]
    TooManyGroups { relation: String, limit: usize },
    #[error("groups of {column} with fewer than {minimum} persons to estimate a latent distribution from: {groups}")]
    SmallGroups {
        column: String,
        /// Each small group with its persons: `"a" (12 persons), "b" (40 persons)`.
        groups: String,
        minimum: usize,
    },
    #[error("reference_group \"{name}\" is not a group of {column} in the window (its groups: {groups})")]
    UnknownReferenceGroup {
        column: String,
        name: String,
        groups: String,
    },

    // The data a run is left with.
    #[error("no answers to calibrate")]
    NoAnswers,
    #[error("no usable answers in {source_name} in the last {lookback_days} days")]
    NoUsableAnswers {
        source_name: String,
        lookback_days: i32,
        rows_in_window: i64,
        null_answers: i64,
        excluded: usize,
    },
    #[error("{usable} usable anchors, fewer than min_anchors = {min_anchors}")]
    TooFewAnchors {
        usable: usize,
        min_anchors: usize,
        in_bank: usize,
        items: String,
    },
    #[error("only {survivors} anchors are left after drift screening flagged {}, fewer than min_anchors = {min_anchors}", flagged.join(", "))]
    DriftedAnchors {
        survivors: usize,
        min_anchors: usize,
        flagged: Vec<String>,
    },
    #[error("person {person} has no answers")]
    EmptyPerson { person: usize },
    #[error("item {item} has no answers")]
    EmptyItem { item: usize },
    #[error("item {item} is answered {} by everyone who answered it", if *.all_correct { "correctly" } else { "wrongly" })]
    ConstantItem { item: usize, all_correct: bool },
    #[error("item {item} has an answer {answer}, beyond its {categories} categories (0 to {})", categories - 1)]
    AnswerBeyondCategories {
        item: usize,
        answer: u8,
        categories: usize,
    },
    #[error("item {item} has no answer in category {category} of its {categories}")]
    EmptyCategory {
        item: usize,
        category: usize,
        categories: usize,
    },
    #[error("item {item} has a score {score} in the window, beyond the {categories} categories (0 to {}) its meta->'irt'->'categories' declares", categories - 1)]
    ScoreBeyondDeclared {
        item: String,
        score: u8,
        categories: usize,
    },
    #[error("item {item} has answers in {categories} categories; model {model} takes right/wrong answers only")]
    CategoriesNeedModel {
        item: String,
        categories: usize,
        model: &'static str,
    },
    #[error("item index {item} is out of range for {n_items} items")]
    ItemOutOfRange { item: usize, n_items: usize },
    #[error("invalid parameters for item {item}: {reason}")]
    InvalidItemParams { item: usize, reason: String },
    #[error("every item is fixed: nothing to estimate")]
    NothingToEstimate,

    // Outcomes.
    #[error("another mirt_calibrate is running")]
    RunLockBusy,
    #[error("canceling the calibration: {reason}")]
    Interrupted { reason: String },
    #[error("EM did not converge in {cycles} cycles (largest change {max_change:.2e}, tolerance {tolerance:.1e})")]
    NotConverged {
        cycles: usize,
        max_change: f64,
        tolerance: f64,
    },
    #[error("estimation produced a non-finite value for {what}")]
    NonFinite { what: &'static str },
    #[error("linking failed: {0}")]
    Linking(LinkingError),
    #[error("out of memory: {what} needs {} that the allocator could not give", human_bytes(*.bytes))]
    OutOfMemory { what: &'static str, bytes: u128 },
    #[error("a run would hold {} of memory, more than the limit of {}; the largest part is {part}, {}", human_bytes(*.total), human_bytes(*.limit), human_bytes(*.part_bytes))]
    MemoryLimit {
        total: u128,
        limit: u128,
        part: &'static str,
        part_bytes: u128,
    },
}

pub type Result<T> = std::result::Result<T, CoreError>;

/// What kind of failure an error is. The command's exit code is a function of it, and the
/// extension's SQLSTATE ([`CoreError::sqlstate`]) always lies in the class's codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// An argument breaks a documented rule (22004, 22023): a name, a range, item parameters,
    /// a link that cannot be computed from what was given.
    Argument,
    /// The source or the bank: a relation or column, a type, a value, the window or the
    /// anchors it leaves (42602, 42P01, 42703, 42804, 22P02, 23502, 54000, 22000).
    Input,
    /// EM did not converge, or produced non-finite values (22000, 22003).
    NotConverged,
    /// Another run holds the lock (55P03).
    Busy,
    /// Cancelled from outside: nothing written (57014).
    Cancelled,
    /// The memory the run needs: not there, or over the limit (53200, 54000).
    Memory,
}

impl From<LinkingError> for CoreError {
    fn from(e: LinkingError) -> Self {
        Self::Linking(e)
    }
}

/// What the hint of an out-of-memory error says.
const OUT_OF_MEMORY_HINT: &str =
    "Nothing was written and the server is unaffected. Shorten lookback_days, \
calibrate fewer items, lower quadrature_points, or free memory; pg_irt.max_answers bounds how many \
answers a run loads.";

impl CoreError {
    pub fn class(&self) -> ErrorClass {
        self.codes().0
    }

    /// The SQLSTATE the extension raises it with.
    pub fn sqlstate(&self) -> &'static str {
        self.codes().1
    }

    /// Each variant's class and SQLSTATE, side by side.
    fn codes(&self) -> (ErrorClass, &'static str) {
        use ErrorClass::*;
        match self {
            Self::NullArgument { .. } => (Argument, "22004"),
            Self::InvalidArgument { .. }
            | Self::InvalidSetting { .. }
            | Self::ItemOutOfRange { .. }
            | Self::InvalidItemParams { .. }
            | Self::CategoriesNeedModel { .. }
            | Self::UnknownReferenceGroup { .. }
            | Self::Linking(_) => (Argument, "22023"),
            Self::InvalidRelationName { .. } => (Input, "42602"),
            Self::MissingRelation { .. } => (Input, "42P01"),
            Self::MissingColumn { .. } => (Input, "42703"),
            Self::ColumnType { .. } => (Input, "42804"),
            Self::NotBinary { .. } | Self::NotAScore { .. } => (Input, "22P02"),
            Self::NullIds { .. } => (Input, "23502"),
            Self::TooManyAnswers { .. } => (Input, "54000"),
            Self::NoAnswers
            | Self::NoUsableAnswers { .. }
            | Self::TooFewAnchors { .. }
            | Self::DriftedAnchors { .. }
            | Self::EmptyPerson { .. }
            | Self::EmptyItem { .. }
            | Self::ConstantItem { .. }
            | Self::EmptyCategory { .. }
            | Self::GroupChanged { .. }
            | Self::TooManyGroups { .. }
            | Self::SmallGroups { .. }
            | Self::NothingToEstimate => (Input, "22000"),
            Self::AnswerBeyondCategories { .. } | Self::ScoreBeyondDeclared { .. } => {
                (Input, "22P02")
            }
            Self::NotConverged { .. } => (NotConverged, "22000"),
            Self::NonFinite { .. } => (NotConverged, "22003"),
            Self::RunLockBusy => (Busy, "55P03"),
            Self::Interrupted { .. } => (Cancelled, "57014"),
            Self::OutOfMemory { .. } => (Memory, "53200"),
            Self::MemoryLimit { .. } => (Memory, "54000"),
        }
    }

    /// A full sentence on the circumstances, where the message alone does not give them.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::MissingColumn { expected, .. } => Some(format!("The relation must have columns {expected}.")),
            Self::ColumnType { expected, .. } => Some(format!("{expected}.")),
            Self::NotBinary { .. } => Some("correct must be boolean, or a number that is 0 or 1.".into()),
            Self::ScoreBeyondDeclared { .. } => Some("Correct the score, or the item's declared number of categories.".into()),
            Self::CategoriesNeedModel { .. } => Some("Calibrate items scored in categories with model GRM, GPCM or PCM; on an item in two categories they are the 2PL (GRM, GPCM) and the Rasch model (PCM), so right/wrong items may stay in the same run.".into()),
            Self::NotAScore { .. } => Some("score must be a whole number from 0 (the lowest category) to 9; an item has at most 10 categories.".into()),
            Self::TooManyAnswers { .. } => Some(
                "The read stopped there, before the rest was loaded; nothing was calibrated. A run peaks at about 25 bytes of memory per answer."
                    .into(),
            ),
            Self::NoUsableAnswers { rows_in_window, null_answers, excluded, .. } => Some(format!(
                "{rows_in_window} rows in the window, {null_answers} with a NULL answer, {excluded} items excluded."
            )),
            Self::TooFewAnchors { usable, in_bank, items, .. } => {
                Some(format!("{in_bank} anchors in {items}, {usable} usable."))
            }
            Self::NotConverged { .. } | Self::Interrupted { .. } => {
                Some("Nothing was written; the previous calibration stays current.".into())
            }
            _ => None,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::NullArgument { .. } => "Leave the argument out to take its default.",
            Self::RunLockBusy => {
                "Wait for it to finish; runs are serialised by an advisory lock so that two runs never interleave their writes."
            }
            Self::MissingRelation { .. } => {
                "Name a table or view visible on the search_path, or create a view with the expected columns."
            }
            Self::MissingColumn { .. } => "Adapt your schema with a view that renames the columns.",
            Self::NullIds { .. } => "Filter them out in a view, or fix the rows.",
            Self::GroupChanged { .. } => {
                "A person belongs to one group for the whole window: group by what does not change within it (the group at registration, say), in a view."
            }
            Self::TooManyGroups { .. } => {
                "Name a column of groups, not of persons: a view can map its values to a few groups."
            }
            Self::SmallGroups { .. } => {
                "Merge the small groups in a view (CASE … ELSE 'other' END), or leave their persons out with a WHERE clause."
            }
            Self::TooManyAnswers { .. } => {
                "Shorten lookback_days, or raise pg_irt.max_answers (a superuser setting) if the server has the memory."
            }
            Self::NoUsableAnswers { .. } => {
                "Widen lookback_days, or check that the source relation holds recent answers."
            }
            Self::TooFewAnchors { .. } => {
                "Tag more items with \"anchor\" and give them meta->'irt', lower min_anchors, or calibrate without linking (linking => 'none')."
            }
            Self::DriftedAnchors { .. } => {
                "Review the flagged anchors (their stored meta->'irt' or their \"anchor\" tag); or raise drift_z, lower min_anchors, or link with every anchor and only record the drift (anchor_drift => 'flag')."
            }
            Self::NotConverged { .. } => {
                "Raise max_cycles, use default priors, or accept the run with accept_nonconverged => true."
            }
            Self::NonFinite { .. } => "Use priors => 'default' or exclude the item.",
            Self::OutOfMemory { .. } => OUT_OF_MEMORY_HINT,
            Self::MemoryLimit { .. } => {
                "Nothing was read into the fit. Use standard_errors => 'item' for a large bank, shorten lookback_days, or raise the limit (pg_irt.max_memory, or pg-irt --max-memory) if the server has the memory."
            }
            _ => return None,
        })
    }
}

/// A size as people read it: 1.5 GB, 820 MB, 12 kB.
pub fn human_bytes(bytes: u128) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// Why linking constants could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkingError {
    /// Fewer common items than any method can identify two constants from.
    TooFewItems { needed: usize, got: usize },
    /// 'from', 'to' (and covariances, if given) do not pair up item by item.
    LengthMismatch,
    /// A NaN or infinite value; `what` names the field, e.g. "from.b".
    NonFinite { what: &'static str, index: usize },
    /// A discrimination ≤ 0 in either set (the transformation divides by a
    /// positive slope, so the sign of a must already be positive).
    NonPositiveSlope { index: usize },
    /// A lower asymptote outside [0, 1) in either set: not a probability a curve can start at.
    GuessingOutOfRange { index: usize },
    /// A 'from' item and its 'to' item are not of one shape (right/wrong, or as many
    /// categories formed alike): their curves cannot be compared. `index` counts from 0, the
    /// message from 1 (it reaches SQL, whose arrays do).
    ShapeMismatch { index: usize },
    /// Zero spread makes the constants undefined: mean–sigma with sd(b) = 0
    /// in either set.
    DegenerateSpread,
    /// Newton's method found no strict minimum of the characteristic-curve
    /// criterion (e.g. a flat criterion) within the iteration limit.
    NoConvergence,
    /// Finite input whose constants (or criterion) are not: sums and products of
    /// parameters near f64::MAX overflow, tiny over huge slopes underflow to A = 0.
    OutOfRange,
}

impl fmt::Display for LinkingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkingError::TooFewItems { needed, got } => {
                write!(f, "linking needs at least {needed} common items, got {got}")
            }
            LinkingError::LengthMismatch => {
                write!(f, "item lists (and covariances) differ in length")
            }
            LinkingError::NonFinite { what, index } => {
                write!(f, "non-finite {what} at item {index}")
            }
            LinkingError::NonPositiveSlope { index } => {
                write!(f, "non-positive discrimination at item {index}")
            }
            LinkingError::GuessingOutOfRange { index } => {
                write!(f, "lower asymptote outside [0, 1) at item {index}")
            }
            LinkingError::ShapeMismatch { index } => write!(
                f,
                "common item {} (counting from 1) is scored in other categories in 'from' than \
                 in 'to'",
                index + 1
            ),
            LinkingError::DegenerateSpread => {
                write!(f, "item parameters have zero spread, linking is undefined")
            }
            LinkingError::NoConvergence => {
                write!(f, "linking criterion minimisation did not converge")
            }
            LinkingError::OutOfRange => {
                write!(
                    f,
                    "item parameters put the linking constants out of numeric range"
                )
            }
        }
    }
}

impl std::error::Error for LinkingError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of every variant.
    fn every_variant() -> Vec<CoreError> {
        let text = || "x".to_string();
        vec![
            CoreError::NullArgument { name: text() },
            CoreError::InvalidArgument { message: text() },
            CoreError::InvalidSetting {
                field: "f",
                reason: text(),
            },
            CoreError::InvalidRelationName {
                role: "source",
                name: text(),
            },
            CoreError::MissingRelation {
                role: "source",
                name: text(),
            },
            CoreError::MissingColumn {
                relation: text(),
                column: text(),
                expected: "e",
            },
            CoreError::ColumnType {
                relation: text(),
                column: "c",
                found: text(),
                expected: "e",
            },
            CoreError::NotBinary {
                relation: text(),
                value: 2.0,
            },
            CoreError::NotAScore {
                relation: text(),
                item: text(),
                value: 1.5,
            },
            CoreError::NullIds {
                relation: text(),
                count: 1,
            },
            CoreError::TooManyAnswers {
                relation: text(),
                limit: 1,
            },
            CoreError::GroupChanged {
                relation: text(),
                user: text(),
                first: text(),
                second: text(),
            },
            CoreError::TooManyGroups {
                relation: text(),
                limit: 100,
            },
            CoreError::SmallGroups {
                column: text(),
                groups: text(),
                minimum: 100,
            },
            CoreError::UnknownReferenceGroup {
                column: text(),
                name: text(),
                groups: text(),
            },
            CoreError::NoAnswers,
            CoreError::NoUsableAnswers {
                source_name: text(),
                lookback_days: 1,
                rows_in_window: 0,
                null_answers: 0,
                excluded: 0,
            },
            CoreError::TooFewAnchors {
                usable: 1,
                min_anchors: 5,
                in_bank: 1,
                items: text(),
            },
            CoreError::DriftedAnchors {
                survivors: 1,
                min_anchors: 5,
                flagged: vec![text()],
            },
            CoreError::EmptyPerson { person: 0 },
            CoreError::EmptyItem { item: 0 },
            CoreError::ConstantItem {
                item: 0,
                all_correct: true,
            },
            CoreError::AnswerBeyondCategories {
                item: 0,
                answer: 4,
                categories: 4,
            },
            CoreError::EmptyCategory {
                item: 0,
                category: 1,
                categories: 3,
            },
            CoreError::ScoreBeyondDeclared {
                item: text(),
                score: 4,
                categories: 3,
            },
            CoreError::CategoriesNeedModel {
                item: text(),
                categories: 3,
                model: "2PL",
            },
            CoreError::ItemOutOfRange {
                item: 9,
                n_items: 1,
            },
            CoreError::InvalidItemParams {
                item: 0,
                reason: text(),
            },
            CoreError::NothingToEstimate,
            CoreError::RunLockBusy,
            CoreError::Interrupted { reason: text() },
            CoreError::NotConverged {
                cycles: 1,
                max_change: 1.0,
                tolerance: 1e-4,
            },
            CoreError::NonFinite { what: "w" },
            CoreError::Linking(LinkingError::LengthMismatch),
            CoreError::OutOfMemory {
                what: "w",
                bytes: 1,
            },
            CoreError::MemoryLimit {
                total: 2,
                limit: 1,
                part: "p",
                part_bytes: 1,
            },
        ]
    }

    /// Every variant's SQLSTATE lies among its class's codes, as `ErrorClass` documents them:
    /// the extension's SQLSTATE and the command's exit code say the same of every error.
    #[test]
    fn every_error_s_sqlstate_belongs_to_its_class() {
        let errors = every_variant();
        let kinds: std::collections::HashSet<_> =
            errors.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), errors.len(), "one error per variant");
        for e in &errors {
            let codes: &[&str] = match e.class() {
                ErrorClass::Argument => &["22004", "22023"],
                ErrorClass::Input => &[
                    "42602", "42P01", "42703", "42804", "22P02", "23502", "54000", "22000",
                ],
                ErrorClass::NotConverged => &["22000", "22003"],
                ErrorClass::Busy => &["55P03"],
                ErrorClass::Cancelled => &["57014"],
                ErrorClass::Memory => &["53200", "54000"],
            };
            assert!(codes.contains(&e.sqlstate()), "{e:?}: {}", e.sqlstate());
            let code = e.sqlstate();
            assert!(
                code.len() == 5
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            );
        }
    }
}
