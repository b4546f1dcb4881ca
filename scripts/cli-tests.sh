#!/usr/bin/env bash
# Tests of the pg-irt command against a real PostgreSQL 15 of our own (target/cli-cluster),
# with TLS on a self-signed certificate: a database without the extension (the seed-shaped
# demo end to end, bad input, a connection killed in the write, signals and statement_timeout),
# its flags against the documented rules, and a database with the extension, where the command
# and the extension must write the same numbers and never interleave.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/cluster.sh
source scripts/checks.sh
PORT=${PG_IRT_CLI_PORT:-54331}
DIR="$PWD/target/cli-cluster"

cargo build --release --locked -p pg-irt-cli >/dev/null 2>&1 || cargo build --release --locked -p pg-irt-cli
PG_IRT="$PWD/target/release/pg-irt"
cargo pgrx install --pg-config /usr/bin/pg_config >/dev/null 2>&1

# The server: TLS with a self-signed certificate for localhost, TCP on 127.0.0.1 only.
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DIR/server.key" -out "$DIR/server.crt" >/dev/null 2>&1
chown postgres:postgres "$DIR/server.key" "$DIR/server.crt"
chmod 600 "$DIR/server.key"
cp "$DIR/server.crt" "$PWD/target/cli-root.crt"
sed -i "s/^listen_addresses = ''/listen_addresses = '127.0.0.1'/" "$DIR/postgresql.conf"
printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$DIR/postgresql.conf"
printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n' >"$DIR/pg_hba.conf"
cluster_resume "$DIR"

sql() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h "$CLUSTER_SOCK" -p "$PORT" -d "$1" -c "$2"; }
# The command as postgres over the socket (no TLS), unless the test sets DATABASE_URL itself.
cli() { local db=$1; shift; runuser -u postgres -- env DATABASE_URL="host=$CLUSTER_SOCK port=$PORT dbname=$db sslmode=disable" "$PG_IRT" "$@"; }
counts() { sql "$1" "$RUN_COUNTS"; }

for db in plain both; do
    as_pg createdb -h "$CLUSTER_SOCK" -p "$PORT" "$db"
    as_pg psql -X -q -h "$CLUSTER_SOCK" -p "$PORT" -d "$db" -v ON_ERROR_STOP=1 -f scripts/demo_data.sql >/dev/null
done
sql both "CREATE EXTENSION pg_irt" >/dev/null

echo "== flags: the argument rules of mirt_calibrate, as exit code 2 and the same message"
# flag, value, message (before connecting: no database needed).
while IFS='|' read -r flag value message; do
    out=$("$PG_IRT" calibrate "$flag" "$value" 2>&1) && code=0 || code=$?
    check "$flag $value" '[[ $code == 2 && $out == *"ERROR:  $message"* ]]' "exit $code: $(head -1 <<<"$out")"
done <<'RULES'
--model|4PL|invalid setting model: unknown model "4PL"; valid models are Rasch, 1PL, 2PL, 3PL
--lookback-days|0|lookback_days must be between 1 and 36500, got 0
--lookback-days|-7|lookback_days must be between 1 and 36500, got -7
--lookback-days|100000|lookback_days must be between 1 and 36500, got 100000
--linking|magic|invalid setting linking: unknown linking method "magic"; valid methods are mean_mean, mean_sigma, haebara, stocking_lord, fixed, none
--priors|flat|invalid setting priors: unknown priors "flat"; valid priors are default, none
--max-cycles|0|max_cycles must be between 1 and 100000, got 0
--max-cycles|1000000|max_cycles must be between 1 and 100000, got 1000000
--tolerance|0|tolerance must be between 1e-12 and 1.0, got 0
--tolerance|NaN|tolerance must be between 1e-12 and 1.0, got NaN
--tolerance|inf|tolerance must be between 1e-12 and 1.0, got inf
--quadrature-points|2000000000|quadrature_points must be between 5 and 301, got 2000000000
--quadrature-points|-1|quadrature_points must be between 5 and 301, got -1
--threads|0|threads must be between 1 and 1024, got 0
--min-anchors|0|min_anchors must be between 1 and 1000000, got 0
--min-responses|-1|min_responses must be between 1 and 1000000, got -1
--attempt|middle|invalid setting attempt: unknown attempt rule "middle"; valid rules are first, last
--algorithm|newton|invalid setting algorithm: unknown algorithm "newton"; valid algorithms are squarem, em, mirt
--standard-errors|exact|invalid setting standard_errors: unknown standard errors "exact"; valid values are auto, full, item, none
RULES
out=$("$PG_IRT" calibrate --model ' 2pl ' --linking ' Stocking_Lord' --priors DEFAULT --attempt ' First' --algorithm SQUAREM --standard-errors ' ITEM' \
      --threads 1 --source nope 2>&1) && code=0 || code=$?
