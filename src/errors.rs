//! Every error the extension raises, with its SQLSTATE: the core's typed errors map here once.

use irt_core::linking::LinkingError;
use irt_core::CoreError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Raises an ERROR; never returns.
pub fn raise(
    code: PgSqlErrorCode,
    message: impl Into<String>,
    detail: Option<String>,
    hint: Option<&str>,
) -> ! {
    let mut report = ErrorReport::new(code, message.into(), "pg_irt");
    if let Some(d) = detail {
        report = report.set_detail(d);
    }
    if let Some(h) = hint {
        report = report.set_hint(h);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR returns control to PostgreSQL")
}

/// Invalid argument (22023), the error that lists valid values.
pub fn invalid_argument(message: impl Into<String>) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message,
        None,
        None,
    )
}

/// What the hint of an out-of-memory error says: a run's size follows the window, the bank
/// and the arguments, and nothing of it was written.
pub const OUT_OF_MEMORY_HINT: &str = "Nothing was written and the server is unaffected. Shorten lookback_days, \
calibrate fewer items, lower quadrature_points, or free memory on the server; pg_irt.max_answers bounds how many \
answers a run loads.";

/// The server could not give `what` the memory it needs to grow (53200).
pub fn out_of_memory(what: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
        format!("out of memory: {what} could not grow"),
        None,
        Some(OUT_OF_MEMORY_HINT),
    )
}

pub fn raise_core(err: CoreError) -> ! {
    use PgSqlErrorCode::*;
    let code = match &err {
        CoreError::InvalidSetting { .. } | CoreError::ItemOutOfRange { .. } => {
            ERRCODE_INVALID_PARAMETER_VALUE
        }
        CoreError::InvalidItemParams { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
        CoreError::NoAnswers
        | CoreError::EmptyPerson { .. }
        | CoreError::EmptyItem { .. }
        | CoreError::ConstantItem { .. }
        | CoreError::NothingToEstimate => ERRCODE_DATA_EXCEPTION,
        CoreError::NonFinite { .. } => ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        CoreError::OutOfMemory { .. } => ERRCODE_OUT_OF_MEMORY,
    };
    let hint = matches!(err, CoreError::OutOfMemory { .. }).then_some(OUT_OF_MEMORY_HINT);
    raise(code, err.to_string(), None, hint)
}

pub fn raise_linking(err: LinkingError) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("linking failed: {err}"),
        None,
        None,
    )
}

/// An SPI call that should not fail did (the database's own error has already been raised
/// where there was one): XX000 with what SPI said.
pub fn spi_failed(err: pgrx::spi::SpiError) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("SPI call failed: {err}"),
        None,
        None,
    )
}
