//! `pg-irt migrate`: the extension's tables, view and health function as plain SQL, for a
//! database that cannot install the extension. Creates what is missing and leaves what is
//! there, in one transaction; refuses when the extension owns them.

use tokio_postgres::Client;

use crate::failure::{Exit, Failure};

/// Creates or completes the result objects in `schema`; returns the schema, quoted.
pub async fn migrate(client: &mut Client, schema: &str) -> Result<String, Failure> {
    let tx = client.transaction().await?;
    let owner: Option<String> = tx
        .query_opt(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_irt'",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    if let Some(owner) = owner {
        return Err(Failure::new(
            Exit::BadInput,
            format!("the extension pg_irt is installed in schema {owner} and owns the result tables"),
        )
        .hint("Upgrade them with ALTER EXTENSION pg_irt UPDATE; pg-irt calibrate writes into them as they are."));
    }
    let quoted: String = tx
        .query_one("SELECT quote_ident($1)", &[&schema])
        .await?
        .get(0);
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
        .await?;
    tx.batch_execute(&irt_store::migration(&quoted)).await?;
    tx.commit().await?;
    Ok(quoted)
}
