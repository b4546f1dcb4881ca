"""Checks the Grafana dashboard in k8s/grafana/ and, against a database, every query in it.

    python -m pg_irt_tools.dashboard [--static] [--min-runs N] [--k8s-dir DIR] DASHBOARD.json
        [psql args...]

Static checks (always):
  - the dashboard parses and has what Grafana needs to import and provision it: title, uid,
    schemaVersion, panels; the data source variables DS_POSTGRES and DS_PROMETHEUS (type
    datasource) and no __inputs, which file provisioning (Grafana's sidecar) would not fill in;
  - every panel: a unique id, a title, a gridPos inside the 24 columns and overlapping no other
    panel, and, unless it is a row, a data source that is ${DS_POSTGRES} or ${DS_PROMETHEUS} and
    targets with unique refIds on that same data source;
  - PostgreSQL targets: rawSql in code mode, format table or time_series, only the macros and
    variables substituted below;
  - Prometheus targets: parsed by promql-parser, held to the rule the alerts are held to
    (`promql.problems`): every metric is one of `series` (kube-state-metrics' or made by
    k8s/postgres-exporter-queries.yaml), and every kube-state-metrics selector names this
    deployment's namespace, CronJob and Jobs.

With psql arguments (without --static), every PostgreSQL query (panels and annotations) runs
through `psql -X -q -v ON_ERROR_STOP=1 -At -F <US> -0 [psql args]` (fields and rows split on
control characters, so values may hold newlines) inside a READ ONLY transaction, after
substituting Grafana's macros for a 30-day range ending now (the dashboard's default range):
  $__timeFilter(col)  -> col BETWEEN now() - interval '30 days' AND now()
  $__timeFrom()       -> (now() - interval '30 days')      $__timeTo() -> now()
  $__interval -> 1h   $__interval_ms -> 3600000            $var / ${var} / [[var]] -> its value
Each query must succeed; a time_series query must return `time` as its first column, of a
timestamp type, in ascending order, and numbers in the others; every column an override names
must exist; and each panel must return the rows that ROW_EXPECTATIONS below says, computed from
the tables independently of the panel's query. Those need a database with at least --min-runs
(default 2) runs in the range.

Prints one line per panel (`ok` or `FAIL` with the reason) and a summary line
`dashboard: N passed, M failed`; exits 1 on any failure, 2 on bad usage. Runs in the pinned
environment (yaml, promql_parser).
"""
import json
import os
import re
import subprocess
import sys

import yaml

from .promql import problems, selectors
from .series import exporter_metrics_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_TYPES = ("postgres", "grafana-postgresql-datasource")
PG_UID = "${DS_POSTGRES}"
PROM_UID = "${DS_PROMETHEUS}"
RANGE = "30 days"

# Rows each panel must return on a database with several runs in the range. The counts are
# computed from the tables, independently of the panel's query; a panel with PostgreSQL targets
# and no entry here is a failure, so a new panel needs a decision. (op, count, why)
COUNTS = {
    "runs in the range":
        f"SELECT count(*) FROM mirt_fit_meta "
        f"WHERE fitted_at BETWEEN now() - interval '{RANGE}' AND now()",
    "runs with anchors in the range":
        f"SELECT count(*) FROM mirt_fit_meta "
        f"WHERE fitted_at BETWEEN now() - interval '{RANGE}' AND now() "
        f"AND (model_spec->>'n_anchors')::int > 0",
    "anchors the latest run flagged":
        "SELECT coalesce((SELECT (metrics->>'anchors_flagged')::int FROM mirt_fit_meta "
        "ORDER BY fitted_at DESC LIMIT 1), 0)",
    "items the latest run flagged for DIF":
        "SELECT count(*) FROM mirt_item_dif WHERE flagged AND run_id = "
        "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)",
    "items whose trend alarms in the latest run":
        "SELECT count(*) FROM mirt_item_trend WHERE alarm AND run_id = "
        "(SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)",
    "items of the latest run not ok (its metrics->'item_status')":
        "SELECT coalesce(sum(s.value::int), 0) FROM (SELECT metrics FROM mirt_fit_meta "
        "ORDER BY fitted_at DESC LIMIT 1) m, jsonb_each_text(m.metrics->'item_status') s "
        "WHERE s.key <> 'ok'",
}
PER_RUN = ("=", "runs in the range", "one row per run")
ROW_EXPECTATIONS = {
    # Stats over mirt_run_status joined to a one-row relation: a row even before the first run.
    "Last successful run": ("=", 1, "one row, NULL before the first success"),
    "Time since the last success": ("=", 1, "one row, NULL before the first success"),
    "Status of the last run": ("=", 1, "one row"),
    "Age of the last run": ("=", 1, "one row"),
    "Last run": ("=", 1, "mirt_run_status has one row once a run exists"),
    "Run duration by phase": PER_RUN,
    "Data per run": PER_RUN,
    "EM cycles and convergence": PER_RUN,
    "Item status per run": PER_RUN,
    "Anchors flagged per run": PER_RUN,
    "Items flagged for DIF per run": PER_RUN,
    "Items whose trend alarms per run": PER_RUN,
    # Runs without anchors have no linking constants worth plotting (slope 1, intercept 0, or
    # none at all in older records): at least one row per run that loaded anchors.
    "Linking slope (±1.96 SE)": (">=", "runs with anchors in the range", "one row per linked run"),
    "Linking intercept (±1.96 SE)": (">=", "runs with anchors in the range",
                                      "one row per linked run"),
    # May be empty: nothing flagged, nothing to review.
    "Anchors flagged in the latest run": (">=", "anchors the latest run flagged",
                                           "each flagged anchor (held-out ones too)"),
    "Items flagged for DIF in the latest run": ("=", "items the latest run flagged for DIF",
                                                "one row per item and focal group flagged"),
    "Items whose trend alarms in the latest run": ("=", "items whose trend alarms in the latest run",
                                                   "one row per alarming item"),
    "Items for review": ("=", "items of the latest run not ok (its metrics->'item_status')",
                         "one row per item not ok"),
    "annotation Calibration runs": PER_RUN,
}

