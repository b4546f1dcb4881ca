//! Item response theory calibration without a database: sparse answers in, item parameters,
//! person scores and scale links out. `pipeline` runs a whole calibration for both front ends
//! (the extension and the `pg-irt` command), which only read, write and report. Bock–Aitkin EM as in R mirt, parallel on a caller's rayon
//! pool with bit-identical results for any thread count. A mirt-compatible mode reproduces
//! mirt's own EM run, for checking parity with it.

pub mod accuracy;
pub mod alloc;
pub mod bank;
mod bfgs;
mod blocks;
pub mod drift;
pub mod em;
mod engine;
pub mod error;
pub mod estep;
pub mod exclusion;
mod exp;
mod forms;
pub mod interrupt;
pub mod item_fit;
mod layout;
pub mod lifecycle;
pub mod linalg;
pub mod linking;
pub mod memory;
mod mirt_compat;
pub mod model;
pub mod mstep;
mod names;
mod optimise;
pub mod params;
pub mod pipeline;
pub mod priors;
pub mod quadrature;
mod reduce;
#[macro_use]
mod simd;
pub mod responses;
pub mod scoring;
pub mod settings;
pub mod simulate;
pub mod source;
mod start;
pub mod stats;
pub mod stderr;
pub mod window;

pub use em::{fit, CycleReport, FitResult, ItemEstimate, SeStatus, Termination};
pub use error::{CoreError, Result};
pub use estep::log_likelihood;
pub use interrupt::Interrupt;
pub use model::{ItemModel, ItemParams};
pub use params::{Algorithm, FitConfig, FitParams, StandardErrors};
pub use priors::{NormalPrior, Priors};
pub use quadrature::{Grid, Latent};
pub use responses::{Attempt, ItemStats, Responses};
pub use scoring::{score, Score, ScoreMethod};
