//! pg_irt: item response theory calibration inside PostgreSQL. This crate is the thin glue:
//! it reads rows through SPI, hands them to `irt-core`, and writes the results back.

// pgrx's SQL generator reads result columns from the spelled-out TableIterator type, so the
// signatures cannot hide it behind an alias.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

mod calibrate;
mod errors;
mod functions;
mod guc;
mod load;
mod memory;
mod panics;
mod promote;
mod report;
mod scan;
mod schedule;
mod session;

::pgrx::pg_module_magic!(name, version);

/// Registers the settings when the library loads.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    panics::install_hook();
    guc::init();
}

extension_sql_file!("../sql/tables.sql", name = "tables", bootstrap);
extension_sql_file!(
    "../sql/monitoring.sql",
    name = "monitoring",
    requires = ["tables"]
);
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

// pgrx runs every #[pg_test] from one inline schema module named `tests`.
#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("../pgrx-tests/mod.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
