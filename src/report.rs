//! `mirt_report(run_id)`: one run's report as a self-contained HTML document. The SQL function
//! `mirt_report_data` gathers the run (the `pg-irt report` command reads the same document) and
//! irt-report draws it.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::errors::{raise, spi_failed};
use crate::panics;
use crate::session::extension_schema;

/// The report of run `run_id`, or of the latest run when NULL. A run that is not recorded (a
/// failed run writes nothing) still gets a page that says so.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_report(run_id: default!(Option<&str>, "NULL")) -> String {
    panics::guarded("mirt_report", || {
        let text: Option<String> = Spi::connect(|client| {
            let sql = irt_store::report_data(&extension_schema(client));
            client
                .select(&sql, None, &[run_id.into()])
                .and_then(|t| t.first().get_one())
                .unwrap_or_else(|e| spi_failed(e))
        });
        let doc = text
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .unwrap_or_else(|e| {
                raise(
                    PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                    format!("mirt_report_data returned a document that is not JSON: {e}"),
                    None,
                    None,
                )
            })
            .unwrap_or_default();
        irt_report::render(&doc)
    })
}
