#!/usr/bin/env bash
# Validates the Kubernetes deployment in k8s/ without a cluster and without network access
# beyond PyPI (and Debian's archive if python3 itself is missing).
#
#   scripts/validate-k8s.sh                 # from any directory, as root on Debian 12
#   PG_IRT_K8S_DIR=/some/copy/k8s scripts/validate-k8s.sh   # validate another copy
#
# What it checks:
#   - core kinds (the CronJob, the CronJob with the cloudsql-proxy component merged in, the
#     generated ConfigMap) against the Kubernetes OpenAPI schemas with
#     `kubernetes-validate --strict` (unknown fields are errors) for each version in
#     K8S_SCHEMA_VERSIONS;
#   - the settings this deployment relies on, which the schemas cannot express (enums such as
#     concurrencyPolicy, the exact psql command, $(VAR) references, security settings...);
#   - CRD kinds (ExternalSecret, PrometheusRule), for which no schema is available offline:
#     YAML structure, allowed keys, the key fields, every alert expression parsed as PromQL and
#     every metric it reads checked against what kube-state-metrics and our postgres_exporter
#     query really export;
#   - the postgres_exporter queries file and the kustomizations (including that every YAML
#     and JSON file in k8s/ is used);
#   - the Grafana dashboard k8s/grafana/pg-irt-dashboard.json and its ConfigMap: the static
#     part of pg_irt_tools.dashboard (structure, data source variables, the macros of its
#     SQL), every PromQL expression parsed with promql-parser, its metrics and label matchers
#     held to the alerts' rule (pg_irt_tools.promql). Its SQL runs against a database in
#     scripts/integration.sh;
#   - when a kubectl with kustomize v4+ is on PATH (Debian 12's kubernetes-client 1.20 is too
#     old for components): `kubectl kustomize` of the base and of the base with the component,
#     validated and compared with this script's own rendering. Without one, a `skip` line.
#
# The checks are the package scripts/pg_irt_tools (its module k8s); its pytest tests run first.
# Tools are installed into target/k8s-venv (pinned; skipped when already there). Rendered
# manifests are left in target/k8s-rendered for inspection. Prints `ok <file>: <check>` per
# check and ends with `k8s: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_DIR="$(cd "${PG_IRT_K8S_DIR:-$ROOT/k8s}" && pwd)"
TARGET="$ROOT/target"
VENV="$TARGET/k8s-venv"
RENDER_DIR="$TARGET/k8s-rendered"

# Kubernetes versions whose schemas the core manifests must pass: 1.30 is the oldest this
# deployment supports with the native-sidecar component (SidecarContainers is on by default
# from 1.29); 1.33 is where native sidecars are GA.
K8S_SCHEMA_VERSIONS="1.30.0 1.33.0"

# kubernetes-validate 1.37.0 bundles schemas for Kubernetes 1.25 to 1.37. Its dependencies
# are pinned too, so every machine validates with the same code.
PINNED_REQUIREMENTS=(
    "kubernetes-validate==1.37.0"
    "PyYAML==6.0.3"
    "promql-parser==0.12.0"
    "jsonschema==4.26.0"
    "jsonschema-specifications==2025.9.1"
    "referencing==0.37.0"
    "rpds-py==2026.9.1"
    "attrs==26.1.0"
    "importlib_resources==7.1.0"
    "packaging==26.4"
    "typing_extensions==4.16.0"
    "pytest==8.3.5"
    "iniconfig==2.0.0"
    "pluggy==1.5.0"
)

log() { printf '[validate-k8s] %s\n' "$*" >&2; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2
}

find_python() {
    local candidate
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

venv_is_current() {
    [[ -x $VENV/bin/python && -x $VENV/bin/kubernetes-validate ]] || return 1
    "$VENV/bin/python" - "${PINNED_REQUIREMENTS[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version, PackageNotFoundError
for requirement in sys.argv[1:]:
    name, wanted = requirement.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
import yaml, promql_parser, kubernetes_validate, pytest  # noqa: F401  (importable, not just listed)
PY
}

install_tools() {
    if venv_is_current; then
        log "tools present in ${VENV#"$ROOT"/}"
        return 0
    fi
    local python
    if ! python="$(find_python)"; then
        log "installing python3 from Debian"
        apt_install python3 python3-venv
        python="$(find_python)"
    fi
    log "creating ${VENV#"$ROOT"/} with $python and installing ${PINNED_REQUIREMENTS[0]}"
    rm -rf "$VENV"
    mkdir -p "$TARGET"
    if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's own python3 needs python3-venv (ensurepip) for this.
        rm -rf "$VENV"
        apt_install python3-venv
        "$python" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "${PINNED_REQUIREMENTS[@]}" >&2
    venv_is_current || { log "installed tools do not match the pins"; exit 1; }
}

install_tools
rm -rf "$RENDER_DIR"
mkdir -p "$RENDER_DIR"

export PYTHONPATH="$ROOT/scripts" PYTHONDONTWRITEBYTECODE=1
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/scripts/pg_irt_tools/tests"
exec "$VENV/bin/python" -m pg_irt_tools.k8s "$K8S_DIR" "$RENDER_DIR" "$VENV/bin/kubernetes-validate" \
    "$K8S_SCHEMA_VERSIONS" "$ROOT"
