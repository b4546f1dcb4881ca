//! A Rust panic inside pg_irt is a bug. The user sees it as one sentence (SQLSTATE XX000, what
//! panicked, a hint), never a backtrace in the message or DETAIL; the backtrace goes to the
//! server log at DEBUG1. PostgreSQL's own errors and pg_irt's deliberate ones pass through
//! untouched.

use std::any::Any;
use std::backtrace::Backtrace;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use pgrx::PgSqlErrorCode;

use crate::errors::raise;

/// The backtrace of the last panic that was a bug (threads of a run's pool included).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// A panic payload of plain text: `panic!`, `unwrap`, `expect`, an index out of bounds. pgrx
/// carries errors (its own and PostgreSQL's) as payloads of other types.
fn text_of(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// Replaces the panic hook (pgrx's captures a backtrace for every error it raises, and puts it
/// in the DETAIL when RUST_BACKTRACE is set) by one that records a backtrace for bugs only.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        if let Some(text) = text_of(info.payload()) {
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            let trace = format!("{text} at {location}\n{}", Backtrace::force_capture());
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(trace);
            }
        }
    }));
}

/// Runs the body of the SQL function `function`, turning a panic into an ERROR.
pub fn guarded<R>(function: &str, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let Some(text) = text_of(payload.as_ref()) else {
                resume_unwind(payload)
            };
            if let Some(trace) = LAST_PANIC.lock().ok().and_then(|mut last| last.take()) {
                pgrx::debug1!("pg_irt: {function} panicked: {trace}");
            }
            raise(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("pg_irt internal error in {function}: {text}"),
                None,
                Some("This is a bug in pg_irt; nothing was written. Please report it with the call that caused it (the server log has a backtrace at log_min_messages = debug1)."),
            )
        }
    }
}
