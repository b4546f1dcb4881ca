#!/usr/bin/env bash
# Benchmarks `SELECT mirt_calibrate(...)` end to end, the way a user runs it, and prints a table.
#
#   bash scripts/bench.sh [--runs N] [--sets name,name,...] [--command] [--cancel N] [--installed]
#                         [--mirt-runs N] [--server tuned|defaults]
#
# Where R with mirt is installed (`Rscript -e 'library(mirt)'` succeeds: run
# ../shared/tools/r-mirt/install.sh and set R_LIBS to the library it names), R mirt's fit and EAP
# scores are timed on the same data in the same invocation (scripts/bench_mirt.R, --mirt-runs
# runs, 3 by default; 0 skips it), and the speed-up is that median over pg_irt's. Without R both
# columns read "–": a ratio is only ever measured in one run on one machine.
# After the main table, the read against its floors: each set's load phase beside PostgreSQL's
# own scan of the window (count(*)) and its scan with every row formed (COPY to /dev/null).
# --server defaults runs on a second throwaway cluster with PostgreSQL's default settings
# (target/bench-cluster-defaults) instead of the tuned one (shared_buffers = 1GB).
#
# With --installed, the extension already installed in the system PostgreSQL is timed instead of
# this checkout's release build: to compare two builds in one session, install each in turn
# (its .so and SQL files) and run with --installed after each.
# With --command, a second table times the pg-irt command on the same sets (each run a new
# process over the Unix socket, as a CronJob runs it) beside the extension's median.
# With --cancel N, a third table: N runs per set, each sent pg_cancel_backend at a moment drawn
# uniformly over the median run's duration (seeded), and the time from the cancel to the end of
# the statement, with the phase the moment fell in (by the median run's phase times).
#
# Each data set is simulated by irt-simulate (seeded: the same answers on every machine),
# loaded into a database of its own on a throwaway cluster (target/bench-cluster) as the
# production shape: a `question` table with anchors tagged in `meta`, an `attempt_log` table and
# the `attempt` view over it. Data sets are generated and loaded once and kept between runs.
# Every calibration runs in a fresh session with default settings (all cores, linking auto, priors bank);
# sets without anchors pass linking => 'none', as a user without anchors must. The extension is
# re-created for each set and calibrated once untimed, so that timed runs update earlier rows.
# Reported: medians over the runs of the statement's wall time and of the phases the run records
# in mirt_fit_meta.metrics, EM cycles, and the backend's peak private memory (RssAnon sampled
# every 10 ms by pg_irt_tools.peak_memory) above what the session held before the call.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh

RUNS=3
SETS=sparse,full,anchored,scale-1e5,scale-1e6,scale-1e7
COMMAND=0
CANCELS=0
INSTALL=1
MIRT_RUNS=3
SERVER=tuned
while (($#)); do
    case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --sets) SETS=$2; shift 2 ;;
    --command) COMMAND=1; shift ;;
    --cancel) CANCELS=$2; shift 2 ;;
    --installed) INSTALL=0; shift ;;
    --mirt-runs) MIRT_RUNS=$2; shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    *) echo "usage: bench.sh [--runs N] [--sets name,...] [--command] [--cancel N] [--installed] [--mirt-runs N] [--server tuned|defaults]" >&2; exit 2 ;;
    esac
done

# name: persons items per_person anchors thread_counts ("0" = the default, all cores) source
# (table: the view renames a table's columns; view: an ordinary production view over a log that
# stores an integer answer and epoch seconds, converting both per row; groups: the table's view
# with a column putting each user in one of two groups, calibrated with groups => 'cohort')
declare -A SHAPE=(
    [sparse]="20000 300 40 0 0"
    [full]="50000 150 150 0 0"
    [sparse-view]="20000 300 40 0 0 view"
    [full-view]="50000 150 150 0 0 view"
    [graded]="50000 150 150 0 0 graded"
    [anchored]="20000 400 60 60 0"
    [anchored-groups]="20000 400 60 60 0 groups"
    [scale-1e5]="2000 1000 50 0 0,1"
    [scale-1e6]="20000 1000 50 0 0,1"
    [scale-1e7]="200000 1000 50 0 0,1"
    [bank-5000]="20000 5000 100 0 0"
    [bank-10000]="200000 10000 100 0 0"
)
case $SERVER in
tuned)
    PORT=${PG_IRT_BENCH_PORT:-54330}
    DIR="$PWD/target/bench-cluster"
    SETTINGS="shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 30min"
    ;;