check "odd case and blanks in names are accepted" '[[ $code != 2 ]]' "exit $code: $(head -1 <<<"$out")"
out=$("$PG_IRT" calibrate --lookback-days 2>&1) && code=0 || code=$?
check "a flag without its value is a usage error" '[[ $code == 2 ]]' "exit $code"

echo "== without the extension: migrate, calibrate, the seed's checks"
out=$(cli plain migrate 2>&1) && code=0 || code=$?
check "migrate creates the tables" '[[ $code == 0 && $(sql plain "SELECT count(*) FROM pg_tables WHERE tablename LIKE '"'mirt%'"'") == 9 ]]' "$(tail -1 <<<"$out")"
out=$(cli plain migrate 2>&1) && code=0 || code=$?
check "and again changes nothing" '[[ $code == 0 ]]' "exit $code"
sql plain "ALTER TABLE mirt_ability DROP COLUMN zh" >/dev/null
out=$(cli plain migrate 2>&1) && code=0 || code=$?
check "and brings an earlier migration's tables up to date" '[[ $code == 0 && $(sql plain "SELECT count(*) FROM pg_attribute WHERE attrelid = '"'mirt_ability'"'::regclass AND attname = '"'zh'"'") == 1 ]]' "exit $code"
out=$(cli both migrate 2>&1) && code=0 || code=$?
check "migrate refuses where the extension owns the tables" '[[ $code == 3 && $out == *"owns the result tables"* ]]' "exit $code: $(head -1 <<<"$out")"
start=$(now)
out=$(cli plain calibrate 2>&1) && code=0 || code=$?
took=$(seconds_between "$start" "$(now)")
check "calibrate runs the demo end to end" '[[ $code == 0 && $out == *"n_items=150 n_users=500 n_anchors=50 n_observations=12000"* ]]' "exit $code in ${took} s: $(tail -1 <<<"$out")"
check "it reports progress in the NOTICEs' words" '[[ $out == *"NOTICE:  Loaded 12000 observations from attempt"* && $out == *"NOTICE:  Calibration upsert completed: 150 items, 500 abilities"* ]]' "$(grep -c NOTICE <<<"$out") NOTICE lines"
verification=$(as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h "$CLUSTER_SOCK" -p "$PORT" -d plain -f scripts/verification.sql 2>&1) && code=0 || code=$?
check "the seed's verification queries run and count the demo" '[[ $code == 0 && $verification == 150\|* && $verification == *$'"'"'\n'"'"'500\|* && $verification != *FAIL* ]]' "$(head -2 <<<"$verification" | cut -d'|' -f1 | paste -sd/)"
check "mirt_health() is OK" '[[ $(sql plain "SELECT string_agg(status, '"','"') FROM mirt_health()") == "OK,OK,OK,OK" ]]' "from the migration"
out=$(cli plain report --output /tmp/pg-irt-report-$$.html 2>&1) && code=0 || code=$?
page=$(cat /tmp/pg-irt-report-$$.html 2>/dev/null; rm -f /tmp/pg-irt-report-$$.html)
check "report writes the run's page without the extension" '[[ $code == 0 && $page == "<!DOCTYPE html>"* && $page == *"$(sql plain "SELECT run_id FROM mirt_fit_meta")"* ]]' "exit $code, ${#page} bytes"

echo "== bad input: the extension's messages, exit code 3, nothing written"
sql plain "CREATE VIEW text_correct AS SELECT user_id, question_id, created_at, 'yes'::text AS correct FROM attempt_log;
           CREATE VIEW null_ids AS SELECT NULLIF(user_id, 3) AS user_id, question_id, is_correct AS correct, created_at FROM attempt_log;
           CREATE VIEW two AS SELECT user_id, question_id, created_at, CASE WHEN user_id = 7 THEN 2 ELSE is_correct::int END AS correct FROM attempt_log;" >/dev/null
sql both "CREATE VIEW text_correct AS SELECT user_id, question_id, created_at, 'yes'::text AS correct FROM attempt_log;
          CREATE VIEW null_ids AS SELECT NULLIF(user_id, 3) AS user_id, question_id, is_correct AS correct, created_at FROM attempt_log;
          CREATE VIEW two AS SELECT user_id, question_id, created_at, CASE WHEN user_id = 7 THEN 2 ELSE is_correct::int END AS correct FROM attempt_log;" >/dev/null
