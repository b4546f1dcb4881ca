//! The checks every SQL function applies to its arguments: a NULL where a value is needed is
//! SQLSTATE 22004 naming the argument, a number outside its documented range is 22023 naming
//! the range. The ranges keep one argument from multiplying a run's memory or time far past what
//! `pg_irt.max_answers` allows.

use std::ops::RangeInclusive;

use pgrx::PgSqlErrorCode;

use crate::errors::{invalid_argument, raise};

pub const LOOKBACK_DAYS: RangeInclusive<i32> = 1..=36_500;
pub const MAX_CYCLES: RangeInclusive<i32> = 1..=100_000;
pub const QUADRATURE_POINTS: RangeInclusive<i32> = 5..=301;
pub const THREADS: RangeInclusive<i32> = 1..=1_024;
pub const MIN_COUNT: RangeInclusive<i32> = 1..=1_000_000;
pub const CURVE_POINTS: RangeInclusive<i32> = 2..=10_000;
pub const TOLERANCE: RangeInclusive<f64> = 1e-12..=1.0;
pub const PRIOR_MEAN: RangeInclusive<f64> = -100.0..=100.0;
/// The prior's SD must be positive and at most this.
pub const PRIOR_SD_MAX: f64 = 100.0;

/// The value of an argument that must not be NULL.
pub fn required<T>(value: Option<T>, name: &str) -> T {
    value.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("argument {name} must not be NULL"),
            None,
            Some("Leave the argument out to take its default."),
        )
    })
}

/// A non-NULL integer argument within its range.
pub fn required_int(value: Option<i32>, name: &str, range: RangeInclusive<i32>) -> i32 {
    int_in(required(value, name), name, range)
}

/// A non-NULL float argument within its range.
pub fn required_float(value: Option<f64>, name: &str, range: RangeInclusive<f64>) -> f64 {
    float_in(required(value, name), name, range)
}

/// An integer argument within its range.
pub fn int_in(value: i32, name: &str, range: RangeInclusive<i32>) -> i32 {
    if !range.contains(&value) {
        invalid_argument(format!(
            "{name} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        ));
    }
    value
}

/// A finite float argument within its range.
pub fn float_in(value: f64, name: &str, range: RangeInclusive<f64>) -> f64 {
    if !range.contains(&value) {
        invalid_argument(format!(
            "{name} must be between {:?} and {:?}, got {value}",
            range.start(),
            range.end()
        ));
    }
    value
}

/// A finite float argument.
pub fn finite(value: f64, name: &str) -> f64 {
    if !value.is_finite() {
        invalid_argument(format!("{name} must be a finite number, got {value}"));
    }
    value
}
