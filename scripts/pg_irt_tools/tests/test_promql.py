"""The one PromQL reading the alerts and the dashboard are held to."""
import json
import os

import pytest
import yaml

from pg_irt_tools.promql import problems, selectors
from pg_irt_tools.series import exporter_metrics_of

K8S = os.path.join(os.path.dirname(__file__), "..", "..", "..", "k8s")
EXPORTED = {"pg_irt_last_run_age_seconds"}
SCOPED_JOB = ('kube_job_status_failed{namespace="seedtest", job_name=~"calibrate-irt-.*"}')


def test_selectors_read_every_matcher_operator():
    [s] = selectors('max(kube_job_failed{namespace="seedtest", a!="1", job_name=~"x.*", b!~"y"})')
    assert s.metric == "kube_job_failed"
    assert s.matchers == {("namespace", "=", "seedtest"), ("a", "!=", "1"),
                          ("job_name", "=~", "x.*"), ("b", "!~", "y")}


def test_grafana_interval_variables_read_as_durations():
    found = selectors("sum(increase(pg_irt_last_run_age_seconds[$__rate_interval]))")
    assert [s.metric for s in found] == ["pg_irt_last_run_age_seconds"]


def test_what_does_not_parse_is_an_error():
    with pytest.raises(ValueError):
        selectors("sum(rate(foo[5m])")


def test_a_scoped_selector_and_an_exported_series_pass():
    assert not problems("here", selectors(SCOPED_JOB)[0], EXPORTED)
    assert not problems("here", selectors("pg_irt_last_run_age_seconds > 90000")[0], EXPORTED)


@pytest.mark.parametrize("expr, wanted", [
    ('kube_job_status_failed{job_name=~"calibrate-irt-.*"}', 'namespace="seedtest"'),
    ('kube_job_status_failed{namespace="seedtest"}', 'job_name=~"calibrate-irt-.*"'),
    ('kube_cronjob_status_last_successful_time{namespace="seedtest"}', 'cronjob="calibrate-irt"'),
    ("cronjob_failure_count > 0", "exported by nothing we run"),
])
def test_an_unscoped_or_unexported_selector_is_named(expr, wanted):
    found = problems("rule X", selectors(expr)[0], EXPORTED)
    assert any(wanted in p and p.startswith("rule X") for p in found), found


def test_the_repository_alerts_and_dashboard_follow_the_rule():
    known = exporter_metrics_of(os.path.join(K8S, "postgres-exporter-queries.yaml"))
    with open(os.path.join(K8S, "prometheusrule.yaml"), encoding="utf-8") as f:
        rules = [r for g in yaml.safe_load(f)["spec"]["groups"] for r in g["rules"]]
    with open(os.path.join(K8S, "grafana", "pg-irt-dashboard.json"), encoding="utf-8") as f:
        panels = json.load(f)["panels"]
    exprs = [r["expr"] for r in rules] + [
        t["expr"] for p in panels + [q for p in panels for q in p.get("panels") or []]
        for t in p.get("targets") or [] if "expr" in t]
    assert len(exprs) > len(rules)
    assert [p for e in exprs for s in selectors(e) for p in problems(e, s, known)] == []