before=$(counts plain)
for source in no_such_view text_correct null_ids two; do
    out=$(cli plain calibrate --source "$source" 2>&1) && code=0 || code=$?
    message=$(grep -o 'ERROR:  .*' <<<"$out" | head -1)
    extension=$(as_pg psql -X -q -h "$CLUSTER_SOCK" -p "$PORT" -d both -c "SELECT mirt_calibrate('2PL', 60, source => '$source')" 2>&1 | grep -o 'ERROR:  .*' | head -1 || true)
    check "source $source" '[[ $code == 3 && -n $message && $message == "$extension" ]]' "exit $code: $message"
done
check "nothing was written" '[[ $(counts plain) == "$before" ]]' "runs/items/abilities/history $before"
out=$(cli plain calibrate --max-memory 1 2>&1) && code=0 || code=$?
check "over --max-memory is exit code 8, naming the largest part" '[[ $code == 8 && $out == *"the largest part is the item fit"* ]]' "$(grep -o 'ERROR:.*' <<<"$out")"
out=$(cli plain calibrate --max-cycles 3 2>&1) && code=0 || code=$?
check "not converged is exit code 4" '[[ $code == 4 && $out == *"EM did not converge in 3 cycles"* ]]' "$(grep -o 'ERROR:.*' <<<"$out")"
out=$(cli plain calibrate --max-cycles 3 --accept-nonconverged 2>&1) && code=0 || code=$?
check "unless accepted" '[[ $code == 0 && $(sql plain "SELECT status FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1") == not_converged ]]' "exit $code"

echo "== TLS: a server with a self-signed certificate"
tls() { runuser -u postgres -- env DATABASE_URL="$1" "$PG_IRT" calibrate --max-cycles 3 --accept-nonconverged 2>&1; }
out=$(tls "postgresql://postgres@localhost:$PORT/plain?sslmode=verify-full&sslrootcert=$PWD/target/cli-root.crt") && code=0 || code=$?
check "sslmode=verify-full with the certificate as root" '[[ $code == 0 ]]' "exit $code: $(tail -1 <<<"$out")"
out=$(tls "postgresql://postgres@localhost:$PORT/plain?sslmode=require") && code=0 || code=$?
check "sslmode=require encrypts without checking" '[[ $code == 0 ]]' "exit $code"
out=$(tls "postgresql://postgres@localhost:$PORT/plain?sslmode=verify-full") && code=0 || code=$?
check "verify-full against the system's roots refuses the certificate" '[[ $code == 6 && $out == *"certificate verify failed"* ]]' "exit $code: $(grep -o 'ERROR:.*' <<<"$out" | head -1)"
out=$(tls "postgresql://postgres@localhost:$PORT/plain?sslmode=disable") && code=0 || code=$?
check "and the server refuses a connection without TLS" '[[ $code == 6 && $out == *"pg_hba.conf rejects"* ]]' "exit $code: $(grep -o 'ERROR:.*' <<<"$out" | head -1)"
out=$(runuser -u postgres -- env -u DATABASE_URL PGHOST=localhost PGPORT="$PORT" PGDATABASE=plain PGSSLMODE=verify-ca \
      PGSSLROOTCERT="$PWD/target/cli-root.crt" "$PG_IRT" calibrate --max-cycles 3 --accept-nonconverged 2>&1) && code=0 || code=$?
check "the PG* variables alone, sslmode=verify-ca" '[[ $code == 0 ]]' "exit $code"

echo "== a connection killed in the middle of the write"
before=$(counts plain)
sql plain "CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END \$\$;
           CREATE TRIGGER slow_write BEFORE INSERT ON mirt_ability FOR EACH STATEMENT EXECUTE FUNCTION slow_write()" >/dev/null
cli plain calibrate >"$DIR/killed.out" 2>&1 &
victim=$!
for _ in $(seq 1 100); do
    [[ $(sql plain "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg-irt' AND wait_event = 'PgSleep'") == 1 ]] && break
    sleep 0.1
done
sql plain "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg-irt'" >/dev/null
wait "$victim" && code=0 || code=$?
sql plain "DROP TRIGGER slow_write ON mirt_ability; DROP FUNCTION slow_write()" >/dev/null
check "the command fails with a connection error" '[[ $code == 6 && $(cat "$DIR/killed.out") == *"terminating connection"* ]]' "exit $code: $(grep -o 'ERROR:.*' "$DIR/killed.out" | head -1)"
check "and nothing of the run was written" '[[ $(counts plain) == "$before" ]]' "runs/items/abilities/history $(counts plain)"