MACRO = re.compile(r"\$__([A-Za-z_]+)")
TIMESTAMP_TYPES = {"timestamp with time zone", "timestamp without time zone"}
NUMBER_TYPES = {"smallint", "integer", "bigint", "real", "double precision", "numeric"}


class Failed(Exception):
    pass


# --- Grafana's macros and variables in SQL -----------------------------------------------------
def variable_values(dashboard):
    values, datasources = {}, set()
    for var in (dashboard.get("templating") or {}).get("list") or []:
        name = var.get("name")
        if var.get("type") == "datasource":
            datasources.add(name)
            continue
        current = (var.get("current") or {}).get("value")
        if isinstance(current, list):
            current = current[0] if len(current) == 1 else None
        if current is None:
            current = var.get("query")
        values[name] = "" if current is None else str(current)
    return values, datasources


def substitute(sql, values, datasources):
    """The SQL Grafana would send for a 30-day range ending now; Failed on anything the
    checker does not know how to substitute."""
    def call_args(text, start):
        """The argument text of a macro call whose '(' is at text[start]; returns (arg, end)."""
        depth, j, quote = 0, start, None
        while j < len(text):
            ch = text[j]
            if quote:
                if ch == quote:
                    quote = None
            elif ch == "'":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return text[start + 1:j], j + 1
            j += 1
        raise Failed(f"unbalanced parentheses after a macro in: {text[start - 20:start + 40]!r}")

    out, i = [], 0
    while True:
        m = MACRO.search(sql, i)
        if not m:
            out.append(sql[i:])
            break
        out.append(sql[i:m.start()])
        name, after = m.group(1), m.end()
        if name in ("timeFilter", "timeFrom", "timeTo"):
            if after >= len(sql) or sql[after] != "(":
                raise Failed(f"$__{name} needs parentheses")
            arg, end = call_args(sql, after)
            if name == "timeFilter":
                if not arg.strip():
                    raise Failed("$__timeFilter() needs a column")
                out.append(f"{arg.strip()} BETWEEN now() - interval '{RANGE}' AND now()")
            elif arg.strip():
                raise Failed(f"$__{name}() takes no argument")
            else:
                out.append(f"(now() - interval '{RANGE}')" if name == "timeFrom" else "now()")
            i = end
        elif name == "interval_ms":
            out.append("3600000")
            i = after
        elif name == "interval":
            out.append("1h")
            i = after
        else:
            raise Failed(f"the checker does not substitute the macro $__{name}")
    sql = "".join(out)

    def var(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name in datasources:
            raise Failed(f"data source variable ${name} used in SQL")
        if name not in values:
            raise Failed(f"undefined variable ${name}")
        return values[name]

    return re.sub(r"\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\[\[([A-Za-z_]\w*)\]\]|\$([A-Za-z_]\w*)",
                  var, sql)


# --- static checks -------------------------------------------------------------------------------
def all_panels(dashboard):
    for panel in dashboard.get("panels") or []:
        yield panel
        for inner in panel.get("panels") or []:  # collapsed rows keep their panels inside
            yield inner


def check_dashboard_shape(d):
    errors = []
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in d:
            errors.append(f"no {key}")
    if not isinstance(d.get("schemaVersion"), int) or not 36 <= d.get("schemaVersion", 0) <= 41:
        errors.append(f"schemaVersion {d.get('schemaVersion')!r} is not 36..41")
    if "__inputs" in d:
        errors.append("__inputs is only filled in by the import dialog; Grafana's file "
                      "provisioning (the sidecar) would leave ${DS_...} unresolved")
    variables = {v.get("name"): v for v in (d.get("templating") or {}).get("list") or []}
    for name, types in (("DS_POSTGRES", PG_TYPES), ("DS_PROMETHEUS", ("prometheus",))):
        v = variables.get(name)
        if not v:
            errors.append(f"no template variable {name}")
        elif v.get("type") != "datasource" or v.get("query") not in types:
            errors.append(f"variable {name} is not of type datasource with query "
                          f"{' or '.join(types)}")
    return errors


def check_panel_static(panel, context):
    """Structure and Prometheus metrics of one panel; returns (kind, errors)."""
    errors = []
    title = panel.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append("no title")
    pid = panel.get("id")
    if not isinstance(pid, int) or isinstance(pid, bool):
        errors.append(f"id {pid!r} is not an integer")
    elif pid in context["ids"]:
        errors.append(f"id {pid} is also the id of {context['ids'][pid]!r}")
    else:
        context["ids"][pid] = title
    gp = panel.get("gridPos") or {}
    if not all(isinstance(gp.get(k), int) for k in "xywh"):
        errors.append(f"gridPos {gp!r} needs integer x, y, w, h")
    elif gp["x"] < 0 or gp["y"] < 0 or gp["w"] < 1 or gp["h"] < 1 or gp["x"] + gp["w"] > 24:
        errors.append(f"gridPos {gp!r} is outside the 24 columns")
    else:
        for other, ogp in context["boxes"]:
            if (gp["x"] < ogp["x"] + ogp["w"] and ogp["x"] < gp["x"] + gp["w"]
                    and gp["y"] < ogp["y"] + ogp["h"] and ogp["y"] < gp["y"] + gp["h"]):
                errors.append(f"gridPos overlaps panel {other!r}")
        context["boxes"].append((title, gp))
    if panel.get("type") == "row":
        if panel.get("targets"):
            errors.append("a row has targets")
        return "row", errors

    ds = panel.get("datasource") or {}
    uid = ds.get("uid") if isinstance(ds, dict) else None
    kind = {PG_UID: "postgres", PROM_UID: "prometheus"}.get(uid)
    if kind is None:
        errors.append(f"datasource {ds!r} is neither {PG_UID} nor {PROM_UID}")
        return "?", errors
    if kind == "postgres" and ds.get("type") not in PG_TYPES:
        errors.append(f"datasource type {ds.get('type')!r} for {PG_UID}")
    if kind == "prometheus" and ds.get("type") != "prometheus":
        errors.append(f"datasource type {ds.get('type')!r} for {PROM_UID}")
    targets = panel.get("targets")
    if not isinstance(targets, list) or not targets:
        errors.append("no targets")
        return kind, errors
    refs = set()
    for t in targets:
        ref = t.get("refId")
        if not isinstance(ref, str) or not ref:
            errors.append(f"a target without refId: {t!r:.80}")
        elif ref in refs:
            errors.append(f"refId {ref} twice")
        refs.add(ref)
        tds = t.get("datasource")
        if tds is not None and (not isinstance(tds, dict) or tds.get("uid") != uid):
            errors.append(f"target {ref}: datasource {tds!r} differs from the panel's")
        if kind == "postgres":
            errors.extend(f"target {ref}: {e}" for e in check_sql_target_static(t, context))
        else:
            errors.extend(f"target {ref}: {e}" for e in check_prom_target(t, context))
    return kind, errors


def check_sql_target_static(t, context):
    errors = []
    if not isinstance(t.get("rawSql"), str) or not t["rawSql"].strip():
        errors.append("no rawSql")
    if t.get("format") not in ("table", "time_series"):
        errors.append(f"format {t.get('format')!r} is not table or time_series")
    # In the builder mode Grafana would rebuild the SQL from its builder fields.
    if t.get("editorMode") != "code" or t.get("rawQuery") is not True:
        errors.append("needs editorMode code and rawQuery true")
    if not errors:
        try:
            substitute(t["rawSql"], context["values"], context["datasources"])
        except Failed as exc:
            errors.append(str(exc))
    return errors


def check_prom_target(t, context):
    expr = t.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        return ["no expr"]
    try:
        found = selectors(expr)
    except ValueError as exc:
        return [f"expr does not parse as PromQL: {exc}"]
    if not found:
        return [f"reads no metric: {expr!r}"]
    return [p for s in found for p in problems(f"refId {t.get('refId')}", s, context["exporter"])]


# --- against a database ----------------------------------------------------------------------------
def psql(psql_args, script, describe=False):
    """Runs script in a read-only transaction; returns rows as lists of fields (None for an
    error) and the error text."""
    text = ("SET statement_timeout = '60s';\nSET TimeZone = 'UTC';\nSET DateStyle = 'ISO';\n"
            "BEGIN TRANSACTION READ ONLY;\n" + script.rstrip().rstrip(";").rstrip()
            + ("\n\\gdesc\n" if describe else "\n;\n") + "ROLLBACK;\n")
    proc = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\x1f",
                           "-0", *psql_args, "-f", "-"],
                          input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        # "psql:<stdin>:13:" would count lines of the script above, not of the panel's query.
        message = re.sub(r"^psql:<stdin>:\d+: ", "", proc.stderr.strip(), flags=re.M)
        return None, (message or f"psql exited {proc.returncode}")
    # Every record, \gdesc's one per column too, ends with a zero byte.
    return [rec.split("\x1f") for rec in proc.stdout.split("\0")[:-1]], ""


