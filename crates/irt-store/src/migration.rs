//! The result tables, views and health function of the extension's install script as plain SQL,
//! for a database that cannot install the extension (`pg-irt migrate`).

/// The tables, views and health function of the extension's install script, as plain SQL that
/// creates what is missing in `schema` (quoted) and leaves what is there: for a database that
/// cannot install the extension. The same files make both, so they cannot drift apart.
pub fn migration(schema: &str) -> String {
    let mut sql = format!("SET LOCAL search_path = {schema}, pg_catalog;\n");
    for source in [
        include_str!("../../../sql/tables.sql"),
        include_str!("../../../sql/monitoring.sql"),
    ] {
        for line in source.lines() {
            // pg_dump keeps the rows of plain tables anyway.
            if line.starts_with("SELECT pg_catalog.pg_extension_config_dump") {
                continue;
            }
            let line = line
                .replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
                .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
                .replace("CREATE VIEW ", "CREATE OR REPLACE VIEW ")
                .replace("CREATE FUNCTION ", "CREATE OR REPLACE FUNCTION ")
                .replace("@extschema@", schema);
            sql.push_str(&line);
            sql.push('\n');
        }
    }
    sql.push_str(ADDED_COLUMNS);
    sql
}

/// Columns added to a table after its first version: `CREATE TABLE IF NOT EXISTS` leaves a table
/// an earlier migration made as it was, so they are added here (the extension's update script
/// adds them with `ALTER EXTENSION … UPDATE`).
const ADDED_COLUMNS: &str = "ALTER TABLE mirt_ability ADD COLUMN IF NOT EXISTS zh float8 CHECK (zh > '-Infinity' AND zh < 'Infinity');\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_is_the_install_script_made_idempotent() {
        let sql = migration("\"irt\"");
        assert!(sql.starts_with("SET LOCAL search_path = \"irt\", pg_catalog;"));
        assert!(
            !sql.contains("SELECT pg_catalog.pg_extension_config_dump")
                && !sql.contains("@extschema@")
        );
        for object in [
            "mirt_fit_meta",
            "mirt_item_params",
            "mirt_item_params_history",
            "mirt_ability",
            "mirt_anchor_drift",
            "mirt_item_fit",
            "mirt_item_dif",
            "mirt_item_trend",
            "mirt_bank_changes",
        ] {
            assert!(
                sql.contains(&format!("CREATE TABLE IF NOT EXISTS {object} (")),
                "{object}"
            );
        }
        assert!(sql.contains("CREATE OR REPLACE VIEW mirt_run_status"));
        assert!(sql.contains("CREATE OR REPLACE VIEW mirt_items_for_review"));
        assert!(sql.contains("ADD COLUMN IF NOT EXISTS zh"));
        assert!(sql.contains("CREATE OR REPLACE FUNCTION mirt_health()"));
        assert!(!sql.contains("CREATE TABLE mirt") && !sql.contains("CREATE VIEW mirt"));
    }
}
