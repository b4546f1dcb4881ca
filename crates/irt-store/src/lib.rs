//! How a calibration is stored, for both front ends: the statements that write a run into the
//! result tables (the extension runs them through SPI, the `pg-irt` command through its
//! connection, with the same parameters), and the tables, views and health function as plain
//! SQL for a database without the extension.

/// The statements of one run's write, against the result tables in `schema` (quoted).
///
/// Parameters: `run_id` takes the run's timestamp; `insert_run` (run_id, model_spec, metrics,
/// status, fitted_at); `upsert_items` and `append_history` (item ids, params, n_responses,
/// p_values, run_id, model, fitted_at); `upsert_abilities` (user ids, thetas, SEs, n_responses,
/// run_id, fitted_at, zh); `insert_drift` (run_id, then the columns of `DriftColumns` in
/// order); `insert_item_fit` (run_id, then the columns of `ItemFitColumns` in order); `notify`
/// (payload); `record_timing` (run_id, write ms, total ms). `flagged_anchors` reads, before a
/// run, the anchors whose latest screening flagged them: (item_id, run_id, stored a, b, c).
pub struct Statements {
    pub run_id: String,
    pub insert_run: String,
    pub upsert_items: String,
    pub append_history: String,
    pub upsert_abilities: String,
    pub insert_drift: String,
    pub insert_item_fit: String,
    pub notify: String,
    pub record_timing: String,
    pub flagged_anchors: String,
}

impl Statements {
    pub fn new(schema: &str) -> Self {
        Self {
            // fit-<UTC second>, with microseconds when a run already holds that second.
            run_id: format!(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM {schema}.mirt_fit_meta WHERE run_id = s) THEN u ELSE s END FROM \
                 (SELECT 'fit-' || to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') s, 'fit-' || to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') u \
                  FROM (SELECT $1::timestamptz AT TIME ZONE 'UTC' t) c) r"
            ),
            insert_run: format!(
                "INSERT INTO {schema}.mirt_fit_meta (run_id, model_spec, metrics, status, fitted_at) \
                 VALUES ($1, $2::text::jsonb, $3::text::jsonb, $4, $5)"
            ),
            upsert_items: format!(
                "INSERT INTO {schema}.mirt_item_params (item_id, model, params, n_responses, p_value, run_id, fitted_at) \
                 SELECT i, $6, p::jsonb, n, pv, $5, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) AS u(i, p, n, pv) \
                 ON CONFLICT (item_id) DO UPDATE SET model = EXCLUDED.model, params = EXCLUDED.params, \
                 n_responses = EXCLUDED.n_responses, p_value = EXCLUDED.p_value, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at"
            ),
            append_history: format!(
                "INSERT INTO {schema}.mirt_item_params_history (run_id, item_id, model, params, n_responses, p_value, fitted_at) \
                 SELECT $5, i, $6, p::jsonb, n, pv, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) AS u(i, p, n, pv)"
            ),
            upsert_abilities: format!(
                "INSERT INTO {schema}.mirt_ability (user_id, theta, se, n_responses, run_id, fitted_at, zh) \
                 SELECT u, t, s, n, $5, $6, z FROM unnest($1::text[], $2::float8[], $3::float8[], $4::int[], $7::float8[]) AS x(u, t, s, n, z) \
                 ON CONFLICT (user_id) DO UPDATE SET theta = EXCLUDED.theta, se = EXCLUDED.se, \
                 n_responses = EXCLUDED.n_responses, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at, zh = EXCLUDED.zh"
            ),
            insert_drift: format!(
                "INSERT INTO {schema}.mirt_anchor_drift (run_id, iteration, item_id, stored_a, stored_b, stored_c, \
                 new_a, new_b, new_c, d_a, d_b, z_a, z_b, se_a, se_b, chi2, p_value, area, flagged) \
                 SELECT $1, u.* FROM unnest($2::int[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], \
                 $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], \
                 $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::bool[]) AS u"
            ),
            insert_item_fit: format!(
                "INSERT INTO {schema}.mirt_item_fit (run_id, item_id, s_x2, s_x2_df, s_x2_p, s_x2_rmsea, infit, infit_z, \
                 outfit, outfit_z, rmsd, status, reason) \
                 SELECT $1, u.* FROM unnest($2::text[], $3::float8[], $4::int[], $5::float8[], $6::float8[], $7::float8[], \
                 $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::text[]) AS u"
            ),
            notify: "SELECT pg_notify('pg_irt', $1)".into(),
            record_timing: format!(
                "UPDATE {schema}.mirt_fit_meta SET metrics = jsonb_set(jsonb_set(metrics, '{{ms,write}}', to_jsonb($2::float8)), \
                 '{{ms,total}}', to_jsonb($3::float8)) WHERE run_id = $1"
            ),
            // An anchor's latest screening is its last iteration in the latest run that
            // screened it; one held out since is not screened, so its flag stands.
            flagged_anchors: format!(
                "SELECT item_id, run_id, stored_a, stored_b, stored_c FROM ( \
                 SELECT DISTINCT ON (d.item_id) d.item_id, d.run_id, d.stored_a, d.stored_b, d.stored_c, d.flagged \
                 FROM {schema}.mirt_anchor_drift d JOIN {schema}.mirt_fit_meta m ON m.run_id = d.run_id \
                 ORDER BY d.item_id, m.fitted_at DESC, d.iteration DESC) latest WHERE flagged"
            ),
        }
    }
}

/// The advisory lock that serialises runs: an extension run and a command run take the same
/// one, so they never interleave their writes.
pub const RUN_LOCK: &str = "SELECT pg_try_advisory_xact_lock(hashtext('pg_irt.mirt_calibrate'))";

/// The window of a run as the database computes it (`$1`: lookback days), for the record.
pub const WINDOW_JSON: &str =
    "SELECT json_build_object('start', now() - make_interval(days => $1), 'end', now())::text";

/// The schema of the result tables, quoted, as the search_path finds `mirt_fit_meta`.
pub const RESULT_SCHEMA: &str = "SELECT quote_ident(n.nspname) FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('mirt_fit_meta')";

/// A relation named as the caller wrote it, resolved with the search_path: its quoted name, or
/// NULL when it does not exist (an invalid name is an error).
pub const RESOLVE_RELATION: &str = "SELECT to_regclass($1)::text";

/// The columns of a resolved relation (`$1`, its quoted name) and their types as `format_type`
/// spells them.
pub const RELATION_COLUMNS: &str =
    "SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute \
     WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped";

/// The document a report of one run shows (`$1`: the run id, NULL for the latest), as text:
/// `mirt_report_data` in the result tables' `schema` (quoted) gathers it.
pub fn report_data(schema: &str) -> String {
    format!("SELECT {schema}.mirt_report_data($1)::text")
}

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
