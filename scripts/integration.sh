#!/usr/bin/env bash
# Tests that need a server of our own: pg_cron preloaded, several sessions at once, cancellation
# and statement_timeout, the Kubernetes CronJob's command run as written, and the SQL golden
# files. Starts a throwaway cluster in target/it-cluster on its own port and stops it at exit.
# `--update` rewrites the golden files' expected output instead of comparing.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/cluster.sh
source scripts/checks.sh
PORT=${PG_IRT_IT_PORT:-54329}
SOCK=$CLUSTER_SOCK
DB=pg_irt_it
DIR="$PWD/target/it-cluster"
UPDATE=${1:-}

psql_it() { as_pg psql -X -q -h "$SOCK" -p "$PORT" -d "$DB" "$@"; }
value() { psql_it -At -v ON_ERROR_STOP=1 -c "$1"; }
counts() { value "$RUN_COUNTS"; }

cargo pgrx install --pg-config /usr/bin/pg_config >/dev/null
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "shared_preload_libraries = 'pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on
max_worker_processes = 16"
as_pg createdb -h "$SOCK" -p "$PORT" "$DB"
psql_it -v ON_ERROR_STOP=1 -f scripts/demo_data.sql >/dev/null
psql_it -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pg_irt" -c "CREATE EXTENSION pg_cron" -c "SELECT mirt_calibrate('2PL', 60)" >/dev/null 2>&1

# A 3PL without priors or anchors at the tightest tolerance: its lower asymptotes drift and EM
# never converges, so only a deadline ends the run (a 2PL without priors now converges in about
# two seconds, a race with the tests' deadlines).
LONG_RUN="SELECT mirt_calibrate('3PL', 60, linking => 'none', priors => 'none', tolerance => 1e-12, max_cycles => 100000)"

echo "== anchor drift: a notification when the screening flags anchors"
# Anchor 3's stored difficulty raised by a logit: the screening must name it, on commit.
out=$(psql_it -v ON_ERROR_STOP=1 -c "LISTEN pg_irt" \
    -c "UPDATE question SET meta = jsonb_set(meta, '{irt,b}', to_jsonb((meta->'irt'->>'b')::float8 + 1)) WHERE id = 3" \
    -c "SELECT mirt_calibrate('2PL', 60)" 2>&1 || true)
payload=$(grep -o 'Asynchronous notification "pg_irt" with payload ".*" received' <<<"$out" | head -1)
check "LISTEN pg_irt hears of the flagged anchors" '[[ $payload == *"\"event\":\"anchor_drift\""* && $payload =~ \"anchors\":\[[^]]*\"3\" ]]' "${payload:-no notification}"
check "and the NOTICE names them" '[[ $out == *"NOTICE:  Anchor drift screening 1: "*" anchors flagged: "*"3"* ]]' "$(grep -m1 -o 'Anchor drift screening 1: .*' <<<"$out")"
psql_it -v ON_ERROR_STOP=1 -c "UPDATE question SET meta = jsonb_set(meta, '{irt,b}', to_jsonb((meta->'irt'->>'b')::float8 - 1)) WHERE id = 3" >/dev/null

echo "== statement_timeout and cancellation"
before=$(counts)
start=$(now)
out=$(psql_it -v VERBOSITY=verbose -c "SET statement_timeout = '2s'" -c "$LONG_RUN" -c "SELECT 'still usable'" 2>&1 || true)
took=$(seconds_between "$start" "$(now)")
check "statement_timeout stops EM with 57014" '[[ $out == *"57014"* ]]' "$(grep -o 'ERROR:.*' <<<"$out" | head -1)"
check "it returns within 1 s of the deadline" "awk 'BEGIN { exit !($took < 3.0) }'" "${took} s for a 2 s timeout"
check "the session stays usable" '[[ $out == *"still usable"* ]]' "a statement after the error runs"
check "nothing was written" '[[ $(counts) == "$before" ]]' "runs/items/abilities/history $before"

# Runs a statement as application NAME, cancels it after SECONDS, leaves its output in
# $DIR/NAME.out and the seconds from the cancel to its end in $took.
cancel_after() { # name, seconds, statement
    psql_it -v VERBOSITY=verbose -c "SET application_name = '$1'" -c "$3" >"$DIR/$1.out" 2>&1 &
    local victim=$! cancelled
    sleep "$2"
    cancelled=$(now)
    value "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$1'" >/dev/null
    wait "$victim" || true
    took=$(seconds_between "$cancelled" "$(now)")
}

