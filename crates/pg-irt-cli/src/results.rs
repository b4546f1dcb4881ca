//! Where the result tables are: the schema in which the search_path finds `mirt_fit_meta`.

use tokio_postgres::GenericClient;

use crate::failure::{Exit, Failure};

/// The result tables' schema, quoted; a hint to migrate when the search_path finds none.
pub async fn result_schema(client: &impl GenericClient) -> Result<String, Failure> {
    let schema: Option<String> = client
        .query_one(irt_store::RESULT_SCHEMA, &[])
        .await?
        .get(0);
    schema.ok_or_else(|| {
        Failure::new(Exit::BadInput, "relation \"mirt_fit_meta\" does not exist").hint(
            "Create the result tables with pg-irt migrate, or put their schema on the search_path.",
        )
    })
}
