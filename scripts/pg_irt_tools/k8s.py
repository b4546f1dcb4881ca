"""Validates the Kubernetes deployment in k8s/ without a cluster (see validate-k8s.sh, which
makes the pinned environment and runs this):

    python -m pg_irt_tools.k8s K8S_DIR RENDER_DIR KUBERNETES_VALIDATE "VERSIONS" ROOT

Prints `ok <file>: <check>` or `FAIL` with the reasons per check and ends with
`k8s: N passed, M failed`; exits 1 on any failure.
"""
import contextlib
import copy
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

from . import dashboard as dashboard_check
from .promql import NAMESPACE, problems, selectors
from .series import exporter_metrics

# Set by main() from the command line.
K8S_DIR = RENDER_DIR = KUBERNETES_VALIDATE = ROOT = BASE = ""
VERSIONS = []

APP_LABELS = {"app.kubernetes.io/name": "pg-irt"}
CRONJOB_LABELS = {"app.kubernetes.io/name": "pg-irt",
                  "app.kubernetes.io/component": "calibration"}
PSQL_COMMAND = ["psql", "$(DATABASE_URL)", "-v", "ON_ERROR_STOP=1",
                "-c", "SELECT * FROM mirt_calibrate('2PL', 60)"]
SECRET_NAME = "calibrate-irt-credentials"
# The columns of the extension's view mirt_run_status.
VIEW_COLUMNS = {"run_id", "status", "fitted_at", "age_seconds", "duration_ms", "n_items",
                "n_users", "n_observations", "converged", "last_success_at",
                "last_success_age_seconds"}
EXPORTER_GAUGES = {"last_run_age_seconds", "last_success_age_seconds",
                   "last_run_duration_seconds", "last_run_items", "last_run_users",
                   "last_run_observations", "last_run_converged"}
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
PROM_DURATION = re.compile(r"^([0-9]+(y|w|d|h|m|s|ms))+$")

passed = 0
failed = 0


class CheckFailed(Exception):
    pass


def rel(path):
    """k8s/... for the manifests, target/... for rendered files."""
    path = os.path.abspath(path)
    for top in (BASE, ROOT):
        if path.startswith(top.rstrip("/") + "/"):
            return os.path.relpath(path, top)
    return path


def path_of(name):
    return os.path.join(K8S_DIR, name)


# --- YAML loading: duplicate keys are errors (kubectl's strict decoding rejects them too) ---
class UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                _construct_mapping)


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=UniqueKeyLoader) if d is not None]


def load_one(path):
    docs = load_docs(path)
    if len(docs) != 1:
        raise CheckFailed(f"{rel(path)}: expected one YAML document, found {len(docs)}")
    return docs[0]


