"""The monitoring assets against the metric contract: Prometheus rules (promtool) and the dashboard.

The contract below is the one docs/metrics.md documents and the daemon exports. A rule or panel
that names anything else would stay silent or empty in production, so it fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "prometheus" / "op25b.rules.yml"
RULE_TESTS = ROOT / "rules" / "prometheus" / "op25b.rules.test.yml"
DASHBOARD = ROOT / "rules" / "grafana" / "op25b-dashboard.json"
METRICS_DOC = ROOT / "docs" / "metrics.md"
RUNBOOK = "https://github.com/op25b/op25b/blob/main/docs/operations.md#"

# name → labels, as exported by the daemon.
CONTRACT = {
    "op25b_blocked_packets_total": {"pool", "family"},
    "op25b_blocked_bytes_total": {"pool", "family"},
    "op25b_would_block_packets_total": {"pool", "family"},
    "op25b_would_block_bytes_total": {"pool", "family"},
    "op25b_submission_packets_total": {"port", "family"},
    "op25b_relay_packets_total": {"family"},
    "op25b_exempt_packets_total": {"family"},
    "op25b_prefixes": {"pool", "family", "kind"},
    "op25b_reconcile_total": {"result"},
    "op25b_reconcile_duration_seconds": set(),
    "op25b_last_apply_success_timestamp_seconds": set(),
    "op25b_drift_repairs_total": set(),
    "op25b_config_reload_errors_total": set(),
    "op25b_config_info": {"sha256"},
    "op25b_offenders": {"family"},
    "op25b_up": set(),
}
HISTOGRAMS = {"op25b_reconcile_duration_seconds"}
SERIES_NAMES = set(CONTRACT) | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}

REQUIRED_ALERTS = {
    "Op25bControllerDown",
    "Op25bReconcileFailing",
    "Op25bDriftRepairedRepeatedly",
    "Op25bBlockRateSpike",
    "Op25bMonitorPoolReadyToEnforce",
}
# What the dashboard must show (the brief's panel list), by the series each panel reads.
DASHBOARD_MUST_READ = SERIES_NAMES - {
    "op25b_blocked_bytes_total",
    "op25b_would_block_bytes_total",
    "op25b_reconcile_duration_seconds",
    "op25b_reconcile_duration_seconds_sum",
    "op25b_reconcile_duration_seconds_count",
}
DATASOURCE_VAR = "${DS_PROMETHEUS}"
GRAFANA_VARS = {"instance", "pool"}

# Words that look like metric names but are not: keywords, binary operators and aggregations
# (which may be followed by `by (...)` rather than by their parenthesis).
_PROMQL_WORDS = set(
    """by without on ignoring group_left group_right bool and or unless offset atan2
    sum min max avg group stddev stdvar count count_values bottomk topk quantile""".split()
)


def series_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables outside matchers
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if call or word in _PROMQL_WORDS or re.fullmatch(r"(?i)inf|nan", word):
            continue
        names.add(word)
    return names


def test_series_names_finds_metrics_and_ignores_the_rest():
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(foo_bucket{a=~"$x", b="c d"}[$__rate_interval])))'
        " > on (instance) group_left (pool) bar and time() - baz offset 5m"
        " or max without (pool) (qux) or count(quux)"
    )
    assert series_names(expr) == {"foo_bucket", "bar", "baz", "qux", "quux"}


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # Fixed argv of a test tool, no shell: nothing untrusted reaches it.
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not found (Debian package prometheus)")
    return path


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    assert [g["name"] for g in doc["groups"]] == ["op25b"]
    return doc["groups"][0]["rules"]


@pytest.fixture(scope="module")
def alerts(rules) -> list[dict]:
    return [r for r in rules if "alert" in r]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return panels


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    return [
        (f"{p['title']}/{t['refId']}", t["expr"])
        for p in all_panels(dashboard)
        for t in p.get("targets", [])
    ]


# --- Prometheus rules -------------------------------------------------------------------------


def test_promtool_check_rules(promtool):
    result = run([promtool, "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests(promtool):
    result = run([promtool, "test", "rules", str(RULE_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_rule(promtool, tmp_path):
    """The check above can fail: the same promtool refuses a rule with a PromQL error."""
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 3", "> > 3", 1))
    assert run([promtool, "check", "rules", str(broken)]).returncode != 0


def test_required_alerts_exist(alerts):
    assert REQUIRED_ALERTS <= {a["alert"] for a in alerts}


def test_alerts_carry_severity_summary_description_runbook(alerts):
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = alert["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        # The anchor GitHub derives from a "## <AlertName>" heading in docs/operations.md.
        assert annotations["runbook_url"] == RUNBOOK + name.lower(), name


def test_monitor_pool_alert_is_informational(alerts):
    severities = {
        a["labels"]["severity"] for a in alerts if a["alert"] == "Op25bMonitorPoolReadyToEnforce"
    }
    assert severities == {"info"}


def test_rules_read_only_contract_metrics(rules):
    recorded = {r["record"] for r in rules if "record" in r}
    allowed = SERIES_NAMES | recorded | {"up"}  # up: Prometheus's own per-target series
    for rule in rules:
        unknown = series_names(rule["expr"]) - allowed
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: {sorted(unknown)}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test(alerts):
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for name in {a["alert"] for a in alerts}:
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name}: no test where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{name}: no test where it stays quiet"


# --- Grafana dashboard ------------------------------------------------------------------------


def test_dashboard_datasource_is_the_input_variable(dashboard):
    assert [(i["name"], i["type"], i["pluginId"]) for i in dashboard["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")
    ]
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == DATASOURCE_VAR, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_VAR, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_VAR, variable["name"]


def test_dashboard_layout(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert {v["name"] for v in dashboard["templating"]["list"]} == GRAFANA_VARS
    ids = [p["id"] for p in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in all_panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]


def test_dashboard_reads_only_contract_metrics(dashboard):
    for where, expr in dashboard_exprs(dashboard):
        unknown = series_names(expr) - SERIES_NAMES
        assert not unknown, f"{where}: {sorted(unknown)}"
        used_vars = set(re.findall(r"\$(\w+)", expr)) - {"__rate_interval", "__interval", "__range"}
        assert used_vars <= GRAFANA_VARS, f"{where}: undefined variables {used_vars - GRAFANA_VARS}"


def test_dashboard_shows_every_required_metric(dashboard):
    used = set().union(*(series_names(e) for _, e in dashboard_exprs(dashboard)))
    assert DASHBOARD_MUST_READ <= used, sorted(DASHBOARD_MUST_READ - used)


def test_dashboard_queries_are_valid_promql(dashboard, promtool, tmp_path):
    """promtool parses each query, with Grafana's variables replaced by what Grafana sends."""
    values = {
        "__rate_interval": "4m",
        "__interval": "1m",
        "__range": "1d",
        "instance": ".*",
        "pool": ".*",
    }
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr),
        }
        for i, (_, expr) in enumerate(dashboard_exprs(dashboard))
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- docs/metrics.md --------------------------------------------------------------------------


def test_metrics_doc_covers_the_contract():
    text = METRICS_DOC.read_text()
    missing = [name for name in CONTRACT if f"`{name}" not in text]
    assert not missing, f"docs/metrics.md does not document {missing}"
    assert "127.0.0.1:9025" in text
