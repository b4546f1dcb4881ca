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
        CoreError::SingularInformation | CoreError::NonFinite { .. } => {
            ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
        }
    };
    raise(code, err.to_string(), None, None)
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
