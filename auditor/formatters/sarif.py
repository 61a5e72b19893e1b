"""SARIF 2.1.0 for code-scanning dashboards and CI (GitHub code scanning accepts it): one rule
per check, one result per verdict that needs attention — failures (`kind: fail`), waived
failures (with an external suppression giving the waiver's reason), manual checks
(`review`) and checks that could not be evaluated (`open`). Passes and skips are not
results (GitHub does not document `kind` and would show them as alerts); their counts are in
the run's properties.

Every result has a physical location, which GitHub requires: the line of the config file
that declares its target (repo-relative, under %SRCROOT%). A `--dsn` scan has no config
file, so its results point at the pseudo-artifact `auditor-targets/<target name>`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from auditor.formatters.base import Formatter, RenderOptions
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
# Verdicts that are not alerts: left out of `results`, counted in the run's properties.
_OMITTED = (Status.PASS, Status.SKIP)


_KIND = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.WAIVED: "fail",
    Status.MANUAL: "review",
    Status.ERROR: "open",
    Status.SKIP: "notApplicable",
}
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads `security-severity` (0-10) to rank rules.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule(first: Result) -> dict[str, Any]:
    return {
        "id": first.check_id,
        "name": first.check_id.replace(".", "_"),
        "shortDescription": {"text": first.title},
        "help": {"text": first.remediation or first.title},
        "defaultConfiguration": {"level": _LEVEL[first.severity]},
        "properties": {
            "tags": ["security", "compliance", first.check_id.split(".", 1)[0]],
            "security-severity": _SECURITY_SEVERITY[first.severity],
        },
    }


def physical_location(target: TargetOutcome | None, name: str) -> dict[str, Any]:
    """The config line declaring the target, or the documented pseudo-artifact."""
    declared = target.declared_at if target is not None else None
    if declared and ":" in declared:
        path, _, line = declared.rpartition(":")
        if line.isdigit() and int(line) >= 1:
            return {
                "artifactLocation": {"uri": quote(path), "uriBaseId": SRCROOT},
                "region": {"startLine": int(line)},
            }
    return {
        "artifactLocation": {"uri": f"auditor-targets/{quote(name, safe='')}"},
        "region": {"startLine": 1},
    }


def _result(r: Result, rule_index: int, target: TargetOutcome | None) -> dict[str, Any]:
    located = f"{r.target}/{r.resource}" if r.resource else r.target
    out: dict[str, Any] = {
        "ruleId": r.check_id,
        "ruleIndex": rule_index,
        "kind": _KIND[r.status],
        "level": _LEVEL[r.severity] if r.status in (Status.FAIL, Status.WAIVED) else "none",
        "message": {"text": r.message or r.title},
        "locations": [
            {
                "physicalLocation": physical_location(target, r.target),
                "logicalLocations": [
                    {
                        "name": r.resource or r.target,
                        "fullyQualifiedName": located,
                        "kind": "resource" if r.resource else "module",
                    }
                ],
            }
        ],
        "partialFingerprints": {"auditor/v1": f"{r.target}|{r.check_id}|{r.resource or ''}"},
        "properties": {
            "target": r.target,
            "status": r.status.value,
            "severity": r.severity.value,
            "controls": [f"{c.framework} {c.id}" for c in r.controls],
            "evidence": r.evidence,
        },
    }
    if r.status is Status.WAIVED:
        waiver = r.evidence.get("waiver") or {}
        out["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": str(waiver.get("reason", "waived")),
            }
        ]
    return out


def render_sarif(results: ScanResults) -> dict[str, Any]:
    rules: dict[str, Result] = {}
    for r in results.findings:
        rules.setdefault(r.check_id, r)
    order = sorted(rules)
    index = {check_id: i for i, check_id in enumerate(order)}
    targets = {t.name: t for t in results.targets}
    shown = [r for r in results.findings if r.status not in _OMITTED]
    omitted = {s.value: sum(r.status is s for r in results.findings) for s in _OMITTED}
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "auditor",
                        "version": results.tool_version,
                        "rules": [_rule(rules[c]) for c in order],
                    }
                },
                "automationDetails": {"id": f"auditor/{results.run_id}"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "startTimeUtc": results.started_at,
                        "endTimeUtc": results.finished_at,
                    }
                ],
                "originalUriBaseIds": {SRCROOT: {"description": {"text": "The repository root."}}},
                "results": [_result(r, index[r.check_id], targets.get(r.target)) for r in shown],
                "properties": {
                    "omittedVerdicts": omitted,
                    "configDigest": results.config_digest,
                    "targets": [
                        {"name": t.name, "kind": t.kind, "status": t.status.value, "error": t.error}
                        for t in results.targets
                    ],
                },
            }
        ],
    }


class SarifFormatter(Formatter):
    name = "sarif"
    extension = "results.sarif"
    description = "SARIF 2.1.0 for code-scanning dashboards"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return (json.dumps(render_sarif(results), indent=2) + "\n").encode()