echo "== signals and statement_timeout: rolled back, exit code 7"
# A 3PL without priors or anchors at the tightest tolerance never converges: a run that only a
# stop ends (a 2PL without priors now converges in about two seconds, a race with the deadline).
long=(calibrate --model 3PL --linking none --priors none --tolerance 1e-12 --max-cycles 100000)
before=$(counts plain)
for signal in INT TERM; do
    cli plain "${long[@]}" >"$DIR/signal.out" 2>&1 &
    victim=$!
    sleep 1.5
    sent=$(now)
    pkill -"$signal" -x pg-irt || true
    wait "$victim" && code=0 || code=$?
    took=$(seconds_between "$sent" "$(now)")
    check "SIG$signal ends the run with exit code 7" '[[ $code == 7 ]]' "exit $code after ${took} s: $(grep -o 'ERROR:.*' "$DIR/signal.out" | head -1)"
    check "within a second" "awk 'BEGIN { exit !($took < 1.0) }'" "${took} s"
done
# On a terminal (a pseudo-terminal from script(1)) the cycles show as a progress bar.
runuser -u postgres -- env DATABASE_URL="host=$CLUSTER_SOCK port=$PORT dbname=plain sslmode=disable" \
    script -qec "$PG_IRT ${long[*]}" /dev/null >"$DIR/tty.out" 2>&1 &
victim=$!
sleep 2
pkill -INT -x pg-irt || true
wait "$victim" || true
check "a terminal gets a progress bar over the EM cycles" 'grep -aq "EM cycle [0-9]*/100000 logLik" "$DIR/tty.out"' \
    "$(grep -ao 'EM cycle [0-9]*/100000' "$DIR/tty.out" | tail -1)"
start=$(now)
out=$(runuser -u postgres -- env DATABASE_URL="host=$CLUSTER_SOCK port=$PORT dbname=plain" PGOPTIONS="-c statement_timeout=2s" \
      "$PG_IRT" "${long[@]}" 2>&1) && code=0 || code=$?
took=$(seconds_between "$start" "$(now)")
check "statement_timeout bounds the run" '[[ $code == 7 && $out == *"statement timeout"* ]]' "exit $code after ${took} s"
check "nothing was written by any of them" '[[ $(counts plain) == "$before" ]]' "runs/items/abilities/history $before"

echo "== with the extension: the same numbers, and one run at a time"
sql both "SELECT mirt_calibrate('2PL', 60)" >/dev/null
snapshot() {
    sql both "SELECT md5(string_agg(item_id || ' ' || params::text || ' ' || n_responses || ' ' || p_value::text, ',' ORDER BY item_id)) FROM mirt_item_params"
    sql both "SELECT md5(string_agg(user_id || ' ' || theta::text || ' ' || se::text || ' ' || n_responses || ' ' || zh::text, ',' ORDER BY user_id)) FROM mirt_ability"
    sql both "SELECT (model_spec - 'written_by' - 'extension_version' - 'window' - 'threads')::text FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"
    sql both "SELECT md5(string_agg((to_jsonb(f) - 'run_id')::text, ',' ORDER BY item_id)) FROM mirt_item_fit f WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)"
    sql both "SELECT md5(string_agg((to_jsonb(d) - 'run_id')::text, ',' ORDER BY iteration, item_id)) FROM mirt_anchor_drift d WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)"
    sql both "SELECT count(*) || ' ' || md5(string_agg((to_jsonb(d) - 'run_id')::text, ',' ORDER BY focal_group, item_id)) FROM mirt_item_dif d WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)"
}
extension=$(snapshot)
# The command's run starts from the history the extension's did: no earlier screening.
sql both "DELETE FROM mirt_anchor_drift WHERE run_id = (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)" >/dev/null
out=$(cli both calibrate 2>&1) && code=0 || code=$?
command=$(snapshot)
check "the command writes into the extension's tables" '[[ $code == 0 && $(sql both "SELECT count(*) FROM mirt_fit_meta") == 2 ]]' "exit $code"
check "identical item parameters, SEs, abilities, person and item fit, drift screening, and model_spec but for provenance" '[[ $command == "$extension" ]]' \
    "$(diff <(printf '%s\n' "$extension") <(printf '%s\n' "$command") | head -3 | paste -sd' ')"