cancel_after pg_irt_cancel 1.5 "$LONG_RUN"
check "pg_cancel_backend stops EM with 57014" 'grep -q 57014 "$DIR/pg_irt_cancel.out"' "$(grep -o 'ERROR:.*' "$DIR/pg_irt_cancel.out" | head -1)"
check "it returns within 1 s of the cancel" "awk 'BEGIN { exit !($took < 1.0) }'" "${took} s"

# A bank of 4,000 items seen 5 times each: one EM cycle, then standard errors over an 8,000 × 8,000
# information, whose factorisation runs for minutes in this unoptimised build; the cancel lands
# there, on the pool's threads, which poll PostgreSQL's pending-cancel flag.
value "CREATE TABLE big_bank AS SELECT u AS user_id, (u * 10 + k) % 4000 AS question_id,
           ((u / 400 + k) % 2 = 0) AS correct, now() AS created_at
       FROM generate_series(0, 1999) u, generate_series(0, 9) k;
       CREATE TABLE big_bank_items (id int, meta jsonb)" >/dev/null
before=$(counts)
cancel_after pg_irt_cancel_se 3 "SELECT mirt_calibrate('2PL', 60, source => 'big_bank', items => 'big_bank_items',
    linking => 'none', max_cycles => 1, accept_nonconverged => true, quadrature_points => 5, standard_errors => 'full')"
check "pg_cancel_backend stops the standard errors with 57014" 'grep -q 57014 "$DIR/pg_irt_cancel_se.out"' "$(grep -o 'ERROR:.*' "$DIR/pg_irt_cancel_se.out" | head -1)"
check "within a second, from inside the factorisation" "awk 'BEGIN { exit !($took < 1.0) }'" "${took} s"
check "and writes nothing" '[[ $(counts) == "$before" ]]' "runs/items/abilities/history $(counts)"
value "DROP TABLE big_bank, big_bank_items" >/dev/null

echo "== concurrent runs"
psql_it -c "SET statement_timeout = '5s'" -c "$LONG_RUN" >/dev/null 2>&1 &
first=$!
sleep 1.5
start=$(now)
out=$(psql_it -v VERBOSITY=verbose -c "SELECT mirt_calibrate('2PL', 60)" 2>&1 || true)
took=$(seconds_between "$start" "$(now)")
check "a second run fails at once with 55P03" '[[ $out == *"55P03"* ]]' "$(grep -o 'ERROR:.*' <<<"$out" | head -1), ${took} s"
check "and says why" '[[ $out == *"another mirt_calibrate is running"* && $out == *HINT* ]]' "message and hint"
wait "$first" || true
out=$(psql_it -c "SELECT 'free again' FROM mirt_calibrate('2PL', 60)" 2>&1 || true)
check "the lock is released with the first run's transaction" '[[ $out == *"free again"* ]]' "a third run succeeds"

echo "== a backend terminated during the write"
before=$(counts)
params_before=$(value "SELECT md5(string_agg(item_id || params::text, ',' ORDER BY item_id)) FROM mirt_item_params")
# A statement trigger holds the run inside its write phase long enough to kill it there.
value "CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END \$\$;
       CREATE TRIGGER slow_write BEFORE INSERT ON mirt_ability FOR EACH STATEMENT EXECUTE FUNCTION slow_write()" >/dev/null
psql_it -c "SET application_name = 'pg_irt_victim'" -c "SELECT mirt_calibrate('2PL', 60)" >"$DIR/terminate.out" 2>&1 &
victim=$!
for _ in $(seq 1 50); do
    [[ $(value "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_irt_victim' AND wait_event = 'PgSleep'") == 1 ]] && break
    sleep 0.1
done
value "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_irt_victim'" >/dev/null
wait "$victim" || true
value "DROP TRIGGER slow_write ON mirt_ability; DROP FUNCTION slow_write()" >/dev/null
check "the killed run's writes are rolled back" '[[ $(counts) == "$before" ]]' "runs/items/abilities/history $(counts)"
check "and the previous parameters stay current" '[[ $(value "SELECT md5(string_agg(item_id || params::text, '"','"' ORDER BY item_id)) FROM mirt_item_params") == "$params_before" ]]' "$(grep -o 'terminating connection[^.]*' "$DIR/terminate.out" | head -1)"

