//! What a front end tells a run and hears from it: the relations it read, and a reporter for
//! its notices, warnings, cycles and cancellation.

use std::ops::ControlFlow;
use std::time::Instant;

use crate::em::CycleReport;
use crate::interrupt::Interrupt;

/// The relations a run read, as the database quotes them (they appear in messages).
pub struct Relations<'a> {
    pub source: &'a str,
    pub items: &'a str,
}

/// How a front end hears of a run as it goes: NOTICEs and WARNINGs in the extension, lines on
/// stderr for the command.
pub trait Reporter {
    fn notice(&mut self, message: &str);
    fn warning(&mut self, message: &str);
    /// After every EM cycle, on the calling thread, between parallel sections: where a front end
    /// checks for cancellation. `Break` ends the run.
    fn cycle(&mut self, report: &CycleReport) -> ControlFlow<()>;
    /// Why `cycle` asked to stop, for the error that ends the run.
    fn interruption(&self) -> String {
        "cancelled".into()
    }

    /// What the phases between cycles poll, from any thread (the standard errors, the scores).
    fn interrupt(&self) -> Interrupt {
        Interrupt::never()
    }
}

/// A reporter that says nothing and never stops a run: for callers without a user to tell
/// (the accuracy study, tests).
pub struct Quiet;

impl Reporter for Quiet {
    fn notice(&mut self, _: &str) {}
    fn warning(&mut self, _: &str) {}
    fn cycle(&mut self, _: &CycleReport) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// Milliseconds since `t`, as the run's timings report them.
pub(super) fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
