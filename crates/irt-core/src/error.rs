//! The one error type of the core: every impossible input or setting has its own variant, so
//! the SQL layer can map each to a deliberate SQLSTATE instead of a panic.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CoreError {
    #[error("no answers to calibrate")]
    NoAnswers,
    #[error("person {person} has no answers")]
    EmptyPerson { person: usize },
    #[error("item {item} has no answers")]
    EmptyItem { item: usize },
    #[error("item {item} is answered {} by everyone who answered it", if *.all_correct { "correctly" } else { "wrongly" })]
    ConstantItem { item: usize, all_correct: bool },
    #[error("item index {item} is out of range for {n_items} items")]
    ItemOutOfRange { item: usize, n_items: usize },
    #[error("invalid setting {field}: {reason}")]
    InvalidSetting { field: &'static str, reason: String },
    #[error("invalid parameters for item {item}: {reason}")]
    InvalidItemParams { item: usize, reason: String },
    #[error("every item is fixed: nothing to estimate")]
    NothingToEstimate,
    #[error("estimation produced a non-finite value for {what}")]
    NonFinite { what: &'static str },
    #[error("out of memory: {what} needs {} that the allocator could not give", human_bytes(*.bytes))]
    OutOfMemory { what: &'static str, bytes: u128 },
}

pub type Result<T> = std::result::Result<T, CoreError>;

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