echo "== soak: 20 consecutive runs in one session"
# Each run its own statement and transaction, as nightly runs are. The first runs populate
# PostgreSQL's caches and the allocator's per-thread arenas (a pool is built per call). A run
# holds about 1.5 MB of its own data here (tables, the information matrix, scores): leaking it
# would add some 30 MB over 20 runs. Each run hands its freed memory back to the OS (malloc_trim);
# before it did, growth of up to 3.6 MB was seen from the arenas of the pools' threads.
rss="SELECT 'rss ' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'RssAnon:\\s+(\\d+)'))[1];"
run="SELECT count(*) FROM mirt_calibrate('2PL', 60);"
out=$({ for _ in $(seq 1 10); do echo "$run"; done; echo "$rss"; for _ in $(seq 1 20); do echo "$run"; done; echo "$rss"; } |
    psql_it -At -v ON_ERROR_STOP=1 2>/dev/null)
rss_warm=$(awk '$1 == "rss" { print $2 }' <<<"$out" | sed -n 1p)
rss_after=$(awk '$1 == "rss" { print $2 }' <<<"$out" | sed -n 2p)
check "backend memory does not grow over 20 runs" '[[ -n $rss_warm && -n $rss_after ]] && (( rss_after - rss_warm < 8192 ))' "private memory (RssAnon) ${rss_warm} kB after 10 runs, ${rss_after} kB after 30"
check "current tables keep one row per item and user" '[[ $(value "SELECT count(*) FROM mirt_item_params")/$(value "SELECT count(*) FROM mirt_ability") == 150/500 ]]' "150 items, 500 users"
check "only the history grows" '(( $(value "SELECT count(DISTINCT run_id) FROM mirt_item_params_history") >= 31 ))' "$(value "SELECT count(*) FROM mirt_item_params_history") history rows"

echo "== the postgres_exporter query of k8s/"
query=$(target/k8s-venv/bin/python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["pg_irt"]["query"])' k8s/postgres-exporter-queries.yaml)
out=$(psql_it -At -F' ' -v ON_ERROR_STOP=1 -c "$query" 2>&1 || true)
check "it runs against mirt_run_status and returns the last run" '[[ $(wc -l <<<"$out") == 1 && $out == *succeeded* ]]' "$out"

echo "== the Grafana dashboard's queries (k8s/grafana/)"
# In the pinned environment (whose interpreter may be root's own), connecting as postgres.
out=$(PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 target/k8s-venv/bin/python -m pg_irt_tools.dashboard \
    k8s/grafana/pg-irt-dashboard.json -h "$SOCK" -p "$PORT" -U postgres -d "$DB" 2>&1) && status=0 || status=$?
check "every query of the Grafana dashboard runs and returns its rows" '(( status == 0 ))' "$(tail -1 <<<"$out")"
(( status == 0 )) || grep -A6 '^FAIL' <<<"$out"

echo "== pg_cron"
# The status of job JOBID's latest run once one has ended (waiting up to 90 s), or nothing.
ended_run_status() {
    local status=""
    for _ in $(seq 1 45); do
        status=$(value "SELECT status FROM cron.job_run_details WHERE jobid = $1 ORDER BY start_time DESC LIMIT 1")
        [[ $status == succeeded || $status == failed ]] && break
        sleep 2
    done
    echo "$status"
}
job=$(value "SELECT mirt_schedule('* * * * *')")
runs_before=$(value "SELECT count(*) FROM mirt_fit_meta")
status=$(ended_run_status "$job")
check "a job scheduled every minute runs mirt_calibrate" '[[ $status == succeeded ]]' "cron.job_run_details: ${status:-no run within 90 s}"
check "and mirt_fit_meta holds its run" '(( $(value "SELECT count(*) FROM mirt_fit_meta") > runs_before ))' "$(value "SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1")"
check "mirt_unschedule removes it" '[[ $(value "SELECT mirt_unschedule()") == t && $(value "SELECT count(*) FROM cron.job") == 0 ]]' "cron.job empty"
# A scheduled run that fails writes nothing; pg_cron keeps its error, and the report shows it.
broken=$(value "SELECT cron.schedule('pg_irt_broken', '* * * * *', \$\$SELECT mirt_calibrate('4PL', 60)\$\$)")
status=$(ended_run_status "$broken")
value "SELECT cron.unschedule('pg_irt_broken')" >/dev/null
check "a scheduled run with a bad model fails" '[[ $status == failed ]]' "cron.job_run_details: ${status:-no run within 90 s}"

