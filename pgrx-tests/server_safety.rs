// Nothing a call does may take the server down: an allocation the machine cannot give is an
// ERROR (53200), a panic is a sentence (XX000) without a backtrace, and the same backend goes on.

/// SQLSTATE, message, detail and hint of `statement`'s error, or None.
fn full_error_of(statement: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.full_error_of(q text) RETURNS text[] LANGUAGE plpgsql AS $$
         DECLARE st text; msg text; det text; hint text;
         BEGIN EXECUTE q; RETURN NULL;
         EXCEPTION WHEN OTHERS THEN
             GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                 det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
             RETURN ARRAY[st, msg, nullif(det, ''), nullif(hint, '')];
         END $$",
    )
    .unwrap();
    let parts: Option<Vec<Option<String>>> =
        Spi::get_one_with_args("SELECT pg_temp.full_error_of($1)", &[statement.into()]).unwrap();
    parts.map(|p| (p[0].clone().unwrap(), p[1].clone().unwrap(), p[2].clone(), p[3].clone()))
}

/// 100,000 items, each answered by exactly 5 of 5,000 users (three right, two wrong or the
/// reverse): the whole information of a 2PL (`standard_errors => 'full'`; `auto` would take
/// per-item blocks here) has 200,000² entries, 320 GB, which no machine running these tests can
/// give. (Five quadrature points and one
/// cycle keep the E-step before it small.)
fn load_huge_bank() {
    hold_run_lock();
    Spi::run(
        "CREATE TEMP TABLE huge_bank AS
         SELECT u AS user_id, (u * 100 + k) % 100000 AS question_id,
                ((u / 1000 + k) % 2 = 0) AS correct, now() AS created_at
         FROM generate_series(0, 4999) u, generate_series(0, 99) k;
         CREATE TEMP TABLE huge_bank_items (id int, meta jsonb)",
    )
    .unwrap();
}

#[pg_test]
fn an_allocation_the_machine_cannot_give_is_an_error_and_the_server_stays_up() {
    load_huge_bank();
    let backend: i32 = one("SELECT pg_backend_pid()");
    let started: String = one("SELECT pg_postmaster_start_time()::text");
    let before = table_counts();
    // The memory guard would refuse this run before the allocation; lift it to reach the
    // allocator's own refusal.
    Spi::run("SET pg_irt.max_memory = 2147483647").unwrap();
    let (code, message, _, hint) = full_error_of(
        "SELECT mirt_calibrate('2PL', 60, source => 'huge_bank', items => 'huge_bank_items', linking => 'none', \
         max_cycles => 1, accept_nonconverged => true, quadrature_points => 5, threads => 1, \
         standard_errors => 'full')",
    )
    .expect("the run must fail");
    assert_eq!(code, "53200", "{message}");
    assert!(message.contains("the information matrix") && message.contains("320.0 GB"), "{message}");
    assert!(hint.unwrap().contains("Nothing was written"));
    // The same backend answers, the postmaster never restarted, and nothing was written.
    assert_eq!(one::<i32>("SELECT pg_backend_pid()"), backend);
    assert_eq!(one::<String>("SELECT pg_postmaster_start_time()::text"), started);
    assert_eq!(table_counts(), before);
    assert_eq!(one::<i64>("SELECT count(*) FROM huge_bank"), 500_000);
}

/// A bug surfaced on purpose: a panic on the backend's thread, or in a worker of a run's pool.
#[pg_extern]
fn pg_irt_test_panic(in_pool: bool) -> i32 {
    crate::panics::guarded("pg_irt_test_panic", || {
        if in_pool {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
            pool.install(|| rayon::join(|| 1, || -> i32 { panic!("worker gave up") }).1)
        } else {
            let empty: Vec<i32> = Vec::new();
            empty[usize::from(!in_pool)]
        }
    })
}

#[pg_test]
fn a_panic_is_a_sentence_without_a_backtrace() {
    let backend: i32 = one("SELECT pg_backend_pid()");
    for (in_pool, says) in [(false, "index out of bounds"), (true, "worker gave up")] {
        let (code, message, detail, hint) =
            full_error_of(&format!("SELECT tests.pg_irt_test_panic({in_pool})")).unwrap();
        assert_eq!(code, "XX000");
        assert!(message.starts_with("pg_irt internal error in pg_irt_test_panic: "), "{message}");
        assert!(message.contains(says), "{message}");
        assert_eq!(detail, None, "no backtrace in the DETAIL");
        assert!(!message.contains(".rs:") && !message.contains("backtrace"), "{message}");
        assert!(hint.unwrap().contains("bug in pg_irt"));
        assert_eq!(one::<i32>("SELECT pg_backend_pid()"), backend);
    }
}

/// PostgreSQL's own errors raised inside a run keep their SQLSTATE and carry no backtrace.
#[pg_test]
fn errors_from_inside_a_run_carry_no_backtrace() {
    load_demo();
    Spi::run("CREATE ROLE irt_no_rights NOLOGIN; GRANT irt_calibrator TO irt_no_rights").unwrap();
    Spi::run("SET ROLE irt_no_rights").unwrap();
    // irt_calibrator may run it, but this role cannot read the source.
    let (code, message, detail, _) = full_error_of("SELECT mirt_calibrate('2PL', 60)").unwrap();
    Spi::run("RESET ROLE").unwrap();
    assert_eq!(code, "42501", "{message}");
    assert!(detail.is_none_or(|d| !d.contains(".rs:")), "a backtrace leaked");
}
