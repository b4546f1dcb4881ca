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
