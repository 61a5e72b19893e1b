"""SARIF 2.1.0 for code-scanning dashboards and CI: one rule per check, one result per
verdict. Every verdict is kept, with SARIF's `kind` saying what it is (pass, fail, review for
manual checks, open for checks that could not be evaluated, notApplicable for skips); waived
failures carry an external suppression with the waiver's reason."""

from __future__ import annotations

import json
from typing import Any

from auditor.formatters.base import Formatter, RenderOptions
from auditor.model import Result, ScanResults, Severity, Status

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


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


def _result(r: Result, rule_index: int) -> dict[str, Any]:
    located = f"{r.target}/{r.resource}" if r.resource else r.target
    out: dict[str, Any] = {
        "ruleId": r.check_id,
        "ruleIndex": rule_index,
        "kind": _KIND[r.status],
        "level": _LEVEL[r.severity] if r.status in (Status.FAIL, Status.WAIVED) else "none",
        "message": {"text": r.message or r.title},
        "locations": [
            {
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
                "results": [_result(r, index[r.check_id]) for r in results.findings],
                "properties": {
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
