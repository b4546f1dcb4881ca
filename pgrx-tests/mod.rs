// PostgreSQL-level tests, run by `cargo pgrx test` inside a real server. Each runs in its own
// transaction, rolled back at the end. pgrx wants them in one inline module, so src/lib.rs
// includes this file and this file includes the rest.

use pgrx::prelude::*;

include!("support.rs");
include!("calibrate.rs");
include!("input_rules.rs");
include!("functions.rs");
include!("recovery.rs");
include!("standard_errors.rs");
include!("drift_and_fit.rs");
include!("report.rs");
include!("security.rs");
include!("server_safety.rs");
include!("argument_matrix.rs");
include!("categories.rs");
include!("groups.rs");
include!("trends.rs");
include!("promotion.rs");