defaults)
    PORT=${PG_IRT_BENCH_PORT:-54331}
    DIR="$PWD/target/bench-cluster-defaults"
    SETTINGS=""
    ;;
*) echo "--server is tuned or defaults, not $SERVER" >&2; exit 2 ;;
esac
MIRT=0
if ((MIRT_RUNS > 0)) && Rscript -e 'suppressMessages(library(mirt))' >/dev/null 2>&1; then
    MIRT=1
fi
DATA="$PWD/target/bench-data"
psql_b() { as_pg psql -X -q -h "$CLUSTER_SOCK" -p "$PORT" -v ON_ERROR_STOP=1 "$@"; }

echo "building the release build..." >&2
cargo build --locked --release -p irt-core --bin irt-simulate -p pg-irt-cli >/dev/null 2>&1
if ((INSTALL)); then
    echo "installing it..." >&2
    cargo pgrx install --release --pg-config /usr/bin/pg_config >/dev/null 2>&1
else
    echo "timing the extension already installed" >&2
fi

if [[ ! -f $DIR/PG_VERSION ]]; then
    cluster_start "$DIR" "$PORT" "$SETTINGS"
else
    cluster_resume "$DIR"
fi
trap 'cluster_stop "$DIR"' EXIT

# Creates and fills the set's database unless it already holds this shape.
load_set() {
    local name=$1 persons=$2 items=$3 per=$4 anchors=$5 source=${6:-table}
    local db="bench_${name//-/_}" shape="$persons $items $per $anchors seed 1, time order"
    [[ $source == table ]] || shape+=", $source"
    if [[ $(psql_b -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]] &&
        [[ $(psql_b -d "$db" -At -c "SELECT shape FROM bench_shape" 2>/dev/null) == "$shape" ]]; then
        return
    fi
    echo "generating and loading $name ($persons x $items, $per each)..." >&2
    local categories=2
    [[ $source == graded ]] && categories=4
    target/release/irt-simulate --persons "$persons" --items "$items" --per-person "$per" \
        --seed 1 --categories "$categories" --out "$DATA/$name"
    psql_b -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_b -d "$db" <<SQL
CREATE TABLE question (id bigint PRIMARY KEY, meta jsonb NOT NULL DEFAULT '{}');
CREATE UNLOGGED TABLE bench_truth (id bigint, a float8, b float8);
CREATE UNLOGGED TABLE bench_answers (user_id bigint, question_id bigint, correct int);
SQL
    if [[ $source == view ]]; then
        psql_b -d "$db" <<SQL
CREATE TABLE attempt_log (user_id integer, question_id integer, points smallint, answered_at bigint);
CREATE VIEW attempt AS SELECT user_id, question_id, points::integer AS correct,
    to_timestamp(answered_at) AS created_at FROM attempt_log;
SQL
    elif [[ $source == graded ]]; then
        psql_b -d "$db" <<SQL
CREATE TABLE attempt_log (user_id bigint, question_id bigint, score smallint, created_at timestamptz);
CREATE VIEW attempt AS SELECT user_id, question_id, score, created_at FROM attempt_log;
SQL
    else
        local cohort=""
        [[ $source == groups ]] && cohort=", CASE WHEN user_id % 2 = 0 THEN 'even' ELSE 'odd' END AS cohort"
        psql_b -d "$db" <<SQL
CREATE TABLE attempt_log (user_id bigint, question_id bigint, is_correct boolean, created_at timestamptz);
CREATE VIEW attempt AS SELECT user_id, question_id, is_correct AS correct, created_at$cohort FROM attempt_log;
SQL
    fi
    local row="correct = 1, created_at"
    [[ $source == view ]] && row="correct, extract(epoch FROM created_at)::bigint"
    [[ $source == graded ]] && row="correct, created_at"
    psql_b -d "$db" -c "COPY bench_truth FROM STDIN CSV HEADER" <"$DATA/$name/items.csv"
    psql_b -d "$db" -c "COPY bench_answers FROM STDIN CSV HEADER" <"$DATA/$name/answers.csv"
    psql_b -d "$db" <<SQL
INSERT INTO question
SELECT id, CASE WHEN id <= $anchors
    THEN jsonb_build_object('tags', '["anchor"]'::jsonb, 'irt', jsonb_build_object('a', a, 'b', b))
    ELSE '{"tags": ["practice"]}' END
FROM bench_truth;
-- Spread over the last 50 days, deterministically, and stored in time order as a log is.
INSERT INTO attempt_log
SELECT user_id, question_id, $row
FROM (SELECT *, now() - ((user_id * 7 + question_id) % 50) * interval '1 day'
                      - ((user_id * 13 + question_id) % 86400) * interval '1 second' AS created_at
      FROM bench_answers) AS a
ORDER BY created_at;
DROP TABLE bench_truth, bench_answers;
SQL
    psql_b -d "$db" -c "VACUUM (FREEZE, ANALYZE) attempt_log" -c "CHECKPOINT" \
        -c "CREATE TABLE bench_shape AS SELECT '$shape'::text AS shape"
}

# The extension as this build installs it, and one run that is not counted: the timed runs
# update the rows of an earlier run, as a nightly run does.
fresh_extension() {
    psql_b -d "$1" -c "DROP EXTENSION IF EXISTS pg_irt" -c "CREATE EXTENSION pg_irt" \
        -c "SELECT count(*) FROM mirt_calibrate($2)" >/dev/null 2>&1
}

# One calibration in a fresh session; prints "total load fit score link write cycles peak_kb
# item_fit dif".
run_once() {
    local db=$1 call=$2 out
    out=$(mktemp)
    psql_b -d "$db" -At -c "SELECT pg_backend_pid()" -c "SELECT pg_sleep(0.3)" -c '\timing on' \
        -c "$call" >"$out" 2>&1 &
    local job=$! pid="" sampler peak
    for _ in $(seq 200); do
        pid=$(head -1 "$out" 2>/dev/null | grep -E '^[0-9]+$' || true)
        [[ -n $pid ]] && break
        sleep 0.01
    done
    [[ -n $pid ]] || { cat "$out" >&2; exit 1; }
    PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 python3 -m pg_irt_tools.peak_memory "$pid" >"$out.peak" &
    sampler=$!
    wait "$job" || { kill "$sampler"; cat "$out" >&2; exit 1; }
    kill -TERM "$sampler"
    wait "$sampler"
    peak=$(cat "$out.peak")
    rm -f "$out.peak"
    local total
    total=$(grep -Eo '^Time: [0-9.]+' "$out" | tail -1 | awk '{ print $2 / 1000 }')
    rm -f "$out"
    psql_b -d "$db" -At -F ' ' -c "SELECT $total, metrics->'ms'->>'load', metrics->'ms'->>'fit',
        metrics->'ms'->>'score', metrics->'ms'->>'link', metrics->'ms'->>'write', metrics->>'em_cycles', $peak,
        metrics->'ms'->>'item_fit', coalesce(metrics->'ms'->>'dif', '0')
        FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1"
}

# The read's floors, "count copy" in seconds: PostgreSQL scanning the window (count(*)) and
# scanning and forming every row of it (COPY … TO '/dev/null' in binary), each in a fresh session.
read_floors() {
    local db=$1 answer=$2 window="FROM attempt WHERE created_at >= now() - interval '60 days'" out
    for query in "SELECT count(*) $window" \
        "COPY (SELECT user_id, question_id, $answer, created_at $window) TO '/dev/null' WITH (FORMAT binary)"; do
        for _ in $(seq "$RUNS"); do
            out=$(psql_b -d "$db" -At -c '\timing on' -c "$query" 2>&1)
            grep -Eo '^Time: [0-9.]+' <<<"$out" | awk '{ print $2 / 1000 }'
        done | median
    done | paste -sd ' '
}

# The model a set is calibrated with: GRM for the graded set, the 2PL otherwise.
model_of() { if [[ ${1:-table} == graded ]]; then echo GRM; else echo 2PL; fi; }

# The statistics of the runs (tested: scripts/pg_irt_tools/tests/test_stats.py).
stat() { PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 python3 -m pg_irt_tools.stats "$@"; }
median() { stat median; }

printf '# pg_irt benchmark, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf -- '- machine: %s, %s cores, %s GiB; %s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    "$(nproc)" "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
    "$(psql_b -d postgres -At -c 'SELECT version()' | cut -d, -f1)"
printf -- '- %s runs per row, medians; seconds unless stated; memory = peak backend private memory above the session'"'"'s own\n' "$RUNS"
printf -- '- server settings: %s\n' "$([[ $SERVER == tuned ]] && echo "tuned (shared_buffers = 1GB, max_wal_size = 4GB)" || echo "PostgreSQL's defaults")"
if ((MIRT)); then
    printf -- '- R mirt %s (R %s), fit + EAP, %s runs per set in this invocation, median\n\n' \
        "$(Rscript -e 'cat(format(packageVersion("mirt")))' 2>/dev/null)" \
        "$(Rscript -e 'cat(format(getRversion()))' 2>/dev/null)" "$MIRT_RUNS"
else
    printf -- '- R mirt not found (Rscript -e '"'"'library(mirt)'"'"' failed): no ratios\n\n'
fi
printf '| data | answers | threads | load | fit | link | score | item fit | DIF | write | total | EM cycles | peak MB | bytes/answer | R mirt fit+EAP | speed-up |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
IFS=, read -ra names <<<"$SETS"
declare -A EXTENSION_TOTAL PHASES MIRT_TOTAL FLOORS
for name in "${names[@]}"; do
    [[ -n ${SHAPE[$name]:-} ]] || { echo "unknown set $name; known: ${!SHAPE[*]}" >&2; exit 2; }
    read -r persons items per anchors threads source <<<"${SHAPE[$name]}"
    load_set "$name" "$persons" "$items" "$per" "$anchors" "${source:-table}"
    db="bench_${name//-/_}"
    answers=$((persons * per))
    IFS=, read -ra thread_counts <<<"$threads"
    model=$(model_of "${source:-}") answer=correct
    [[ $model == GRM ]] && answer=score
    base="'$model', 60"
    ((anchors == 0)) && base+=", linking => 'none'"
    [[ ${source:-} == groups ]] && base+=", groups => 'cohort'"
    fresh_extension "$db" "$base"
    for t in "${thread_counts[@]}"; do
        args=$base
        ((t > 0)) && args+=", threads => $t"
        results=$(for _ in $(seq "$RUNS"); do run_once "$db" "SELECT count(*) FROM mirt_calibrate($args)"; done)
        col() { awk -v c="$1" '{ print $c }' <<<"$results" | median; }
        peak_kb=$(col 8) total=$(col 1) mirt=""
        # Sets of one shape and model hold the same answers (irt-simulate, seed 1): R mirt is
        # timed once.
        data_key="$persons $items $per $model"
        # bench_mirt.R fits one population: no ratio for a set with groups.
        if ((MIRT)) && [[ ${source:-} != groups ]]; then
            [[ -n ${MIRT_TOTAL[$data_key]:-} ]] ||
                MIRT_TOTAL[$data_key]=$(Rscript scripts/bench_mirt.R "$DATA/$name/answers.csv" "$MIRT_RUNS" "$model" | median)
            mirt=$(printf '%.1f' "${MIRT_TOTAL[$data_key]}")
        fi
        label="$name ($persons × $items, $per each"
        ((anchors > 0)) && label+=", $anchors anchors"
        [[ ${source:-table} == view ]] && label+=", ordinary view"
        [[ ${source:-table} == groups ]] && label+=", two groups"
        [[ $model == GRM ]] && label+=", GRM, 4 categories"
        ((t > 0)) || t=$(nproc)
        speedup=–
        [[ -n $mirt ]] && speedup=$(awk -v m="${MIRT_TOTAL[$data_key]}" -v t="$total" 'BEGIN { printf "%.0f×", m / t }')
        [[ -n ${EXTENSION_TOTAL[$name]:-} ]] || EXTENSION_TOTAL[$name]=$total
        seconds() { awk -v ms="$(col "$1")" 'BEGIN { printf "%.3f", ms / 1000 }'; }
        [[ -n ${PHASES[$name]:-} ]] || PHASES[$name]="$(col 2) $(col 3) $(col 5) $(col 4) $(col 9) $(col 6)"
        [[ -n ${FLOORS[$name]:-} ]] || FLOORS[$name]="$(seconds 2) $(read_floors "$db" "$answer")"
        printf '| %s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | **%.2f** | %s | %.0f | %.1f | %s | %s |\n' \
            "$label" "$answers" "$t" "$(seconds 2)" "$(seconds 3)" "$(seconds 5)" "$(seconds 4)" \
            "$(seconds 9)" "$(seconds 10)" "$(seconds 6)" "$total" "$(col 7)" "$(awk -v k="$peak_kb" 'BEGIN { print k / 1024 }')" \
            "$(awk -v k="$peak_kb" -v n="$answers" 'BEGIN { print k * 1024 / n }')" "${mirt:-–}" "$speedup"
    done
done

printf '\n| data | load | scan (count) | load / scan | scan and form rows (COPY binary) |\n'
printf '|---|---:|---:|---:|---:|\n'
for name in "${names[@]}"; do
    read -r load count copy <<<"${FLOORS[$name]}"
    printf '| %s | %s | %.3f | %.2f | %.3f |\n' "$name" "$load" "$count" \
        "$(awk -v l="$load" -v c="$count" 'BEGIN { print l / c }')" "$copy"
done

# One run of `call` cancelled `delay` seconds after it started; prints "latency outcome" (the
# seconds from pg_cancel_backend to the end of the statement; outcome 57014, or finished when the
# run ended before the cancel).
run_cancelled() {
    local db=$1 call=$2 delay=$3 out app="bench_cancel_$RANDOM"
    out=$(mktemp)
    psql_b -d "$db" -v VERBOSITY=verbose -c "SET application_name = '$app'" -c "$call" >"$out" 2>&1 &
    local job=$! pid=""
    for _ in $(seq 500); do
        pid=$(psql_b -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app' AND state = 'active'")
        [[ -n $pid ]] && break
        sleep 0.01
    done
    sleep "$delay"
    local sent ended
    sent=$(date +%s.%N)
    psql_b -d postgres -At -c "SELECT pg_cancel_backend($pid)" >/dev/null 2>&1
    wait "$job" || true
    ended=$(date +%s.%N)
    if grep -q 57014 "$out"; then
        awk -v a="$sent" -v b="$ended" 'BEGIN { printf "%.3f 57014\n", b - a }'
    else
        echo "0 finished"
    fi
    rm -f "$out"
}

# The phase (in the order a run goes through them) that `seconds` into a run falls in.
phase_at() {
    awk -v at="$1" -v phases="$2" 'BEGIN {
        split(phases, ms, " "); split("load fit link score item-fit write", name, " ")
        t = 0; for (i = 1; i <= 6; i++) { t += ms[i] / 1000; if (at < t) { print name[i]; exit } }
        print "write" }'
}

if ((CANCELS)); then
    printf '\n| data | cancels | phases hit | median s | 90th percentile s | max s | finished first |\n'
    printf '|---|---:|---|---:|---:|---:|---:|\n'
    RANDOM=1
    for name in "${names[@]}"; do
        read -r persons items per anchors threads source <<<"${SHAPE[$name]}"
        db="bench_${name//-/_}"
        base="'$(model_of "${source:-}")', 60"
        ((anchors == 0)) && base+=", linking => 'none'"
        [[ ${source:-} == groups ]] && base+=", groups => 'cohort'"
        duration=$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s / 1000 }' <<<"${PHASES[$name]}")
        latencies="" hit="" finished=0
        for _ in $(seq "$CANCELS"); do
            delay=$(awk -v r="$RANDOM" -v d="$duration" 'BEGIN { printf "%.3f", r / 32768 * d }')
            read -r latency outcome <<<"$(run_cancelled "$db" "SELECT count(*) FROM mirt_calibrate($base)" "$delay")"
            if [[ $outcome == finished ]]; then
                finished=$((finished + 1))
                continue
            fi
            latencies+="$latency"$'\n'
            hit+="$(phase_at "$delay" "${PHASES[$name]}")"$'\n'
        done
        quantile() { grep . <<<"$latencies" | stat quantile "$1"; }
        printf '| %s | %s | %s | %.3f | %.3f | %.3f | %s |\n' "$name" "$CANCELS" \
            "$(grep . <<<"$hit" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')" \
            "$(quantile 0.5)" "$(quantile 0.9)" "$(quantile 1)" "$finished"
    done
