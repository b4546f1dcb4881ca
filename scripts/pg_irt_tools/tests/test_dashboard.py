"""The dashboard's SQL as Grafana would send it."""
import pytest

from pg_irt_tools.dashboard import Failed, substitute


def test_macros_become_the_thirty_day_range():
    sql = substitute("SELECT 1 FROM t WHERE $__timeFilter(fitted_at) AND x < $__timeTo()",
                     {}, set())
    assert "fitted_at BETWEEN now() - interval '30 days' AND now()" in sql
    assert "x < now()" in sql


def test_an_unknown_macro_or_variable_is_refused():
    with pytest.raises(Failed):
        substitute("SELECT $__unixEpochFilter(t)", {}, set())
    with pytest.raises(Failed):
        substitute("SELECT $nothing", {}, set())
