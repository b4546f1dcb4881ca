# Sourced by the test scripts that count their own checks (integration.sh, cli-tests.sh): the
# check itself, the clock helpers, the row counts of a run's tables, and the closing tally.

passed=0
failed=0

check() { # name, condition (a shell test, evaluated), detail
    if eval "$2"; then
        passed=$((passed + 1)); printf 'ok   %s (%s)\n' "$1" "$3"
    else
        failed=$((failed + 1)); printf 'FAIL %s (%s)\n' "$1" "$3"
    fi
}
now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# runs/items/abilities/history: what a rolled-back run must leave as it was.
RUN_COUNTS="SELECT (SELECT count(*) FROM mirt_fit_meta) || '/' || (SELECT count(*) FROM mirt_item_params) || '/' || (SELECT count(*) FROM mirt_ability) || '/' || (SELECT count(*) FROM mirt_item_params_history)"

# The closing line test.sh adds up, and the script's status.
tally() { # tier name
    printf '\n%s: %d passed, %d failed\n' "$1" "$passed" "$failed"
    ((failed == 0))
}
