"""pg_irt's checks of what it deploys and draws, and the benchmark's statistics, as one package
run by thin shell wrappers (`python -m pg_irt_tools.<module>` with `scripts/` on PYTHONPATH):

- `k8s`: the Kubernetes manifests, the alert rules and the exporter queries (validate-k8s.sh);
- `dashboard`: the Grafana dashboard, statically and against a database (integration.sh);
- `report`: a rendered report of mirt_report() and its screenshot (integration.sh);
- `cronjob_command`: the CronJob's command run as Kubernetes would (integration.sh);
- `series` and `promql`: the one list of the series we may read and the one PromQL reading,
  which the alerts and the dashboard are both held to;
- `stats` and `peak_memory`: the benchmark's medians and quantiles, and its memory sampler.

The tests in `tests/` run with pytest in the Kubernetes tier. Modules that import yaml or
promql_parser run in the pinned environment target/k8s-venv that validate-k8s.sh makes.
"""
