//! The SQL of a run, against the result tables in a schema. Every parameter is cast to its type
//! in the statement, so both drivers bind the same [`Param`](crate::Param)s; the parameters of
//! each write are given once, by [`crate::write`]. The run's timestamp is cast from text in a
//! scalar subquery, evaluated once: text to timestamptz is only stable, and cast in the select
//! list it is parsed again for every row (17 ms per 50,000 abilities).

/// The statements of one run against the result tables in `schema` (quoted).
pub struct Statements {
    /// (run id, its timestamp as ISO 8601 UTC text): `fit-<UTC second>`, with microseconds when
    /// a run already holds that second. The one timestamp every row of the run carries, taken
    /// at the write rather than at the transaction's start, so runs in one transaction still
    /// order by `fitted_at`.
    pub run_id: String,
    pub insert_run: String,
    pub upsert_items: String,
    pub append_history: String,
    pub upsert_abilities: String,
    pub insert_drift: String,
    pub insert_item_fit: String,
    pub insert_dif: String,
    pub insert_trend: String,
    pub record_timing: String,
    /// The anchors whose latest screening flagged them: (item_id, run_id, stored a, b, c).
    pub flagged_anchors: String,
    /// Each current item's latest trend row: (item_id, model, a, se_log_a, b, se_b, n_responses,
    /// cusum_a_up, cusum_a_down, cusum_b_up, cusum_b_down, runs, its run's window in days, and
    /// the days from its window's end to now()), numbers as float8. Every item with a trend row
    /// has a current row in `mirt_item_params` (the same run wrote both): one index probe per
    /// item, where a DISTINCT ON over the whole history read ten years of nights in a second.
    pub latest_trends: String,
}

impl Statements {
    pub fn new(schema: &str) -> Self {
        const UTC: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";
        Self {
            run_id: format!(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM {schema}.mirt_fit_meta WHERE run_id = s) THEN 'fit-' || stamp ELSE s END, stamp FROM \
                 (SELECT 'fit-' || to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') s, to_char(t, {UTC}) stamp \
                  FROM (SELECT clock_timestamp() AT TIME ZONE 'UTC' t) c) r"
            ),
            insert_run: format!(
                "INSERT INTO {schema}.mirt_fit_meta (run_id, model_spec, metrics, status, fitted_at) \
                 VALUES ($1::text, $2::text::jsonb, $3::text::jsonb, $4::text, $5::text::timestamptz)"
            ),
            upsert_items: format!(
                "INSERT INTO {schema}.mirt_item_params (item_id, model, params, n_responses, p_value, run_id, fitted_at) \
                 SELECT i, m, p::jsonb, n, pv, $5::text, (SELECT $7::text::timestamptz) \
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $6::text[]) AS u(i, p, n, pv, m) \
                 ON CONFLICT (item_id) DO UPDATE SET model = EXCLUDED.model, params = EXCLUDED.params, \
                 n_responses = EXCLUDED.n_responses, p_value = EXCLUDED.p_value, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at"
            ),
            append_history: format!(
                "INSERT INTO {schema}.mirt_item_params_history (run_id, item_id, model, params, n_responses, p_value, fitted_at) \
                 SELECT $5::text, i, m, p::jsonb, n, pv, (SELECT $7::text::timestamptz) \
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $6::text[]) AS u(i, p, n, pv, m)"
            ),
            upsert_abilities: format!(
                "INSERT INTO {schema}.mirt_ability (user_id, theta, se, n_responses, run_id, fitted_at, zh) \
                 SELECT u, t, s, n, $5::text, (SELECT $6::text::timestamptz), z \
                 FROM unnest($1::text[], $2::float8[], $3::float8[], $4::int[], $7::float8[]) AS x(u, t, s, n, z) \
                 ON CONFLICT (user_id) DO UPDATE SET theta = EXCLUDED.theta, se = EXCLUDED.se, \
                 n_responses = EXCLUDED.n_responses, run_id = EXCLUDED.run_id, fitted_at = EXCLUDED.fitted_at, zh = EXCLUDED.zh"
            ),
            insert_drift: format!(
                "INSERT INTO {schema}.mirt_anchor_drift (run_id, iteration, item_id, stored_a, stored_b, stored_c, \
                 new_a, new_b, new_c, d_a, d_b, z_a, z_b, se_a, se_b, chi2, p_value, area, flagged) \
                 SELECT $1::text, u.* FROM unnest($2::int[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], \
                 $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], \
                 $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::bool[]) AS u"
            ),
            insert_item_fit: format!(
                "INSERT INTO {schema}.mirt_item_fit (run_id, item_id, s_x2, s_x2_df, s_x2_p, s_x2_rmsea, infit, infit_z, \
                 outfit, outfit_z, rmsd, status, reason) \
                 SELECT $1::text, u.* FROM unnest($2::text[], $3::float8[], $4::int[], $5::float8[], $6::float8[], $7::float8[], \
                 $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::text[]) AS u"
            ),
            insert_dif: format!(
                "INSERT INTO {schema}.mirt_item_dif (run_id, item_id, focal_group, reference_group, n_focal, n_reference, \
                 mh_chi2, mh_p, mh_p_adjusted, mh_alpha, ets_delta, ets_delta_se, ets_class, lr_x2, lr_df, lr_p, lr_p_adjusted, \
                 signed_area, unsigned_area, reference_params, focal_params, flagged) \
                 SELECT $1::text, i, f, r, nf, nr, c, p, pa, al, de, ds, ec, x, df, lp, la, sa, ua, rp::jsonb, fp::jsonb, fl \
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::float8[], $8::float8[], \
                 $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::text[], $14::float8[], $15::int[], $16::float8[], \
                 $17::float8[], $18::float8[], $19::float8[], $20::text[], $21::text[], $22::bool[]) \
                 AS u(i, f, r, nf, nr, c, p, pa, al, de, ds, ec, x, df, lp, la, sa, ua, rp, fp, fl)"
            ),
            insert_trend: format!(
                "INSERT INTO {schema}.mirt_item_trend (run_id, item_id, model, a, se_log_a, b, se_b, n_responses, \
                 z_a, z_b, cusum_a_up, cusum_a_down, cusum_b_up, cusum_b_down, runs, alarm, fitted_at) \
                 SELECT $1::text, u.*, (SELECT $17::text::timestamptz) FROM unnest($2::text[], $3::text[], $4::float8[], \
                 $5::float8[], $6::float8[], $7::float8[], $8::bigint[], $9::float8[], $10::float8[], $11::float8[], \
                 $12::float8[], $13::float8[], $14::float8[], $15::int[], $16::bool[]) AS u"
            ),
            record_timing: format!(
                "UPDATE {schema}.mirt_fit_meta SET metrics = jsonb_set(jsonb_set(metrics, '{{ms,write}}', to_jsonb($2::float8)), \
                 '{{ms,total}}', to_jsonb($3::float8)) WHERE run_id = $1::text"
            ),
            // An anchor's latest screening is its last iteration in the latest run that
            // screened it; one held out since is not screened, so its flag stands.
            flagged_anchors: format!(
                "SELECT item_id, run_id, stored_a, stored_b, stored_c FROM ( \
                 SELECT DISTINCT ON (d.item_id) d.item_id, d.run_id, d.stored_a, d.stored_b, d.stored_c, d.flagged \
                 FROM {schema}.mirt_anchor_drift d JOIN {schema}.mirt_fit_meta m ON m.run_id = d.run_id \
                 ORDER BY d.item_id, m.fitted_at DESC, d.iteration DESC) latest WHERE flagged"
            ),
            // The window's bounds are those the run recorded (`WINDOW_JSON`); now() is this
            // transaction's, the end of this run's window.
            latest_trends: format!(
                "SELECT t.item_id, t.model, t.a, t.se_log_a, t.b, t.se_b, t.n_responses::float8, \
                 t.cusum_a_up, t.cusum_a_down, t.cusum_b_up, t.cusum_b_down, t.runs::float8, \
                 extract(epoch FROM (m.model_spec->'window'->>'end')::timestamptz \
                   - (m.model_spec->'window'->>'start')::timestamptz)::float8 / 86400, \
                 extract(epoch FROM now() - (m.model_spec->'window'->>'end')::timestamptz)::float8 / 86400 \
                 FROM {schema}.mirt_item_params p \
                 CROSS JOIN LATERAL (SELECT * FROM {schema}.mirt_item_trend x WHERE x.item_id = p.item_id \
                   ORDER BY x.fitted_at DESC LIMIT 1) t \
                 JOIN {schema}.mirt_fit_meta m ON m.run_id = t.run_id"
            ),
        }
    }
}

