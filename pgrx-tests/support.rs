// Shared by the PostgreSQL tests.

/// The demo database (scripts/demo_data.sql): 150 items (50 anchors), 500 users, ≈12,000 answers.
pub const DEMO: &str = include_str!("../scripts/demo_data.sql");

pub fn load_demo() {
    hold_run_lock();
    Spi::run(DEMO).expect("demo data loads");
}

/// pgrx runs tests in parallel sessions, and a second mirt_calibrate fails at once: tests that
/// calibrate queue for the run lock first (it is re-entrant within a session).
pub fn hold_run_lock() {
    Spi::run("SELECT pg_advisory_xact_lock(hashtext('pg_irt.mirt_calibrate'))").unwrap();
}

pub fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(query: &str) -> T {
    Spi::get_one::<T>(query).unwrap_or_else(|e| panic!("{query}: {e}")).unwrap_or_else(|| panic!("{query}: NULL"))
}

/// Runs `statement` in a subtransaction and returns "SQLSTATE: message" of its error, or None.
pub fn error_of(statement: &str) -> Option<String> {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
         BEGIN EXECUTE q; RETURN NULL;
         EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
    )
    .unwrap();
    Spi::get_one_with_args::<String>("SELECT pg_temp.error_of($1)", &[statement.into()]).unwrap()
}

/// Rows in the three current tables and the history.
pub fn table_counts() -> (i64, i64, i64, i64) {
    (
        one("SELECT count(*) FROM mirt_fit_meta"),
        one("SELECT count(*) FROM mirt_item_params"),
        one("SELECT count(*) FROM mirt_ability"),
        one("SELECT count(*) FROM mirt_item_params_history"),
    )
}

/// A temp table `table` of persons given as response patterns with counts (`patterns`: a SQL
/// VALUES list of ('0110', n)), one row per person and item of the pattern, the answer `answer`
/// (an expression of the pattern's character `ch`), and an empty item bank `table_items`.
pub fn patterns_table(table: &str, patterns: &str, n_items: usize, answer: &str) -> String {
    format!("
CREATE TEMP TABLE {table} AS
WITH persons AS (
    SELECT row_number() OVER (ORDER BY pattern) AS user_id, pattern
    FROM (VALUES {patterns}) p(pattern, n), generate_series(1, n)
)
SELECT user_id, j AS question_id, {answer} , now() AS created_at
FROM persons, generate_series(1, {n_items}) j, LATERAL (SELECT substr(pattern, j, 1) AS ch) c;
CREATE TEMP TABLE {table}_items (id int, meta jsonb);
")
}

/// One unlinked run without priors to mirt's TOL 1e-8 on `source` and its `source_items`.
pub fn calibrate_unlinked(model: &str, source: &str) {
    Spi::run(&format!(
        "SELECT mirt_calibrate('{model}', 60, source => '{source}', items => '{source}_items', linking => 'none', \
         priors => 'none', tolerance => 1e-8, max_cycles => 20000)"
    ))
    .unwrap();
}