fi

((COMMAND)) || exit 0
printf '\n| data | answers | extension | pg-irt command | command / extension | command peak MB |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for name in "${names[@]}"; do
    read -r persons items per anchors threads source <<<"${SHAPE[$name]}"
    db="bench_${name//-/_}"
    args=(--model "$(model_of "${source:-}")")
    ((anchors == 0)) && args+=(--linking none)
    [[ ${source:-} == groups ]] && args+=(--groups cohort)
    # Wall time and peak resident memory of the whole process, by GNU time.
    results=$(for _ in $(seq "$RUNS"); do
        runuser -u postgres -- env DATABASE_URL="host=$CLUSTER_SOCK port=$PORT dbname=$db sslmode=disable" \
            /usr/bin/time -f '%e %M' target/release/pg-irt calibrate "${args[@]}" 2>&1 >/dev/null | tail -1
    done)
    total=$(awk '{ print $1 }' <<<"$results" | median)
    peak=$(awk '{ print $2 }' <<<"$results" | median)
    printf '| %s | %s | %.2f | **%.2f** | %.2f | %.0f |\n' "$name" "$((persons * per))" \
        "${EXTENSION_TOTAL[$name]}" "$total" "$(awk -v c="$total" -v e="${EXTENSION_TOTAL[$name]}" 'BEGIN { print c / e }')" \
        "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')"
done