echo "== the report, as a person would look at it"
latest="(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)"
psql_it -At -v ON_ERROR_STOP=1 -c "SELECT mirt_report()" >"$DIR/report.html"
# Its item curves: the anchors, and the items the run's review did not pass.
items=$(value "SELECT string_agg(DISTINCT i, ',') FROM (
    SELECT jsonb_array_elements_text(model_spec->'anchors_used') FROM mirt_fit_meta WHERE run_id = $latest
    UNION SELECT item_id FROM mirt_anchor_drift WHERE run_id = $latest
    UNION SELECT item_id FROM mirt_item_fit WHERE run_id = $latest AND status NOT IN ('ok', 'excluded')) x(i)")
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2000 \
    --screenshot="$DIR/report.png" "file://$DIR/report.html" >"$DIR/chromium.log" 2>&1 || true
report_ok=0
report_check=$(PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 python3 -m pg_irt_tools.report "$DIR/report.html" --png "$DIR/report.png" --items "$items" \
    --says "$(value "SELECT $latest")" 2>&1) && report_ok=1
check "mirt_report() renders in Chromium with every section and the curves asked for" '(( report_ok ))' "$report_check"
check "and shows the scheduled run that failed after it" 'grep -q "unknown model.*4PL" "$DIR/report.html"' "$(grep -o 'unknown model[^<]*' "$DIR/report.html" | head -1 | sed 's/&quot;/"/g')"

echo "== the Kubernetes CronJob's command, as written"
runs_before=$(value "SELECT count(*) FROM mirt_fit_meta")
status=0
DATABASE_URL="postgresql://postgres@/$DB?host=$SOCK&port=$PORT" \
    PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 target/k8s-venv/bin/python -m pg_irt_tools.cronjob_command k8s/cronjob.yaml >"$DIR/cronjob.out" 2>&1 || status=$?
check "psql from k8s/cronjob.yaml succeeds" '(( status == 0 ))' "exit $status"
check "and writes a run" '(( $(value "SELECT count(*) FROM mirt_fit_meta") == runs_before + 1 ))' "$(grep -c NOTICE "$DIR/cronjob.out") NOTICE lines"

echo "== CREATE EXTENSION ... WITH SCHEMA"
as_pg createdb -h "$SOCK" -p "$PORT" pg_irt_schema
out=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_schema -v ON_ERROR_STOP=1 -At \
    -f scripts/demo_data.sql -c "CREATE SCHEMA irt" -c "CREATE EXTENSION pg_irt WITH SCHEMA irt" \
    -c "SELECT n_items FROM irt.mirt_calibrate('2PL', 60)" \
    -c "SELECT count(*) FROM irt.mirt_ability" -c "SELECT string_agg(status, ',') FROM irt.mirt_health()" \
    -c "SELECT count(*) FROM irt.mirt_anchor_drift WHERE flagged AND iteration = (SELECT max(iteration) FROM irt.mirt_anchor_drift)" \
    2>/dev/null | tail -4 | paste -sd/ || true)
# The demo's anchors are stored at the values its answers follow: the run's last screening, the
# verdict, flags none.
check "the extension lives and writes in the schema it was given, and flags no anchor of the demo" '[[ $out == "150/500/OK,OK,OK,OK/0" ]]' "$out"

echo "== upgrade from 0.1.0"
# The install script 0.1.0 shipped (made by its `cargo pgrx schema`), beside the current one
# for as long as this test runs; 0.1.0 -> current must end where a new installation starts.
extdir=$(/usr/bin/pg_config --sharedir)/extension
current=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cp pgrx-tests/upgrade/pg_irt--0.1.0.sql "$extdir/"
trap 'rm -f "$extdir/pg_irt--0.1.0.sql"; cluster_stop "$DIR"' EXIT
catalog="SELECT string_agg(f, E'\\n' ORDER BY f) FROM (SELECT format('%s(%s) returns %s strict=%s volatile=%s config=%s symbol=%s acl=%s', p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), p.proisstrict, p.provolatile, p.proconfig, p.prosrc, p.proacl) AS f
         FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_irt') s"
