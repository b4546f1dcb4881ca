//! The run as it goes, on stderr, in the words of the extension's NOTICEs and WARNINGs (a
//! progress bar over the EM cycles when stderr is a terminal), and the reasons a run stops
//! early: Ctrl-C, SIGTERM (what Kubernetes sends) or the session's `statement_timeout`.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use irt_core::pipeline::Reporter;
use irt_core::CycleReport;

/// Why a run must stop, checked between EM cycles.
#[derive(Clone)]
pub struct Stop {
    signalled: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Stop {
    /// `timeout`: the session's `statement_timeout`, applied to the whole run.
    pub fn new(signalled: Arc<AtomicBool>, timeout: Option<Duration>) -> Self {
        Self {
            signalled,
            deadline: timeout.map(|t| Instant::now() + t),
        }
    }

    /// Why to stop now, if at all.
    pub fn reason(&self) -> Option<String> {
        if self.signalled.load(Ordering::SeqCst) {
            return Some("interrupted by a signal (Ctrl-C or SIGTERM)".into());
        }
        self.deadline
            .filter(|&d| Instant::now() >= d)
            .map(|_| "statement timeout".into())
    }
}

/// Lines on stderr, or a bar with the lines above it on a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    stop: Stop,
}

impl Progress {
    pub fn new(max_cycles: usize, stop: Stop) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(max_cycles as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} EM cycle {pos}/{len} {wide_msg}")
                    .expect("a valid template"),
            );
            bar
        });
        Self { bar, stop }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Removes the bar before the final lines.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Progress {
    fn notice(&mut self, message: &str) {
        self.line(format!("NOTICE:  {message}"));
    }

    fn warning(&mut self, message: &str) {
        self.line(format!("WARNING:  {message}"));
    }

    fn cycle(&mut self, report: &CycleReport) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.set_position(report.cycle as u64);
            bar.set_message(format!(
                "logLik {:.4}, max change {:.2e}",
                report.log_lik, report.max_change
            ));
        }
        match self.stop.reason() {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    }

    fn interruption(&self) -> String {
        self.stop.reason().unwrap_or_else(|| "cancelled".into())
    }
}
