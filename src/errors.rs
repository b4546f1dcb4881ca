//! Every error the extension raises, with its SQLSTATE: the core's typed errors (which carry the
//! message, detail and hint both front ends share) map here once.

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

/// The core's SQLSTATE of an error as PostgreSQL encodes it (`MAKE_SQLSTATE`: six bits a
/// character).
fn sqlstate(err: &CoreError) -> PgSqlErrorCode {
    let code = err
        .sqlstate()
        .bytes()
        .enumerate()
        .fold(0i32, |code, (k, ch)| {
            code | ((i32::from(ch) - i32::from(b'0')) & 0x3F) << (6 * k)
        });
    PgSqlErrorCode::from(code)
}

pub fn raise_core(err: CoreError) -> ! {
    raise(sqlstate(&err), err.to_string(), err.detail(), err.hint())
}

/// A core result, or its error raised.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, CoreError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise_core(e))
    }
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
