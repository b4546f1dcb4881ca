//! How a caller stops a run from outside it, in any phase and on any thread: a check the long
//! loops poll (between batches of persons, panels of the factorisation, blocks of the inverse,
//! leaves of the E-step), after which the phase returns `CoreError::Interrupted`. The extension
//! answers it from PostgreSQL's pending cancel and terminate flags, the command from its signals
//! and deadline.

use std::fmt;
use std::sync::Arc;

use crate::error::{CoreError, Result};

#[derive(Clone, Default)]
pub struct Interrupt(Option<Arc<dyn Fn() -> bool + Send + Sync>>);

impl Interrupt {
    /// Never interrupts.
    pub fn never() -> Self {
        Self(None)
    }

    /// Interrupts once `requested` says so; it is called from worker threads.
    pub fn new(requested: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(requested)))
    }

    pub fn requested(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f())
    }

    /// Err(Interrupted) once requested.
    pub fn check(&self) -> Result<()> {
        if self.requested() {
            return Err(CoreError::Interrupted {
                reason: "cancelled".into(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Interrupt(set)"
        } else {
            "Interrupt(never)"
        })
    }
}