tables="SELECT string_agg(format('%s %s', relname, relacl), E'\\n' ORDER BY relname) FROM pg_class WHERE relname LIKE 'mirt%' AND relkind IN ('r', 'v')"
columns="SELECT string_agg(format('%s.%s %s notnull=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull), E'\\n' ORDER BY c.relname, a.attname)
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname LIKE 'mirt%' AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped"
constraints="SELECT string_agg(format('%s %s', conrelid::regclass, pg_get_constraintdef(oid)), E'\\n' ORDER BY conrelid::regclass::text, pg_get_constraintdef(oid)) FROM pg_constraint WHERE conrelid::regclass::text LIKE 'mirt%'"
views="SELECT string_agg(format('%s %s', viewname, definition), E'\\n' ORDER BY viewname) FROM pg_views WHERE viewname LIKE 'mirt%'"
dumped="SELECT array_to_string(ARRAY(SELECT c::regclass::text FROM pg_extension, unnest(extconfig) c WHERE extname = 'pg_irt' ORDER BY 1), ' ')"
# Rows a 0.1.0 installation wrote, which the update must keep.
old_rows="INSERT INTO mirt_fit_meta VALUES ('fit-2026-01-01T03:00:00Z', '{\"model\": \"2PL\"}', '{\"converged\": true}', 'succeeded', '2026-01-01 03:00:00+00');
          INSERT INTO mirt_item_params VALUES ('7', '2PL', '{\"a\": 1.1, \"b\": 0.2}', 80, 0.6, 'fit-2026-01-01T03:00:00Z', '2026-01-01 03:00:00+00');
          INSERT INTO mirt_item_params_history VALUES ('fit-2026-01-01T03:00:00Z', '7', '2PL', '{\"a\": 1.1, \"b\": 0.2}', 80, 0.6, '2026-01-01 03:00:00+00');
          INSERT INTO mirt_ability VALUES ('42', 0.3, 0.4, 24, 'fit-2026-01-01T03:00:00Z', '2026-01-01 03:00:00+00')"
kept="SELECT (SELECT count(*) FROM mirt_fit_meta WHERE run_id = 'fit-2026-01-01T03:00:00Z') || '/' || (SELECT params->>'a' FROM mirt_item_params WHERE item_id = '7')
      || '/' || (SELECT count(*) FROM mirt_item_params_history) || '/' || (SELECT theta || ',' || coalesce(zh::text, 'null') FROM mirt_ability WHERE user_id = '42')"
for db in pg_irt_upgraded pg_irt_fresh; do as_pg createdb -h "$SOCK" -p "$PORT" "$db"; done
old_acl=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_upgraded -v ON_ERROR_STOP=1 -At \
    -c "CREATE EXTENSION pg_irt VERSION '0.1.0'" -c "$old_rows" \
    -c "SELECT coalesce(proacl::text, 'default') FROM pg_proc WHERE proname = 'mirt_calibrate'" 2>&1 || true)
upgraded=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_upgraded -v ON_ERROR_STOP=1 -At \
    -c "ALTER EXTENSION pg_irt UPDATE" -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_irt'" \
    -c "$catalog" -c "$tables" -c "$columns" -c "$constraints" -c "$views" -c "$dumped" 2>&1 || true)
fresh=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_fresh -v ON_ERROR_STOP=1 -At \
    -c "CREATE EXTENSION pg_irt" -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_irt'" \
    -c "$catalog" -c "$tables" -c "$columns" -c "$constraints" -c "$views" -c "$dumped" 2>&1 || true)
after=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_upgraded -v ON_ERROR_STOP=1 -At -c "$kept" \
    -f scripts/demo_data.sql -c "SELECT n_items FROM mirt_calibrate('2PL', 60)" \
    -c "SELECT (SELECT count(*) FROM mirt_item_fit) || '/' || (SELECT count(*) FROM mirt_anchor_drift WHERE iteration = 1) || '/' || (SELECT count(zh) FROM mirt_ability)" 2>&1 | grep -v '^\(NOTICE\|WARNING\|INSERT\|CREATE\|SELECT\)' || true)
