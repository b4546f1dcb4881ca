#!/usr/bin/env bash
# Runs every test tier: the numerical core (agreement with R mirt, recovery, properties), the
# PostgreSQL tests inside a real server, the Kubernetes manifests, the integration tests on
# a cluster of our own (pg_cron, concurrent sessions, cancellation, golden SQL files), and the
# pg-irt command against a cluster of its own (TLS, no extension, the same numbers). Installs what it needs
# first (scripts/setup.sh). Prints a closing summary line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tier() {
    printf '\n== %s\n' "$1"
    shift
    "$@" 2>&1 | tee -a "$log"
}

# PostgreSQL refuses to run as root: pgrx starts its test server as postgres in a directory
# that user owns.
pgdata="$PWD/target/pgrx-test-data"
install -d -o postgres -g postgres "$pgdata"

tier "core (irt-core, irt-store, irt-report, pg-irt)" cargo test --locked -p irt-core -p irt-store -p irt-report -p pg-irt-cli
tier "postgres (pgrx)" cargo pgrx test pg15 --runas postgres --pgdata "$pgdata"
# The command's tier builds the release binary, whose linked libraries the manifests' check
# compares with the image's.
tier "the pg-irt command (own cluster with TLS, with and without the extension)" bash scripts/cli-tests.sh
tier "kubernetes manifests and the command's image" bash scripts/validate-k8s.sh
tier "integration (own cluster with pg_cron)" bash scripts/integration.sh

passed=$(grep -Eo 'test result: ok\. [0-9]+ passed|^(k8s|integration|cli): [0-9]+ passed|^[0-9]+ passed in ' "$log" | grep -Eo '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
printf '\ntest result: ok. %s passed; 0 failed (all tiers)\n' "$passed"
