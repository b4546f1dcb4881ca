//! Item response theory calibration without a database: sparse answers in, item parameters,
//! person scores and scale links out. Bock–Aitkin EM as in R mirt, parallel on a caller's rayon
//! pool with bit-identical results for any thread count; a mirt-compatible mode reproduces
//! mirt's own EM run, for checking parity with it.
//!
//! What the front ends use is public: `pipeline` (a whole calibration), `settings`, `source`,
//! `window` and `bank` (the arguments and the rows they read), `error`, `alloc`, and the
//! helpers the extension's SQL functions call (`linking`, `scoring`, the items re-exported
//! below). The numerical modules the agreement tests check one by one (`linking`, `item_fit`,
//! `drift`, `linalg`, `quadrature`, `stats`) and the studies' `accuracy` and `simulate` are public
//! for those tests; the machinery of a fit (E-step, M-step, SEs, layout, optimisers) is not.

pub mod accuracy;
pub mod alloc;
pub mod bank;
mod bfgs;
mod blocks;
mod deriv;
pub mod dif;
pub mod drift;
mod em;
mod engine;
pub mod error;
mod estep;
mod exclusion;
mod exp;
mod forms;
mod interrupt;
pub mod item_fit;
mod layout;
pub mod lifecycle;
pub mod linalg;
pub mod linking;
mod logistic;
mod memory;
mod mirt_compat;
mod model;
mod mstep;
mod names;
mod optimise;
pub mod params;
pub mod pipeline;
mod priors;
pub mod quadrature;
mod reduce;
#[macro_use]
mod simd;
pub mod promotion;
mod responses;
pub mod scoring;
pub mod settings;
pub mod simulate;
pub mod source;
mod start;
pub mod stats;
mod stderr;
pub mod trend;
pub mod trend_worlds;
pub mod window;

pub use em::{fit, CycleReport, FitResult, ItemEstimate, SeStatus, Termination};
pub use error::{CoreError, Result};
pub use estep::log_likelihood;
pub use interrupt::Interrupt;
pub use model::{ItemModel, ItemParams, ItemPoint, ParamCovariance, Steps, MAX_CATEGORIES};
pub use params::{Algorithm, FitConfig, FitParams, StandardErrors};
pub use priors::{NormalPrior, Priors};
pub use quadrature::{Grid, Latent};
pub use responses::{Attempt, ItemStats, Responses};
pub use scoring::{score, Score, ScoreMethod};