run=$(sql both "SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")
check "pg-irt report and mirt_report() give the same page" '[[ "$(cli both report --run-id "$run")" == "$(sql both "SELECT mirt_report('"'$run'"')")" ]]' "run $run"
check "written_by says which" '[[ $(sql both "SELECT string_agg(model_spec->>'"'written_by'"', '"','"' ORDER BY fitted_at) FROM mirt_fit_meta") == "extension,command" ]]' "extension, then command"
# Promotion over the two runs: the command proposes what the extension does; --apply changes it.
rules="--stable-runs 2 --min-responses 50 --max-se-b 0.5"
proposed=$(cli both promote $rules 2>/dev/null | cut -f1,2)
by_extension=$(sql both "SELECT item_id || chr(9) || action FROM mirt_promote(stable_runs => 2, min_responses => 50, max_se_b => 0.5)")
changes=$(sql both "SELECT count(*) FROM mirt_bank_changes")
check "promote proposes what mirt_promote proposes, and a dry run changes nothing" '[[ -n $proposed && $proposed == "$by_extension" && $changes == 0 ]]' "$(wc -l <<<"$proposed") items"
out=$(cli both promote $rules --apply 2>&1) && code=0 || code=$?
changes=$(sql both "SELECT count(*) FROM mirt_bank_changes WHERE action = 'promote' AND meta_after->'tags' @> '[\"anchor\"]'")
check "promote --apply changes the bank and records each change" '[[ $code == 0 && $changes == $(wc -l <<<"$proposed") && $out == *"; applied"* ]]' "exit $code: $(tail -1 <<<"$out")"
# Items scored in categories: a view with `score` in place of `correct` (0 to 2 on every item).
sql both "CREATE VIEW attempt_scored AS SELECT user_id, question_id, CASE WHEN correct THEN 1 + (user_id + question_id) % 2 ELSE 0 END AS score, created_at FROM attempt" >/dev/null
sql both "SELECT mirt_calibrate('GRM', 60, source => 'attempt_scored', linking => 'none')" >/dev/null
extension=$(snapshot)
out=$(cli both calibrate --model GRM --source attempt_scored --linking none 2>&1) && code=0 || code=$?
command=$(snapshot)
check "items in categories: the same numbers from the command" '[[ $code == 0 && $command == "$extension" && $(sql both "SELECT count(*) FROM mirt_item_params WHERE params->>'"'categories'"' = '"'3'"'") -gt 100 ]]' \
    "exit $code: $(diff <(printf '%s\n' "$extension") <(printf '%s\n' "$command") | head -3 | paste -sd' ')"
# Groups of persons: a view with a cohort column, two groups of 250.
sql both "CREATE VIEW attempt_grouped AS SELECT a.*, CASE WHEN user_id::int8 % 2 = 0 THEN 'even' ELSE 'odd' END AS cohort FROM attempt a" >/dev/null
sql both "SELECT mirt_calibrate('2PL', 60, source => 'attempt_grouped', linking => 'none', groups => 'cohort', reference_group => 'odd')" >/dev/null
extension=$(snapshot)
out=$(cli both calibrate --source attempt_grouped --linking none --groups cohort --reference-group odd 2>&1) && code=0 || code=$?
command=$(snapshot)
check "groups: the same numbers and DIF rows from the command" '[[ $code == 0 && $command == "$extension" && $(sql both "SELECT count(*) = (max(m.model_spec->>'"'n_items'"'))::int FROM mirt_item_dif d JOIN mirt_fit_meta m USING (run_id) WHERE m.fitted_at = (SELECT max(fitted_at) FROM mirt_fit_meta)") == t && $(sql both "SELECT model_spec #>> '"'{groups,groups,1,group}'"' FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1") == even ]]' \
    "exit $code: $(diff <(printf '%s\n' "$extension") <(printf '%s\n' "$command") | head -3 | paste -sd' ')"
as_pg psql -X -q -h "$CLUSTER_SOCK" -p "$PORT" -d both -c "BEGIN" -c "SELECT pg_advisory_xact_lock(hashtext('pg_irt.mirt_calibrate'))" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 1
start=$(now)
out=$(cli both calibrate 2>&1) && code=0 || code=$?
took=$(seconds_between "$start" "$(now)")
check "an extension run holds the lock: exit code 5 at once" '[[ $code == 5 && $out == *"another mirt_calibrate is running"* ]]' "exit $code in ${took} s"
wait "$holder" || true
cli both calibrate --priors none --max-cycles 100000 >/dev/null 2>&1 &
runner=$!
sleep 1
out=$(as_pg psql -X -q -h "$CLUSTER_SOCK" -p "$PORT" -d both -c "SELECT mirt_calibrate('2PL', 60)" 2>&1 || true)
check "a command run holds it: the extension gets 55P03" '[[ $out == *"another mirt_calibrate is running"* ]]' "$(grep -o 'ERROR:.*' <<<"$out" | head -1)"
kill -TERM "$runner" 2>/dev/null || true
wait "$runner" || true

tally cli
