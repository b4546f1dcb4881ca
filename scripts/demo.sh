#!/usr/bin/env bash
# The main job, end to end on a fresh machine: builds and installs pg_irt (release) into the
# local PostgreSQL 15 cluster (started if down), loads a demo database shaped like production
# (an `attempt` view, a `question` bank with anchors), runs the nightly calibration and the
# old pipeline's verification queries.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo pgrx install --release --pg-config /usr/bin/pg_config

if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main"' | grep -q .; then
    pg_createcluster 15 main
fi
if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main" && $4 == "online"' | grep -q .; then
    pg_ctlcluster --skip-systemctl-redirect 15 main start
fi

db=${PG_IRT_DEMO_DB:-pg_irt_demo}
as_postgres() { runuser -u postgres -- "$@"; }
as_postgres psql -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
as_postgres psql -q -v ON_ERROR_STOP=1 -d "$db" -f scripts/demo_data.sql >/dev/null
as_postgres psql -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION pg_irt;
\echo '== SELECT * FROM mirt_calibrate(''2PL'', 60)'
\x on
SELECT * FROM mirt_calibrate('2PL', 60);
\x off
\echo '== the old pipeline''s verification queries'
\i scripts/verification.sql
SQL