def dump(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    return path


# --- helpers -------------------------------------------------------------------------------
class Errors:
    def __init__(self):
        self.items = []

    def expect(self, cond, message):
        if not cond:
            self.items.append(message)
        return cond

    def equal(self, actual, wanted, what):
        return self.expect(actual == wanted, f"{what} is {actual!r}, expected {wanted!r}")

    def keys(self, obj, allowed, what):
        if not isinstance(obj, dict):
            self.items.append(f"{what} is not a mapping")
            return
        unknown = sorted(set(obj) - set(allowed))
        self.expect(not unknown, f"{what} has unknown keys {unknown}")

    def done(self):
        if self.items:
            raise CheckFailed("\n".join(self.items))


def dig(obj, *path, default=None):
    for key in path:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
    return obj


def by_name(items):
    return {item.get("name"): item for item in (items or []) if isinstance(item, dict)}


def check(name, fn):
    global passed, failed
    try:
        fn()
    except Exception as exc:  # every failure is reported, then the next check runs
        failed += 1
        detail = str(exc) if isinstance(exc, (CheckFailed, yaml.YAMLError)) else repr(exc)
        print(f"FAIL {name}")
        for line in detail.splitlines():
            print(f"    {line}")
    else:
        passed += 1
        print(f"ok {name}")
    sys.stdout.flush()


def kubernetes_validate(path):
    """kubernetes-validate --strict for each version; WARN (e.g. no schema) counts as failure."""
    problems = []
    for version in VERSIONS:
        proc = subprocess.run([KUBERNETES_VALIDATE, "--strict", "-k", version, path],
                              capture_output=True, text=True)
        lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
        bad = [l for l in lines if not l.startswith("INFO")]
        if proc.returncode != 0 or bad or not lines:
            problems.append(f"kubernetes-validate --strict -k {version} {rel(path)} "
                            f"exited {proc.returncode}:")
            problems.extend("  " + l for l in (bad or lines or ["(no output)"]))
    if problems:
        raise CheckFailed("\n".join(problems))


def with_namespace(doc):
    doc = copy.deepcopy(doc)
    doc.setdefault("metadata", {})["namespace"] = NAMESPACE
    return doc


def strategic_merge(base, patch):
    """The subset of a strategic merge patch these manifests use: maps merge recursively,
    lists of named maps (containers, initContainers, env, ...) merge by name, others replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            out[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list) and patch
            and all(isinstance(i, dict) and "name" in i for i in base + patch)):
        # As kustomize orders them: the patch's items (merged into their base item where one
        # has the name), then the base items the patch does not name.
        named = {item["name"]: item for item in base}
        out = [strategic_merge(named[item["name"]], item) if item["name"] in named
               else copy.deepcopy(item) for item in patch]
        patched = {item["name"] for item in patch}
        return out + [copy.deepcopy(i) for i in base if i["name"] not in patched]
    return copy.deepcopy(patch)


# --- the documents of k8s/, each read once -----------------------------------------------
state = {}


def loaded(relpath):
    """The YAML document at k8s/<relpath>, read once."""
    if relpath not in state:
        state[relpath] = load_one(path_of(relpath))
    return state[relpath]


def kustomization():
    return loaded("kustomization.yaml")


PROXY = "cloudsql-proxy"
COMMAND = "pg-irt-command"
COMPONENTS = (PROXY, COMMAND)


def component(name=PROXY):
    return loaded(f"components/{name}/kustomization.yaml")


def component_patch_paths(name=PROXY):
    return [os.path.join(K8S_DIR, "components", name, p["path"])
            for p in component(name).get("patches") or [] if isinstance(p, dict) and "path" in p]


def cronjob():
    return loaded("cronjob.yaml")


def queries():
    return loaded("postgres-exporter-queries.yaml")


EXPORTER_CONFIGMAP = "pg-irt-exporter-queries"
DASHBOARD_CONFIGMAP = "pg-irt-grafana-dashboard"
DASHBOARD = "grafana/pg-irt-dashboard.json"


def generated_configmap(name=EXPORTER_CONFIGMAP):
    """The ConfigMap that kustomization.yaml's configMapGenerator `name` produces."""
    gens = [g for g in kustomization().get("configMapGenerator") or []
            if g.get("name") == name]
    if len(gens) != 1:
        raise CheckFailed(f"kustomization.yaml: no single configMapGenerator {name}")
    gen = gens[0]
    data = {}
    for entry in gen.get("files") or []:
        key, _, source = entry.partition("=") if "=" in entry else (
            os.path.basename(entry), "", entry)
        with open(path_of(source), encoding="utf-8") as f:
            data[key] = f.read()
    metadata = {"name": gen["name"], "namespace": NAMESPACE}
    labels = dict(dig(gen, "options", "labels", default={}) or {})
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def merged_cronjob(*names):
    merged = cronjob()
    for patch_path in [p for name in names or (PROXY,) for p in component_patch_paths(name)]:
        patch = load_one(patch_path)
        if (patch.get("kind"), dig(patch, "metadata", "name")) != ("CronJob", "calibrate-irt"):
            raise CheckFailed(f"{rel(patch_path)} does not patch CronJob calibrate-irt")
        patch = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
        merged = strategic_merge(merged, patch)
    return merged


# --- checks ----------------------------------------------------------------------------------
def check_kustomization():
    k = kustomization()
    e = Errors()
    e.equal(k.get("apiVersion"), "kustomize.config.k8s.io/v1beta1", "apiVersion")
    e.equal(k.get("kind"), "Kustomization", "kind")
    e.equal(k.get("namespace"), NAMESPACE, "namespace")
    resources = k.get("resources") or []
    for wanted in ("externalsecret.yaml", "cronjob.yaml", "prometheusrule.yaml"):
        e.expect(wanted in resources, f"resources does not list {wanted}")
    for res in resources:
        e.expect(os.path.isfile(path_of(res)), f"resource {res} does not exist")
    e.expect("components" not in k,
             "components are enabled; the base must leave cloudsql-proxy off")
    with open(path_of("kustomization.yaml"), encoding="utf-8") as f:
        text = f.read()
    e.expect(re.search(r"^#\s*components:\s*$", text, re.M)
             and "components/cloudsql-proxy" in text,
             "no comment showing how to enable components/cloudsql-proxy")
    gens = [g for g in k.get("configMapGenerator") or [] if isinstance(g, dict)]
    gen = by_name(gens).get("pg-irt-exporter-queries")
    if e.expect(gen is not None, "no configMapGenerator named pg-irt-exporter-queries"):
        e.expect("queries.yaml=postgres-exporter-queries.yaml" in (gen.get("files") or []),
                 "the generator does not map queries.yaml=postgres-exporter-queries.yaml")
        e.equal(dig(gen, "options", "disableNameSuffixHash"), True,
                "options.disableNameSuffixHash")
    dash = by_name(gens).get(DASHBOARD_CONFIGMAP)
    if e.expect(dash is not None, f"no configMapGenerator named {DASHBOARD_CONFIGMAP}"):
        e.expect(f"pg-irt-dashboard.json={DASHBOARD}" in (dash.get("files") or []),
                 f"the generator does not map pg-irt-dashboard.json={DASHBOARD}")
        e.equal(dig(dash, "options", "disableNameSuffixHash"), True,
                f"{DASHBOARD_CONFIGMAP} options.disableNameSuffixHash")
        e.equal(dig(dash, "options", "labels", "grafana_dashboard"), "1",
                f"{DASHBOARD_CONFIGMAP} label grafana_dashboard (what Grafana's sidecar loads)")
    # Every YAML and JSON file in the folder must be used by something.
    used = {path_of(r) for r in resources}
    for g in gens:
        for entry in g.get("files") or []:
            used.add(path_of(entry.split("=", 1)[-1]))
    used.add(path_of("kustomization.yaml"))
    for name in COMPONENTS:
        used.add(path_of(f"components/{name}/kustomization.yaml"))
        used.update(component_patch_paths(name))
    e.expect("components/pg-irt-command" in text,
             "no comment showing how to enable components/pg-irt-command")
    for dirpath, _, files in os.walk(K8S_DIR):
        for name in files:
            full = os.path.join(dirpath, name)
            if name.endswith((".yaml", ".yml", ".json")):
                e.expect(full in used, f"{rel(full)} is not used by any kustomization")
            if name.endswith((".yaml", ".yml")):
                try:
                    load_docs(full)
                except yaml.YAMLError as exc:
                    e.items.append(f"{rel(full)}: {exc}")
    e.done()


def check_cronjob_schema():
    kubernetes_validate(path_of("cronjob.yaml"))


def check_cronjob_settings():
    cj = cronjob()
    e = Errors()
    e.equal(cj.get("apiVersion"), "batch/v1", "apiVersion")
    e.equal(cj.get("kind"), "CronJob", "kind")
    e.equal(dig(cj, "metadata", "name"), "calibrate-irt", "metadata.name")
    e.equal(dig(cj, "metadata", "namespace"), NAMESPACE, "metadata.namespace")
    spec = cj.get("spec") or {}
    schedule = spec.get("schedule")
    e.equal(schedule, "0 3 * * *", "spec.schedule")
    e.equal(spec.get("timeZone"), "Etc/UTC", "spec.timeZone")
    # The OpenAPI schema types these enums as plain strings, so check them here.
    e.expect(spec.get("concurrencyPolicy") in ("Allow", "Forbid", "Replace"),
             f"spec.concurrencyPolicy {spec.get('concurrencyPolicy')!r} is not "
             "Allow, Forbid or Replace")
    e.equal(spec.get("concurrencyPolicy"), "Forbid", "spec.concurrencyPolicy")
    sds = spec.get("startingDeadlineSeconds")
    e.expect(isinstance(sds, int) and sds >= 10,
             f"spec.startingDeadlineSeconds {sds!r} must be an integer >= 10 "
             "(below 10 the controller may never start the job)")
    e.equal(spec.get("successfulJobsHistoryLimit"), 3, "spec.successfulJobsHistoryLimit")
    e.equal(spec.get("failedJobsHistoryLimit"), 3, "spec.failedJobsHistoryLimit")
    job = dig(spec, "jobTemplate", "spec", default={})
    e.equal(job.get("backoffLimit"), 3, "jobTemplate.spec.backoffLimit")
    ads = job.get("activeDeadlineSeconds")
    e.expect(isinstance(ads, int) and ads > 600,
             f"jobTemplate.spec.activeDeadlineSeconds {ads!r} must exceed the 600 s "
             "statement timeout")
    ttl = job.get("ttlSecondsAfterFinished")
    e.expect(isinstance(ttl, int) and ttl >= 86400,
             f"jobTemplate.spec.ttlSecondsAfterFinished {ttl!r}: keep failed Jobs >= 1 day")
    for what, labels in (("metadata", dig(cj, "metadata", "labels")),
                         ("jobTemplate.metadata", dig(spec, "jobTemplate", "metadata", "labels")),
                         ("pod template metadata",
                          dig(job, "template", "metadata", "labels"))):
        for key, value in CRONJOB_LABELS.items():
            e.equal((labels or {}).get(key), value, f"{what} label {key}")
    pod = dig(job, "template", "spec", default={})
    e.expect(pod.get("restartPolicy") in ("Never", "OnFailure"),
             f"pod restartPolicy {pod.get('restartPolicy')!r} is not valid for a Job")
    e.equal(pod.get("restartPolicy"), "Never", "pod restartPolicy")
    e.equal(pod.get("automountServiceAccountToken"), False, "pod automountServiceAccountToken")
    psc = pod.get("securityContext") or {}
    e.equal(psc.get("runAsNonRoot"), True, "pod securityContext.runAsNonRoot")
    e.equal(psc.get("runAsUser"), 70, "pod securityContext.runAsUser")
    e.equal(dig(psc, "seccompProfile", "type"), "RuntimeDefault",
            "pod securityContext.seccompProfile.type")
    containers = pod.get("containers") or []
    e.equal([c.get("name") for c in containers], ["calibrate"], "container names")
    c = containers[0] if containers else {}
    e.equal(c.get("image"), "postgres:15-alpine", "calibrate image")
    e.equal(c.get("command"), PSQL_COMMAND, "calibrate command")
    e.expect("args" not in c, "calibrate has args; the whole call belongs in command")
    env = by_name(c.get("env"))
    # Kubernetes only expands $(VAR) for variables the container defines; an undefined one
    # is passed through literally, and psql would get "$(DATABASE_URL)" as its database.
    for ref in re.findall(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                          " ".join(c.get("command") or []) + " " + " ".join(c.get("args") or [])):
        e.expect(ref in env, f"$({ref}) is used in command but not defined in env")
    e.equal(dig(env, "DATABASE_URL", "valueFrom", "secretKeyRef"),
            {"name": SECRET_NAME, "key": "DATABASE_URL"}, "env DATABASE_URL secretKeyRef")
    e.equal(dig(env, "PGOPTIONS", "value"), "-c statement_timeout=600s", "env PGOPTIONS")
    e.equal(dig(env, "PGAPPNAME", "value"), "pg_irt-cronjob", "env PGAPPNAME")
    leftovers = sorted(n for n in env if n.startswith(("R_IRT_", "MIRT_")))
    e.expect(not leftovers, f"old pipeline variables left in env: {leftovers}")
    csc = c.get("securityContext") or {}
    e.equal(csc.get("allowPrivilegeEscalation"), False, "container allowPrivilegeEscalation")
    e.equal(csc.get("readOnlyRootFilesystem"), True, "container readOnlyRootFilesystem")
    e.equal(dig(csc, "capabilities", "drop"), ["ALL"], "container capabilities.drop")
    e.equal(c.get("resources"), {"requests": {"cpu": "10m", "memory": "32Mi"},
                                 "limits": {"cpu": "200m", "memory": "64Mi"}},
            "calibrate resources")
    e.done()


def check_component(name=PROXY):
    comp = component(name)
    e = Errors()
    e.equal(comp.get("apiVersion"), "kustomize.config.k8s.io/v1alpha1", "apiVersion")
    e.equal(comp.get("kind"), "Component", "kind")
    patches = comp.get("patches") or []
    e.expect(len(patches) >= 1, "the component has no patches")
    for p in patches:
        e.expect(os.path.isfile(os.path.join(K8S_DIR, "components", name,
                                             p.get("path", ""))),
                 f"patch file {p.get('path')!r} does not exist")
        target = p.get("target") or {}
        e.equal((target.get("kind"), target.get("name")), ("CronJob", "calibrate-irt"),
                f"patch {p.get('path')} target (kind, name)")
    e.done()


def check_sidecar_settings():
    e = Errors()
    paths = component_patch_paths()
    patch = load_one(paths[0]) if paths else {}
    e.equal((patch.get("apiVersion"), patch.get("kind"), dig(patch, "metadata", "name")),
            ("batch/v1", "CronJob", "calibrate-irt"), "patch apiVersion/kind/name")
    pod = dig(patch, "spec", "jobTemplate", "spec", "template", "spec", default={})
    e.expect("containers" not in pod, "the patch must not touch the main containers")
    inits = by_name(pod.get("initContainers"))
    proxy = inits.get("cloud-sql-proxy")
    if not e.expect(proxy is not None, "no initContainer named cloud-sql-proxy"):
        e.done()
    e.equal(proxy.get("restartPolicy"), "Always",
            "cloud-sql-proxy restartPolicy (native sidecar)")
    image = proxy.get("image", "")
    e.expect(re.fullmatch(r"gcr\.io/cloud-sql-connectors/cloud-sql-proxy:\d+\.\d+\.\d+"
                          r"(@sha256:[0-9a-f]{64})?", image),
             f"cloud-sql-proxy image {image!r} is not pinned to a version tag")
    args = proxy.get("args") or []
    for flag in ("--port=5432", "--structured-logs"):
        e.expect(flag in args, f"cloud-sql-proxy args lack {flag}")
    positional = [a for a in args if not a.startswith("-")]
    e.expect(len(positional) == 1 and re.fullmatch(r"[^:\s]+:[^:\s]+:[^:\s]+", positional[0]),
             f"cloud-sql-proxy needs one instance connection name PROJECT:REGION:INSTANCE, "
             f"got {positional}")
    sc = proxy.get("securityContext") or {}
    e.equal(sc.get("runAsNonRoot"), True, "cloud-sql-proxy runAsNonRoot")
    e.equal(sc.get("readOnlyRootFilesystem"), True, "cloud-sql-proxy readOnlyRootFilesystem")
    e.equal(sc.get("allowPrivilegeEscalation"), False, "cloud-sql-proxy allowPrivilegeEscalation")
    res = proxy.get("resources") or {}
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            e.expect(r in (res.get(kind) or {}), f"cloud-sql-proxy resources.{kind}.{r} missing")
    probe_port = dig(proxy, "startupProbe", "httpGet", "port")
    if probe_port is not None:
        e.expect("--health-check" in args and f"--http-port={probe_port}" in args,
                 "startupProbe uses the proxy's HTTP port but --health-check/--http-port "
                 "do not enable it")
    e.done()


def check_merged_schema():
    merged = merged_cronjob()
    e = Errors()
    pod = dig(merged, "spec", "jobTemplate", "spec", "template", "spec", default={})
    e.equal([c.get("name") for c in pod.get("initContainers") or []], ["cloud-sql-proxy"],
            "merged initContainers")
    e.equal([c.get("name") for c in pod.get("containers") or []], ["calibrate"],
            "merged containers")
    e.equal(pod.get("securityContext"),
            dig(cronjob(), "spec", "jobTemplate", "spec", "template", "spec",
                "securityContext"), "merged pod securityContext")
    e.done()
    kubernetes_validate(dump(os.path.join(RENDER_DIR, "cronjob-with-cloudsql-proxy.yaml"),
                             [merged]))


COMMAND_UID = 10001


def check_command_settings():
    """The command component: the calibrate container runs pg-irt from its own image, as the
    image's unprivileged user, with the secret and the statement timeout of the base."""
    e = Errors()
    paths = component_patch_paths(COMMAND)
    patch = load_one(paths[0]) if paths else {}
    e.equal((patch.get("apiVersion"), patch.get("kind"), dig(patch, "metadata", "name")),
            ("batch/v1", "CronJob", "calibrate-irt"), "patch apiVersion/kind/name")
    merged = merged_cronjob(COMMAND)
    pod = dig(merged, "spec", "jobTemplate", "spec", "template", "spec", default={})
    psc = pod.get("securityContext") or {}
    e.equal((psc.get("runAsNonRoot"), psc.get("runAsUser"), psc.get("runAsGroup")),
            (True, COMMAND_UID, COMMAND_UID), "pod securityContext (the image's user)")
    containers = pod.get("containers") or []
    e.equal([c.get("name") for c in containers], ["calibrate"], "container names")
    c = containers[0] if containers else {}
    image = c.get("image", "")
    e.expect(re.fullmatch(r"[^:@\s]+/pg-irt:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", image),
             f"calibrate image {image!r} is not a pg-irt image pinned to a version")
    command = c.get("command") or []
    e.equal(command[:2], ["/usr/local/bin/pg-irt", "calibrate"], "calibrate command")
    e.expect("$(" not in " ".join(command), "the command reads DATABASE_URL itself: no $(VAR)")
    env = by_name(c.get("env"))
    e.equal(dig(env, "DATABASE_URL", "valueFrom", "secretKeyRef"),
            {"name": SECRET_NAME, "key": "DATABASE_URL"}, "env DATABASE_URL secretKeyRef")
    e.equal(dig(env, "PGOPTIONS", "value"), "-c statement_timeout=600s", "env PGOPTIONS")
    csc = c.get("securityContext") or {}
    e.equal(csc.get("readOnlyRootFilesystem"), True, "container readOnlyRootFilesystem")
    e.equal(csc.get("allowPrivilegeEscalation"), False, "container allowPrivilegeEscalation")
    requests = dig(c, "resources", "requests", default={})
    e.expect(requests.get("cpu") in ("1", "2") and requests.get("memory", "").endswith(("Mi", "Gi")),
             f"the fit runs in the pod: requests {requests} should give it a core")
    e.done()
    kubernetes_validate(dump(os.path.join(RENDER_DIR, "cronjob-with-pg-irt-command.yaml"), [merged]))
    both = merged_cronjob(COMMAND, PROXY)
    kubernetes_validate(dump(os.path.join(RENDER_DIR, "cronjob-with-pg-irt-command-and-proxy.yaml"),
                             [both]))


def check_dockerfile():
    """The image the command component runs: multi-stage, the binary alone on a slim base with
    what it links, an unprivileged numeric user matching the pod's, pg-irt as entrypoint."""
    e = Errors()
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        lines = [l.strip() for l in f.read().replace("\\\n", " ").splitlines()
                 if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    e.expect(len(froms) >= 2 and " AS " in froms[0].upper(), "not a multi-stage build")
    final = lines[lines.index(froms[-1]):]
    e.expect(any(l.startswith("COPY --from=") for l in final), "the runtime stage copies nothing built")
    users = [l.split()[1] for l in final if l.upper().startswith("USER ")]
    e.equal(users[-1:] and users[-1].split(":")[0], str(COMMAND_UID), "runtime USER")
    e.expect(any(l.startswith("ENTRYPOINT") and "pg-irt" in l for l in final), "no pg-irt ENTRYPOINT")
    e.expect(any("cargo build --release --locked -p pg-irt-cli" in l for l in lines),
             "the build stage does not build pg-irt-cli")
    # What the binary links, as built on this machine, must come with the runtime stage.
    binary = os.path.join(ROOT, "target", "release", "pg-irt")
    if os.path.isfile(binary):
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        libs = {re.split(r"\.so", l.split()[0])[0] for l in out.splitlines() if ".so" in l}
        provided = {"linux-vdso", "libc", "libm", "libgcc_s", "/lib64/ld-linux-x86-64",
                    "libssl", "libcrypto", "libpthread", "libdl"}
        e.expect(libs <= provided, f"pg-irt links {sorted(libs - provided)}, which the runtime lacks")
        e.expect("libssl3" in " ".join(final), "the runtime does not install libssl3")
    e.done()


def check_custom_resource(e, doc, kind, api_version, name=None):
    """The top-level keys, kind, apiVersion, name (when given) and namespace of a custom
    resource, for which no schema is available offline."""
    e.keys(doc, ("apiVersion", "kind", "metadata", "spec"), kind)
    e.equal(doc.get("apiVersion"), api_version, "apiVersion")
    e.equal(doc.get("kind"), kind, "kind")
    if name is None:
        e.expect(dig(doc, "metadata", "name"), "metadata.name missing")
    else:
        e.equal(dig(doc, "metadata", "name"), name, "metadata.name")
    e.equal(dig(doc, "metadata", "namespace"), NAMESPACE, "metadata.namespace")


def check_externalsecret():
    es = load_one(path_of("externalsecret.yaml"))
    e = Errors()
    check_custom_resource(e, es, "ExternalSecret", "external-secrets.io/v1beta1", SECRET_NAME)
    spec = es.get("spec") or {}
    e.keys(spec, ("secretStoreRef", "target", "refreshInterval", "data", "dataFrom"), "spec")
    e.keys(spec.get("secretStoreRef"), ("kind", "name"), "spec.secretStoreRef")
    e.equal(spec.get("secretStoreRef"), {"kind": "ClusterSecretStore", "name": "gcp-secret-store"},
            "spec.secretStoreRef")
    ri = str(spec.get("refreshInterval", ""))
    e.expect(GO_DURATION.match(ri) and re.search(r"[1-9]", ri),
             f"spec.refreshInterval {ri!r} is not a non-zero duration such as 1h")
    target = spec.get("target") or {}
    e.keys(target, ("name", "creationPolicy", "deletionPolicy", "template", "immutable"),
           "spec.target")
    e.equal(target.get("name"), SECRET_NAME, "spec.target.name")
    e.expect(target.get("creationPolicy") in ("Owner", "Orphan", "Merge", "None"),
             f"spec.target.creationPolicy {target.get('creationPolicy')!r} is not valid")
    e.equal(target.get("creationPolicy"), "Owner", "spec.target.creationPolicy")
    data = spec.get("data") or []
    e.equal([d.get("secretKey") for d in data], ["DATABASE_URL"],
            "spec.data secretKeys (only DATABASE_URL; R_IRT_INTERNAL_TOKEN is gone)")
    for n, d in enumerate(data):
        e.keys(d, ("secretKey", "remoteRef", "sourceRef"), f"spec.data[{n}]")
        e.keys(d.get("remoteRef"), ("key", "property", "version", "conversionStrategy",
                                    "decodingStrategy", "metadataPolicy"),
               f"spec.data[{n}].remoteRef")
    e.equal(dig(data, 0, "remoteRef", "key"), "seedtest-database-url",
            "spec.data[0].remoteRef.key")
    e.expect("dataFrom" not in spec, "spec.dataFrom would sync more keys than DATABASE_URL")
    # The CronJob must read what this ExternalSecret writes.
    env = by_name(dig(cronjob(), "spec", "jobTemplate", "spec", "template", "spec",
                      "containers", 0, "env"))
    ref = dig(env, "DATABASE_URL", "valueFrom", "secretKeyRef", default={})
    e.expect(ref.get("name") == target.get("name")
             and ref.get("key") in [d.get("secretKey") for d in data],
             f"the CronJob reads secret {ref.get('name')!r} key {ref.get('key')!r}, which "
             "this ExternalSecret does not write")
    e.done()


def check_prometheusrule():
    pr = load_one(path_of("prometheusrule.yaml"))
    e = Errors()
    check_custom_resource(e, pr, "PrometheusRule", "monitoring.coreos.com/v1")
    e.keys(pr.get("spec"), ("groups",), "spec")
    known = exporter_metrics(queries())
    groups = dig(pr, "spec", "groups", default=[]) or []
    e.expect(groups, "spec.groups is empty")
    group_names, alerts, metrics_of = [], {}, {}
    for g in groups:
        e.keys(g, ("name", "interval", "rules", "limit", "partial_response_strategy",
                   "query_offset", "labels"), f"group {g.get('name')!r}")
        group_names.append(g.get("name"))
        for n, rule in enumerate(g.get("rules") or []):
            where = f"group {g.get('name')!r} rule {rule.get('alert') or rule.get('record') or n}"
            e.keys(rule, ("alert", "record", "expr", "for", "keep_firing_for", "labels",
                          "annotations"), where)
            e.expect(("alert" in rule) != ("record" in rule), f"{where}: needs alert xor record")
            if "for" in rule:
                e.expect(PROM_DURATION.match(str(rule["for"])),
                         f"{where}: for {rule['for']!r} is not a Prometheus duration")
            names = set()
            if "alert" in rule:
                e.expect(rule["alert"] not in alerts, f"alert {rule['alert']} is defined twice")
                alerts[rule["alert"]] = rule
                metrics_of[rule["alert"]] = names
            try:
                found = selectors(str(rule.get("expr", "")))
            except ValueError as exc:
                e.items.append(f"{where}: expr does not parse as PromQL: {exc}")
                continue
            for sel in found:
                names.add(sel.metric)
                e.items.extend(problems(where, sel, known))
            if "alert" in rule:
                e.expect(dig(rule, "labels", "severity") in ("critical", "warning", "info"),
                         f"{where}: labels.severity must be critical, warning or info")
                ann = rule.get("annotations") or {}
                for key in ("summary", "description", "runbook"):
                    e.expect(str(ann.get(key, "")).strip(), f"{where}: annotation {key} missing")
                e.expect("Troubleshooting" in str(ann.get("runbook", "")),
                         f"{where}: runbook does not point at the README's Troubleshooting")
    e.expect(len(set(group_names)) == len(group_names), "group names are not unique")
    for alert in ("IRTCalibrationFailed", "IRTCalibrationStale"):
        e.expect(alert in alerts, f"alert {alert} missing")
    e.expect(metrics_of.get("IRTCalibrationFailed", set())
             & {"kube_job_status_failed", "kube_job_failed"},
             "IRTCalibrationFailed does not read kube_job_failed / kube_job_status_failed")
    e.expect("kube_cronjob_status_last_successful_time"
             in metrics_of.get("IRTCalibrationStale", set()),
             "IRTCalibrationStale does not read kube_cronjob_status_last_successful_time")
    used = set().union(*metrics_of.values()) if metrics_of else set()
    for metric in ("kube_job_status_failed", "kube_cronjob_status_last_successful_time"):
        e.expect(metric in used, f"no alert reads {metric}")
    e.expect(any(m.startswith("pg_irt_") for m in used),
             "no alert reads the database-side pg_irt_* metrics")
    with open(path_of("prometheusrule.yaml"), encoding="utf-8") as f:
        e.expect("cronjob_failure_count" in f.read(),
                 "the comment about the old guide's cronjob_failure_count is missing")
    e.done()


SQL_WORDS = {"select", "as", "from", "where", "coalesce", "case", "when", "then", "else", "end",
             "and", "or", "not", "null", "is", "true", "false", "float8", "int", "bigint",
             "numeric", "text", "extract", "epoch", "greatest", "least", "nullif"}


def check_queries():
    q = queries()
    e = Errors()
    e.expect(isinstance(q, dict) and list(q) == ["pg_irt"],
             f"top-level keys are {list(q) if isinstance(q, dict) else q!r}, expected ['pg_irt']")
    ns = (q or {}).get("pg_irt") or {}
    e.keys(ns, ("query", "master", "cache_seconds", "metrics", "runonserver"), "pg_irt")
    query = ns.get("query")
    e.expect(isinstance(query, str) and re.search(r"\bFROM\s+(\w+\.)?mirt_run_status\b",
                                                  query or "", re.I),
             "pg_irt.query does not read mirt_run_status")
    e.equal(ns.get("master"), True, "pg_irt.master")
    columns = {}
    for n, m in enumerate(ns.get("metrics") or []):
        if not e.expect(isinstance(m, dict) and len(m) == 1,
                        f"pg_irt.metrics[{n}] must map one column to its usage"):
            continue
        (column, spec), = m.items()
        e.keys(spec, ("usage", "description", "metric_mapping"), f"metric {column}")
        e.expect((spec or {}).get("usage") in ("LABEL", "COUNTER", "GAUGE", "MAPPEDMETRIC",
                                               "DURATION", "DISCARD"),
                 f"metric {column}: usage {(spec or {}).get('usage')!r} is not valid")
        e.expect(str((spec or {}).get("description", "")).strip(),
                 f"metric {column}: description missing")
        e.expect(column not in columns, f"metric {column} listed twice")
        columns[column] = (spec or {}).get("usage")
    gauges = {c for c, u in columns.items() if u == "GAUGE"}
    e.equal(gauges, EXPORTER_GAUGES, "GAUGE columns")
    e.equal(columns.get("status"), "LABEL", "usage of column status")
    if isinstance(query, str):
        sql = re.sub(r"'[^']*'", "''", query).lower()
        aliases = set(re.findall(r"\bas\s+([a-z_][a-z0-9_]*)", sql))
        for column in columns:
            e.expect(column in aliases or re.search(rf"\b{column}\b", sql),
                     f"metric column {column} is not produced by the query")
        identifiers = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", sql))
        unknown = identifiers - SQL_WORDS - aliases - VIEW_COLUMNS - {"mirt_run_status"}
        e.expect(not unknown, f"the query uses names that are not columns of "
                              f"mirt_run_status: {sorted(unknown)}")
    e.done()


def check_configmap_schema():
    cm = generated_configmap()
    e = Errors()
    e.equal(sorted(cm["data"]), ["queries.yaml"], "ConfigMap data keys")
    e.equal(yaml.load(cm["data"].get("queries.yaml", ""), Loader=UniqueKeyLoader), queries(),
            "ConfigMap queries.yaml content")
    e.done()
    kubernetes_validate(dump(os.path.join(RENDER_DIR, "configmap-pg-irt-exporter-queries.yaml"),
                             [cm]))


def check_dashboard():
    """The dashboard checker's static part: structure, data sources, SQL macros, and every
    PromQL expression held to the alerts' rule."""
    path = path_of(DASHBOARD)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = dashboard_check.main(["--static", "--k8s-dir", K8S_DIR, path])
    e = Errors()
    if status != 0:
        e.items.append(f"pg_irt_tools.dashboard --static {rel(path)}:\n" + "\n".join(
            line for line in out.getvalue().splitlines() if not line.startswith("ok ")))
    e.expect("[prometheus]" in out.getvalue(), "the dashboard has no Prometheus expression")
    e.done()


def check_dashboard_configmap():
    cm = generated_configmap(DASHBOARD_CONFIGMAP)
    e = Errors()
    e.equal(sorted(cm["data"]), ["pg-irt-dashboard.json"], "ConfigMap data keys")
    with open(path_of(DASHBOARD), encoding="utf-8") as f:
        e.equal(json.loads(cm["data"].get("pg-irt-dashboard.json", "null")), json.load(f),
                "ConfigMap pg-irt-dashboard.json content")
    e.done()
    kubernetes_validate(dump(os.path.join(RENDER_DIR, f"configmap-{DASHBOARD_CONFIGMAP}.yaml"),
                             [cm]))


def usable_kubectl():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None, "no kubectl on PATH"
    try:
        proc = subprocess.run([kubectl, "version", "--client", "-o", "json"],
                              capture_output=True, text=True, timeout=60)
        info = json.loads(proc.stdout)
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        return None, f"`kubectl version --client` failed: {exc}"
    ver = info.get("kustomizeVersion", "")
    match = re.match(r"v?(\d+)\.", ver)
    if not match or int(match.group(1)) < 4:
        return None, f"kubectl's kustomize {ver or 'unknown'} is older than v4 (no components)"
    return kubectl, ver


def kustomize_build(kubectl, directory):
    proc = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise CheckFailed(f"kubectl kustomize {directory} failed:\n{proc.stderr.strip()}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def compare_and_validate(docs, expected, out_name):
    e = Errors()
    by_key = {(d.get("kind"), dig(d, "metadata", "name")): d for d in docs}
    e.equal(sorted(by_key, key=str), sorted(expected, key=str), "rendered resources")
    for key, doc in by_key.items():
        e.equal(dig(doc, "metadata", "namespace"), NAMESPACE, f"{key} namespace")
        if key in expected and doc != expected[key]:
            diff = difflib.unified_diff(
                yaml.safe_dump(expected[key], sort_keys=True).splitlines(),
                yaml.safe_dump(doc, sort_keys=True).splitlines(),
                "this script's rendering", "kubectl kustomize", lineterm="", n=1)
            e.items.append(f"{key} differs from this script's own rendering:\n"
                           + "\n".join(list(diff)[:40]))
    e.done()
    # Core kinds have no dot in their API group ("v1", "batch/v1"); CRDs do.
    core = [d for d in docs if "." not in d.get("apiVersion", "").split("/")[0]]
    kubernetes_validate(dump(os.path.join(RENDER_DIR, out_name), core))


def expected_base():
    es = load_one(path_of("externalsecret.yaml"))
    pr = load_one(path_of("prometheusrule.yaml"))
    docs = [with_namespace(cronjob()), generated_configmap(),
            generated_configmap(DASHBOARD_CONFIGMAP), with_namespace(es), with_namespace(pr)]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def check_kustomize_base(kubectl):
    docs = kustomize_build(kubectl, K8S_DIR)
    dump(os.path.join(RENDER_DIR, "kustomize-base.yaml"), docs)
    compare_and_validate(docs, expected_base(), "kustomize-base-core.yaml")


def check_kustomize_component(kubectl, *names):
    label = "+".join(names)
    overlay = os.path.join(RENDER_DIR, f"overlay-{label}")
    os.makedirs(overlay, exist_ok=True)
    with open(os.path.join(overlay, "kustomization.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(K8S_DIR, overlay)],
            "components": [os.path.relpath(os.path.join(K8S_DIR, "components", name), overlay)
                           for name in names],
        }, f, sort_keys=False)
    docs = kustomize_build(kubectl, overlay)
    dump(os.path.join(RENDER_DIR, f"kustomize-with-{label}.yaml"), docs)
    expected = expected_base()
    expected[("CronJob", "calibrate-irt")] = with_namespace(merged_cronjob(*names))
    compare_and_validate(docs, expected, f"kustomize-with-{label}-core.yaml")


def main(argv):
    global K8S_DIR, RENDER_DIR, KUBERNETES_VALIDATE, VERSIONS, ROOT, BASE
    K8S_DIR, RENDER_DIR, KUBERNETES_VALIDATE, versions, ROOT = argv
    VERSIONS = versions.split()
    BASE = os.path.dirname(K8S_DIR)
    versions = ", ".join(VERSIONS)
    check("k8s/kustomization.yaml: structure, generators, every YAML and JSON file used",
          check_kustomization)
    check(f"k8s/cronjob.yaml: schema (kubernetes-validate --strict, Kubernetes {versions})",
          check_cronjob_schema)
    check("k8s/cronjob.yaml: settings (schedule, policies, command, env, security, resources)",
          check_cronjob_settings)
    check("k8s/components/cloudsql-proxy/kustomization.yaml: Component and patch target",
          check_component)
    check("k8s/components/pg-irt-command/kustomization.yaml: Component and patch target",
          lambda: check_component(COMMAND))
    check(f"k8s/cronjob.yaml + components/pg-irt-command (alone and with the proxy): settings, "
          f"schema (kubernetes-validate --strict, Kubernetes {versions})", check_command_settings)
    check("Dockerfile: multi-stage, unprivileged, the pg-irt binary and what it links",
          check_dockerfile)
    check("k8s/components/cloudsql-proxy/cronjob-sidecar.yaml: native sidecar settings",
          check_sidecar_settings)
    check(f"k8s/cronjob.yaml + components/cloudsql-proxy (merged): schema "
          f"(kubernetes-validate --strict, Kubernetes {versions})", check_merged_schema)
    check("k8s/externalsecret.yaml: structure and key fields (CRD, no schema offline)",
          check_externalsecret)
    check("k8s/prometheusrule.yaml: structure, PromQL parse, exported metrics only "
          "(CRD, no schema offline)", check_prometheusrule)
    check("k8s/postgres-exporter-queries.yaml: postgres_exporter queries format", check_queries)
    check(f"k8s/postgres-exporter-queries.yaml as ConfigMap pg-irt-exporter-queries: schema "
          f"(kubernetes-validate --strict, Kubernetes {versions})", check_configmap_schema)
    check(f"k8s/{DASHBOARD}: pg_irt_tools.dashboard --static, PromQL parse, exported "
          "metrics and label matchers only", check_dashboard)
    check(f"k8s/{DASHBOARD} as ConfigMap {DASHBOARD_CONFIGMAP}: schema "
          f"(kubernetes-validate --strict, Kubernetes {versions})", check_dashboard_configmap)

    kubectl, detail = usable_kubectl()
    if kubectl:
        check(f"k8s/ via kubectl kustomize (kustomize {detail}): matches, schema --strict",
              lambda: check_kustomize_base(kubectl))
        check(f"k8s/ + components/cloudsql-proxy via kubectl kustomize (kustomize {detail}): "
              "matches, schema --strict", lambda: check_kustomize_component(kubectl, PROXY))
        check(f"k8s/ + components/pg-irt-command + cloudsql-proxy via kubectl kustomize "
              f"(kustomize {detail}): matches, schema --strict",
              lambda: check_kustomize_component(kubectl, COMMAND, PROXY))
    else:
        print(f"skip kubectl kustomize builds: {detail}")

    print(f"k8s: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
