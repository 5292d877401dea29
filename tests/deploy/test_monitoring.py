"""deploy/monitoring: alert rules checked and unit-tested by promtool, runbook links, dashboard metric names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/monitoring/oms-worker-alerts.yaml"
DASHBOARD = ROOT / "deploy/monitoring/oms-worker-dashboard.json"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool/alerts_test.yaml"
RUNBOOK = ROOT / "docs/runbook.md"
METRIC_NAME = re.compile(r"\b(?:oms|process|python)_[A-Za-z0-9_]+\b")

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not found: install Debian's `prometheus` package (.ci/run does when it can)",
)


def _rule_file() -> dict[str, Any]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert (doc["apiVersion"], doc["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    return dict(doc["spec"])


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in _rule_file()["groups"] for rule in group["rules"] if "alert" in rule]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _exported_names() -> set[str]:
    """Every sample name the worker's registry exposes, as Prometheus stores it."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "summary": ["", "_count", "_sum"],
                "info": ["_info"]}
    return {family.name + suffix for family in Metrics(version="0.0.0").registry.collect()
            for suffix in suffixes.get(family.type, [""])}


@needs_promtool
def test_rule_groups_pass_promtool_check_rules(tmp_path: Path) -> None:
    """The PrometheusRule's groups are a valid Prometheus rule file (promtool check rules)."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rule_file()), encoding="utf-8")
    result = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


@needs_promtool
def test_alert_unit_tests_pass_promtool_test_rules(tmp_path: Path) -> None:
    """Each alert fires on its condition and stays silent otherwise (promtool test rules)."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rule_file()), encoding="utf-8")
    shutil.copy(PROMTOOL_TESTS, tmp_path / "alerts_test.yaml")
    result = _promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    """The promtool tests hold, for every alert, a case where it fires and a case where it does not."""
    cases = [case for test in yaml.safe_load(PROMTOOL_TESTS.read_text(encoding="utf-8"))["tests"]
             for case in test["alert_rule_test"]]
    for alert in _alerts():
        name = alert["alert"]
        assert any(c["alertname"] == name and c["exp_alerts"] for c in cases), f"{name} never fires in a test"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in cases), f"{name} is never silent"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_alert_links_to_its_runbook_entry() -> None:
    """Each alert has a severity, a summary and a runbook_url pointing at its own heading in docs/runbook.md."""
    anchors = _anchors(RUNBOOK.read_text(encoding="utf-8"))
    names = [alert["alert"] for alert in _alerts()]
    assert len(names) == len(set(names))
    for alert in _alerts():
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        url = alert["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page.endswith("/docs/runbook.md"), url
        assert anchor == alert["alert"].lower() and anchor in anchors, url


def test_dashboard_is_grafana_json_over_a_templated_prometheus_source() -> None:
    """The dashboard parses, every panel has a unique id, and every query uses the templated data source."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "namespace", "pod"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    queries = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert queries
    for panel in queries:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def test_rules_and_dashboard_name_only_metrics_the_worker_exports() -> None:
    """Every metric in the alert rules and the dashboard exists in worker/metrics.py."""
    exported = _exported_names()
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [alert["expr"] for alert in _alerts()]
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert used - exported == set()
    assert "oms_dead_letters_total" in used and "oms_build_info" in used
