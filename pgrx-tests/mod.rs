//! PostgreSQL-level tests, run by `cargo pgrx test` inside a real server.