def count_value(psql_args, cache, name):
    if isinstance(name, int):
        return name
    if name not in cache:
        rows, err = psql(psql_args, COUNTS[name])
        if rows is None:
            raise Failed(f"counting {name}: {err}")
        cache[name] = int(rows[0][0])
    return cache[name]


def check_sql_target_db(where, t, context, psql_args):
    """Runs one PostgreSQL query; returns (rows, columns, errors)."""
    sql = substitute(t["rawSql"], context["values"], context["datasources"])
    columns, err = psql(psql_args, sql, describe=True)
    if columns is None:
        return None, None, [f"{where}: {err}"]
    rows, err = psql(psql_args, sql)
    if rows is None:
        return None, None, [f"{where}: {err}"]
    errors = []
    names = [c[0] for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        errors.append(f"{where}: column names {dupes} appear twice")
    if t.get("format") == "time_series":
        if not columns or names[0] != "time":
            errors.append(f"{where}: time_series needs `time` as its first column, got {names[:1]}")
        elif columns[0][1] not in TIMESTAMP_TYPES:
            errors.append(f"{where}: column time is {columns[0][1]}, not a timestamp")
        else:
            times = [r[0] for r in rows]
            if times != sorted(times):
                errors.append(f"{where}: rows are not in ascending time order")
        for name, typ in columns[1:]:
            if typ not in NUMBER_TYPES and name != "metric":
                errors.append(f"{where}: value column {name!r} is {typ}, not a number")
    return rows, names, errors


def check_panel_db(panel, context, psql_args, cache, expectation_key, check_rows):
    """Runs every target; returns (detail, errors)."""
    errors, total, columns, ran = [], 0, set(), True
    for t in panel["targets"]:
        rows, names, errs = check_sql_target_db(f"target {t.get('refId')}", t, context,
                                                psql_args)
        errors.extend(errs)
        if rows is None:
            ran = False
        else:
            total += len(rows)
            columns.update(names)
    if not ran:
        return "", errors
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        matcher = override.get("matcher") or {}
        if matcher.get("id") == "byName" and matcher.get("options") not in columns:
            errors.append(f"override for {matcher.get('options')!r}: no such column")
        elif matcher.get("id") == "byRegexp" and not any(
                re.search(matcher.get("options", ""), c) for c in columns):
            errors.append(f"override for /{matcher.get('options')}/: matches no column")
    fields = ((panel.get("options") or {}).get("reduceOptions") or {}).get("fields") or ""
    if fields.startswith("/") and fields.endswith("/") and not any(
            re.search(fields[1:-1], c) for c in columns):
        errors.append(f"reduceOptions.fields {fields} matches no column")
    if not check_rows:
        return f"{total} rows (not checked)", errors
    return expect_rows(expectation_key, total, psql_args, cache, errors)


def expect_rows(key, total, psql_args, cache, errors):
    if key not in ROW_EXPECTATIONS:
        errors.append(f"no row expectation for {key!r} in ROW_EXPECTATIONS")
        return f"{total} rows", errors
    op, name, why = ROW_EXPECTATIONS[key]
    wanted = count_value(psql_args, cache, name)
    good = total == wanted if op == "=" else total >= wanted
    label = f"{name} = {wanted}" if isinstance(name, str) else str(wanted)
    if not good:
        errors.append(f"{total} rows, expected {op} {wanted} ({why}; {label})")
    return f"{total} rows ({why}: {op} {label})", errors


# --- main ----------------------------------------------------------------------------------------
def usage(message):
    print(f"pg_irt_tools.dashboard: {message}\nusage: python -m pg_irt_tools.dashboard [--static] "
          "[--min-runs N] [--k8s-dir DIR] DASHBOARD.json [psql args...]", file=sys.stderr)
    sys.exit(2)


def main(argv):
    static, min_runs, k8s_dir = False, 2, os.path.join(ROOT, "k8s")
    args = list(argv)
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--static":
            static = True
        elif opt in ("--min-runs", "--k8s-dir") and args:
            value = args.pop(0)
            if opt == "--k8s-dir":
                k8s_dir = value
            elif value.isdigit():
                min_runs = int(value)
            else:
                usage(f"--min-runs {value!r} is not a number")
        elif opt == "--":
            break
        else:
            usage(f"unknown option {opt}")
    if not args:
        usage("no dashboard given")
    path, psql_args = args[0], args[1:]
    if static and psql_args:
        usage("--static takes no psql arguments")

    passed = failed = 0

    def report(ok, line, details=()):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {line}")
        else:
            failed += 1
            print(f"FAIL {line}")
            for d in details:
                for part in str(d).splitlines():
                    print(f"       {part}")
        sys.stdout.flush()

    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        exporter = exporter_metrics_of(os.path.join(k8s_dir, "postgres-exporter-queries.yaml"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        report(False, f"{path}: {exc}")
        print(f"dashboard: {passed} passed, {failed} failed")
        return 1
    if not isinstance(dashboard, dict):
        report(False, f"{path}: not a JSON object")
        print(f"dashboard: {passed} passed, {failed} failed")
        return 1

    shape = check_dashboard_shape(dashboard)
    report(not shape, f"{os.path.basename(path)}: {dashboard.get('title')!r}, schemaVersion "
                      f"{dashboard.get('schemaVersion')}, data source variables", shape)

    values, datasources = variable_values(dashboard)
    context = {"ids": {}, "boxes": [], "values": values, "datasources": datasources,
               "exporter": exporter}
    checked = []
    for panel in all_panels(dashboard):
        kind, errors = check_panel_static(panel, context)
        checked.append((panel, kind, errors))
    annotations = [a for a in (dashboard.get("annotations") or {}).get("list") or []
                   if (a.get("datasource") or {}).get("uid") == PG_UID]
    for a in annotations:
        if not a.get("name") or not isinstance(a.get("target"), dict):
            report(False, f"[postgres] annotation {a.get('name')!r}", ["no name or target"])
            continue
        errors = check_sql_target_static(a["target"], context)
        checked.append(({"title": a["name"], "targets": [a["target"]], "annotation": True},
                        "postgres", errors))

    cache, check_rows = {}, False
    if not static:
        try:
            runs = count_value(psql_args, cache, "runs in the range")
        except Failed as exc:
            report(False, f"database: {exc}")
            print(f"dashboard: {passed} passed, {failed} failed")
            return 1
        # Fewer runs would make the row counts prove little: fail, but still run every query.
        check_rows = runs >= min_runs
        report(check_rows, f"database: {runs} runs in the last {RANGE} (the row checks need "
                           f">= {min_runs})",
               [f"calibrate at least {min_runs} times first, or lower --min-runs"])

    for panel, kind, errors in checked:
        is_annotation = panel.get("annotation", False)
        title = panel.get("title")
        label = f"[{kind}] {'annotation ' if is_annotation else ''}{title}"
        if errors:
            report(False, label, errors)
        elif kind == "prometheus":
            names = sorted({s.metric for t in panel["targets"] for s in selectors(t["expr"])})
            report(True, f"{label}: {', '.join(names)}")
        elif kind != "postgres":
            report(True, label)
        elif static:
            report(True, f"{label}: structure, macros and variables (not run)")
        else:
            key = f"annotation {title}" if is_annotation else title
            try:
                detail, db_errors = check_panel_db(panel, context, psql_args, cache, key,
                                                   check_rows)
            except Failed as exc:
                detail, db_errors = "", [str(exc)]
            report(not db_errors, f"{label}: {detail}" if not db_errors else label, db_errors)

    titles = {f"annotation {p.get('title')}" if p.get("annotation") else p.get("title")
              for p, _, _ in checked}
    stale = sorted(set(ROW_EXPECTATIONS) - titles)
    report(not stale, "every ROW_EXPECTATIONS entry names a panel or annotation",
           [f"no such panel: {stale}"])

    print(f"dashboard: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
