//! pg_irt: item response theory calibration inside PostgreSQL. This crate is the thin glue:
//! it reads rows through SPI, hands them to `irt-core`, and writes the results back.

use pgrx::prelude::*;

mod calibrate;
mod errors;
mod load;
mod prepare;
mod write;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/tables.sql", name = "tables", bootstrap);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
#[path = "../pgrx-tests/mod.rs"]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