/// `pg_notify('pg_irt', $1)`: a run's event for listeners.
pub const NOTIFY: &str = "SELECT pg_notify('pg_irt', $1::text)";

/// The advisory lock that serialises runs: an extension run and a command run take the same
/// one, so they never interleave their writes.
pub const RUN_LOCK: &str = "SELECT pg_try_advisory_xact_lock(hashtext('pg_irt.mirt_calibrate'))";

/// The window of a run as the database computes it (`$1`: lookback days), for the record.
pub const WINDOW_JSON: &str =
    "SELECT json_build_object('start', now() - make_interval(days => $1::int), 'end', now())::jsonb";

/// The schema of the result tables, quoted, as the search_path finds `mirt_fit_meta`.
pub const RESULT_SCHEMA: &str = "SELECT quote_ident(n.nspname) FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('mirt_fit_meta')";

/// The schema of the installed extension, quoted: where its own result tables are.
pub const EXTENSION_SCHEMA: &str = "SELECT quote_ident(n.nspname) FROM pg_extension e \
     JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_irt'";

/// A relation named as the caller wrote it, resolved with the search_path: its quoted name, or
/// NULL when it does not exist (an invalid name is an error).
pub const RESOLVE_RELATION: &str = "SELECT to_regclass($1::text)::text";

/// The columns of a resolved relation (`$1`, its quoted name) and their types as `format_type`
/// spells them.
pub const RELATION_COLUMNS: &str =
    "SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute \
     WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped";

/// The session's `statement_timeout` in milliseconds (0: none).
pub const STATEMENT_TIMEOUT: &str =
    "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'";

/// The document a report of one run shows (`$1`: the run id, NULL for the latest), as text:
/// `mirt_report_data` in the result tables' `schema` (quoted) gathers it.
pub fn report_data(schema: &str) -> String {
    format!("SELECT {schema}.mirt_report_data($1)::text")
}
