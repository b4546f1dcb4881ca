"""PromQL as our alerts and dashboard use it, read by promql-parser: the vector selectors of an
expression, and the rule every kube-state-metrics selector of ours must follow (this
deployment's namespace and objects, so an alert or a panel never mixes in another CronJob)."""

import re
from typing import NamedTuple

import promql_parser

from .series import KSM_METRICS

NAMESPACE = "seedtest"
CRONJOB = "calibrate-irt"
JOB_NAMES = "calibrate-irt-.*"
# Grafana's own interval variables stand for a duration; the dashboard uses no other.
GRAFANA_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)\b")
OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


class Selector(NamedTuple):
    metric: str
    matchers: frozenset  # (label, op, value), op one of = != =~ !~


def selectors(expr):
    """Every vector selector of `expr` (Grafana's interval variables read as 5m). Raises
    ValueError when it does not parse."""
    ast = promql_parser.parse(GRAFANA_INTERVALS.sub("5m", expr))
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(Selector(node.name or "", frozenset(
                (m.name, OPS[str(m.op).split(".")[-1]], m.value) for m in node.matchers.matchers)))
        return True

    promql_parser.walk(ast, visit)
    return found


def problems(where, selector, known):
    """Why `selector` may not be read: a series nothing we run exports, or a kube-state-metrics
    series not restricted to this deployment's namespace and objects."""
    metric, matchers = selector
    out = []
    if metric not in known | KSM_METRICS:
        out.append(f"{where}: metric {metric!r} is exported by nothing we run "
                   "(kube-state-metrics or the pg_irt exporter query)")
    if metric.startswith("kube_") and ("namespace", "=", NAMESPACE) not in matchers:
        out.append(f"{where}: {metric} is not restricted to namespace=\"{NAMESPACE}\"")
    if metric.startswith("kube_job_") and ("job_name", "=~", JOB_NAMES) not in matchers:
        out.append(f"{where}: {metric} is not restricted to job_name=~\"{JOB_NAMES}\"")
    if metric.startswith("kube_cronjob_") and ("cronjob", "=", CRONJOB) not in matchers:
        out.append(f"{where}: {metric} is not restricted to cronjob=\"{CRONJOB}\"")
    return out
