//! `pg-irt report`: the page `SELECT mirt_report(run_id)` gives, from the same document.

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::failure::{Exit, Failure};
use crate::results::result_schema;

/// The report of run `run_id`, or of the latest run, as one HTML document.
pub async fn report(client: &Client, run_id: Option<&str>) -> Result<String, Failure> {
    let schema = result_schema(client).await?;
    let row = client
        .query_one(&irt_store::report_data(&schema), &[&run_id])
        .await
        .map_err(|e| match e.code() {
            // Result tables made by a migration of an earlier version.
            Some(&SqlState::UNDEFINED_FUNCTION) => Failure::new(
                Exit::BadInput,
                format!("function {schema}.mirt_report_data(text) does not exist"),
            )
            .hint("Run pg-irt migrate to add it to the result tables' schema."),
            _ => Failure::from(e),
        })?;
    let text: Option<String> = row.get(0);
    let doc = match text {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            Failure::new(
                Exit::Failed,
                format!("mirt_report_data returned a document that is not JSON: {e}"),
            )
        })?,
        None => serde_json::Value::Null,
    };
    Ok(irt_report::render(&doc))
}
