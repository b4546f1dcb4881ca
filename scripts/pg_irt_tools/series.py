"""The series a PromQL expression of ours may read: what kube-state-metrics exports for Jobs and
CronJobs, and what our postgres_exporter queries make. The alerts (k8s/prometheusrule.yaml) and
the dashboard are both checked against these, so they speak of the same series."""

import yaml

# kube-state-metrics' Job and CronJob series (its docs/metrics/workload).
KSM_METRICS = frozenset({
    "kube_job_info", "kube_job_owner", "kube_job_status_active", "kube_job_status_succeeded",
    "kube_job_status_failed", "kube_job_status_start_time", "kube_job_status_completion_time",
    "kube_job_complete", "kube_job_failed", "kube_job_created",
    "kube_cronjob_info", "kube_cronjob_created", "kube_cronjob_next_schedule_time",
    "kube_cronjob_status_active", "kube_cronjob_status_last_schedule_time",
    "kube_cronjob_status_last_successful_time", "kube_cronjob_spec_suspend",
})
# postgres_exporter's usages that make a series (LABEL makes a label, DISCARD nothing).
EXPORTER_USAGES = ("GAUGE", "COUNTER", "DURATION", "MAPPEDMETRIC")


def exporter_metrics(queries):
    """<query name>_<column> of every column postgres_exporter turns into a series, from the
    parsed queries file (top-level query names, each with `metrics:`, a list of one-key maps
    `- column: {usage: ...}`)."""
    names = set()
    for prefix, query in (queries or {}).items():
        for metric in (query or {}).get("metrics") or []:
            for column, spec in (metric or {}).items():
                if (spec or {}).get("usage") in EXPORTER_USAGES:
                    names.add(f"{prefix}_{column}")
    return names


def exporter_metrics_of(path):
    """The same, read from the queries file at `path`."""
    with open(path, encoding="utf-8") as f:
        return exporter_metrics(yaml.safe_load(f))
