"""The one reading of what our postgres_exporter queries export."""
import os

from pg_irt_tools.series import KSM_METRICS, exporter_metrics, exporter_metrics_of

QUERIES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "k8s",
                       "postgres-exporter-queries.yaml")


def test_each_column_with_a_series_usage_is_a_series():
    queries = {"pg_irt": {"query": "SELECT 1", "metrics": [
        {"last_run_age_seconds": {"usage": "GAUGE"}},
        {"run_id": {"usage": "LABEL"}},
        {"runs": {"usage": "COUNTER"}},
        {"ignored": {"usage": "DISCARD"}},
    ]}, "empty": None}
    assert exporter_metrics(queries) == {"pg_irt_last_run_age_seconds", "pg_irt_runs"}


def test_the_repository_exports_the_run_age_and_the_last_success():
    names = exporter_metrics_of(QUERIES)
    assert {"pg_irt_last_run_age_seconds", "pg_irt_last_success_age_seconds"} <= names
    assert not names & KSM_METRICS