check "0.1.0 installs and let PUBLIC run mirt_calibrate" '[[ $old_acl == default ]]' "proacl $old_acl"
check "ALTER EXTENSION UPDATE reaches $current" '[[ $(head -1 <<<"$upgraded") == "$current" ]]' "$(head -1 <<<"$upgraded")"
check "the upgraded functions, strictness and privileges equal a new installation's" '[[ $upgraded == "$fresh" ]]' \
    "$(diff <(printf '%s\n' "$fresh") <(printf '%s\n' "$upgraded") | head -5 | paste -sd' ')"
check "the rows written at 0.1.0 are kept (zh NULL)" '[[ $(head -1 <<<"$after") == "1/1.1/1/0.3,null" ]]' "$(head -1 <<<"$after")"
check "and the upgraded extension writes item fit, drift screening and person fit" '[[ $(tail -1 <<<"$after") == "150/50/500" ]]' "$(tail -2 <<<"$after" | paste -sd' ')"
check "and EXECUTE on mirt_calibrate is not PUBLIC's" '[[ $fresh == *"mirt_calibrate("*"acl={"*"irt_calibrator=X/"* && $(grep "^mirt_calibrate(" <<<"$fresh") != *"{=X"* && $(grep "^mirt_calibrate(" <<<"$fresh") != *",=X"* ]]' \
    "$(grep "^mirt_calibrate(" <<<"$fresh" | grep -o 'acl=.*')"

echo "== docs/operations.md: migration from the old pipeline's tables"
as_pg createdb -h "$SOCK" -p "$PORT" pg_irt_migrate
as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_migrate -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE mirt_item_params (item_id bigint PRIMARY KEY, params jsonb, fitted_at timestamptz);
CREATE TABLE mirt_ability (user_id bigint PRIMARY KEY, theta float8, fitted_at timestamptz);
CREATE TABLE mirt_fit_meta (run_id text PRIMARY KEY, model_spec jsonb, metrics jsonb, fitted_at timestamptz);
INSERT INTO mirt_fit_meta VALUES ('fit-2025-11-02T04:15:23Z', '{"model": "2PL", "n_items": 2}', '{"aic": 12345.67}', '2025-11-02 04:15:23+00');
INSERT INTO mirt_item_params VALUES (1, '{"a": 1.1, "b": 0.2}', '2025-11-02 04:15:23+00'), (2, '{"a": 0.9, "b": -0.4}', '2025-11-02 04:15:23+00');
INSERT INTO mirt_ability VALUES (10, 0.3, '2025-11-02 04:15:23+00');
SQL
# The block that follows the "Existing mirt_* tables" paragraph, run as written.
awk '/^\*\*Existing `mirt_\*` tables/ { on = 1 } on && /^```sql/ { code = 1; next } code && /^```/ { exit } code' docs/operations.md >"$DIR/migrate.sql"
out=$(as_pg psql -X -q -h "$SOCK" -p "$PORT" -d pg_irt_migrate -v ON_ERROR_STOP=1 -At -f "$DIR/migrate.sql" \
    -c "SELECT (SELECT count(*) FROM mirt_fit_meta) || '/' || (SELECT count(*) FROM mirt_item_params) || '/' || (SELECT count(*) FROM mirt_ability) || '/' || (SELECT params->>'a' FROM mirt_item_params WHERE item_id = '1')" 2>&1 || true)
check "the documented migration moves the old rows in" '[[ $out == *"1/2/1/1.1" ]]' "$(tail -1 <<<"$out")"

echo "== SQL golden files"
for sql in pgrx-tests/sql/*.sql; do
    name=$(basename "$sql" .sql)
    expected=pgrx-tests/expected/$name.out
    actual=$(psql_it -a -v VERBOSITY=terse -f "$sql" 2>&1 || true)
    if [[ $UPDATE == --update ]]; then
        printf '%s\n' "$actual" >"$expected"
    fi
    if diff -u "$expected" <(printf '%s\n' "$actual") >"$DIR/$name.diff"; then
        check "golden $name" true "matches $expected"
    else
        check "golden $name" false "see the diff below"
        cat "$DIR/$name.diff"
    fi
done

tally integration
