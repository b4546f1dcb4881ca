//! `mirt_calibrate`: arguments checked, then the store's run (lock, read, calibrate, write)
//! through SPI — all in the caller's transaction.

use std::ops::ControlFlow;
use std::time::Instant;

use irt_core::pipeline::{Calibration, Reporter};
use irt_core::settings::{Arguments, Settings};
use irt_core::{CoreError, CycleReport, Interrupt};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use irt_store::Front;

use crate::errors::{raise, raise_core, OrRaise};
use crate::memory::TrimOnExit;
use crate::panics;
use crate::session::Spi;

/// The run's progress as NOTICEs and WARNINGs; cancellation checked after every EM cycle.
struct Messages;

impl Reporter for Messages {
    fn notice(&mut self, message: &str) {
        notice!("{message}");
    }

    fn warning(&mut self, message: &str) {
        warning!("{message}");
    }

    fn cycle(&mut self, _: &CycleReport) -> ControlFlow<()> {
        pgrx::check_for_interrupts!();
        ControlFlow::Continue(())
    }

    /// PostgreSQL's own flags of a pending cancel (pg_cancel_backend, statement_timeout) or
    /// terminate: the phases between cycles run on worker threads, which may read them but not
    /// process them; the backend's thread raises the interrupt once the phase has stopped.
    fn interrupt(&self) -> Interrupt {
        Interrupt::new(|| {
            // SAFETY: plain reads of sig_atomic_t flags that signal handlers set; no PostgreSQL
            // function is called from the worker thread.
            unsafe {
                std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0
                    || std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0
            }
        })
    }
}

#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
pub fn mirt_calibrate(
    model: default!(Option<&str>, "'2PL'"),
    lookback_days: default!(Option<i32>, 60),
    linking: default!(Option<&str>, "'auto'"),
    priors: default!(Option<&str>, "'bank'"),
    source: default!(Option<&str>, "'attempt'"),
    items: default!(Option<&str>, "'question'"),
    max_cycles: default!(Option<i32>, 500),
    tolerance: default!(Option<f64>, 1e-4),
    quadrature_points: default!(Option<i32>, 61),
    threads: default!(Option<i32>, "NULL"),
    accept_nonconverged: default!(Option<bool>, false),
    min_anchors: default!(Option<i32>, 5),
    min_responses: default!(Option<i32>, 5),
    attempt: default!(Option<&str>, "'first'"),
    algorithm: default!(Option<&str>, "'squarem'"),
    standard_errors: default!(Option<&str>, "'auto'"),
    anchor_drift: default!(Option<&str>, "'purify'"),
    drift_z: default!(Option<f64>, 2.576),
    groups: default!(Option<&str>, "NULL"),
    reference_group: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(run_id, String),
        name!(model, String),
        name!(n_items, i32),
        name!(n_users, i32),
        name!(n_anchors, i32),
        name!(n_observations, i64),
        name!(slope, f64),
        name!(intercept, f64),
        name!(loglik, f64),
        name!(aic, f64),
        name!(bic, f64),
        name!(em_cycles, i32),
        name!(converged, bool),
        name!(elapsed_ms, f64),
    ),
> {
    panics::guarded("mirt_calibrate", || {
        let _trim = TrimOnExit;
        let started = Instant::now();
        // Every argument is checked before anything is read.
        let settings = Settings::from_arguments(&Arguments {
            model,
            lookback_days,
            linking,
            priors,
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
            groups,
            reference_group,
        })
        .or_raise();
        let (calibration, written, run_id) = run(settings, started);
        let c = &calibration;
        TableIterator::once((
            run_id,
            c.settings.run_model.name().to_string(),
            c.item_ids.len() as i32,
            c.user_ids.len() as i32,
            c.n_anchors as i32,
            c.n_answers as i64,
            c.constants.slope,
            c.constants.intercept,
            c.fit.log_lik,
            c.fit.aic,
            c.fit.bic,
            c.fit.cycles as i32,
            c.converged(),
            written,
        ))
    })
}

/// Reads, calibrates and writes; returns the calibration, the elapsed milliseconds and the
/// run's id.
fn run(settings: Settings, started: Instant) -> (Calibration, f64, String) {
    let threads = crate::guc::threads(settings.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| {
            raise(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES,
                format!("cannot start {threads} threads: {e}"),
                None,
                None,
            )
        });
    let front = Front {
        written_by: "extension",
        version: env!("CARGO_PKG_VERSION"),
        threads,
        max_answers: i64::from(crate::guc::MAX_ANSWERS.get()),
        max_memory: crate::guc::MAX_MEMORY_MB.get() as u128 * 1_048_576,
    };
    let done = pgrx::spi::Spi::connect_mut(|client| {
        irt_store::run(
            &mut Spi { client },
            settings,
            &front,
            &pool,
            &mut Messages,
            started,
        )
    })
    .unwrap_or_else(|e| {
        // A phase stopped for PostgreSQL's pending cancel: raise that (57014 in its own
        // words, a timeout or a cancel) rather than ours.
        if matches!(e, CoreError::Interrupted { .. }) {
            pgrx::check_for_interrupts!();
        }
        raise_core(e)
    });
    notice!(
        "Calibration upsert completed: {} items, {} abilities",
        done.calibration.item_ids.len(),
        done.calibration.user_ids.len()
    );
    (
        done.calibration,
        started.elapsed().as_secs_f64() * 1e3,
        done.run_id,
    )
}
