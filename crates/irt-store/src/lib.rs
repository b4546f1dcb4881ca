//! How a calibration is stored, for both front ends: the run's sequence from lock to last
//! write (`run`, against a [`Session`] each front end implements), the statements and their
//! typed parameters (`statements`, `write`), the bank's promotions and retirements
//! (`promotion`), and the tables, views and health function as plain
//! SQL for a database without the extension (`migration`).

mod migration;
mod promotion;
mod run;
mod statements;
mod write;

pub use migration::migration;
pub use promotion::{promote, Change, Promotion};
pub use run::{resolve, run, Cell, Done, Front, Session};
pub use statements::*;
pub use write::Param;
