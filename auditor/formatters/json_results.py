"""The results JSON contract (`auditor/results/v1`), which CI pipelines and history rely on.

`results_to_dict` / `results_from_dict` round-trip, so saved results can be re-rendered. The
`controls` list is derived (auditor/control_verdicts.py) and recomputed on every render.
"""

from __future__ import annotations

from typing import Any

from auditor.control_verdicts import control_verdicts, verdict_to_dict
from auditor.formatters.base import Formatter, RenderOptions
from auditor.json_indent import dumps_indent2
from auditor.model import (
    ControlRef,
    Result,
    ScanResults,
    Severity,
    Status,
    TargetOutcome,
    TargetStatus,
)

SCHEMA_ID = "auditor/results/v1"


def finding_to_dict(f: Result) -> dict[str, Any]:
    out = {
        "check_id": f.check_id,
        "target": f.target,
        "resource": f.resource,
        "status": f.status.value,
        "severity": f.severity.value,
        "title": f.title,
        "message": f.message,
        "evidence": f.evidence,
        "remediation": f.remediation,
        "controls": [{"framework": c.framework, "id": c.id} for c in f.controls],
    }
    if f.lifecycle is not None:  # optional: only runs recorded in a history store have it
        out["lifecycle"] = f.lifecycle
    return out


def _target_to_dict(t: TargetOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name,
        "kind": t.kind,
        "status": t.status.value,
        "error": t.error,
    }
    if t.declared_at is not None:  # optional keys: results without them read as before
        out["declared_at"] = t.declared_at
    if t.inventory is not None:
        out["inventory"] = t.inventory
    if t.labels:
        out["labels"] = t.labels
    if t.server is not None:  # a database of a server target (auditor/server_scan.py)
        out["server"] = t.server
        out["database"] = t.database
    return out


def results_to_dict(results: ScanResults) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": results.run_id,
        "started_at": results.started_at,
        "finished_at": results.finished_at,
        "config_digest": results.config_digest,
    }
    if results.scope is not None:
        run["scope"] = list(results.scope)
    if results.run_metadata is not None:
        run["metadata"] = results.run_metadata
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "auditor", "version": results.tool_version},
        "run": run,
        "targets": [_target_to_dict(t) for t in results.targets],
        "findings": [finding_to_dict(f) for f in results.findings],
        # Derived from the findings and the framework files (so a re-render recomputes it;
        # results_from_dict ignores it): control verdicts CI and GRC tools read directly.
        "controls": [verdict_to_dict(v) for v in control_verdicts(results)],
        "summary": results.summary(),
        # Written last and left out of the signed digest (auditor/manifest.py signed_view).
        **({"attestation": results.attestation} if results.attestation is not None else {}),
    }


class ResultsFileError(Exception):
    pass


def _scope(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("run.scope must be a list of check ids")
    return tuple(value)


def results_from_dict(data: dict[str, Any]) -> ScanResults:
    if data.get("schema") != SCHEMA_ID:
        raise ResultsFileError(f"not an Auditor results file (schema is {data.get('schema')!r})")
    try:
        return ScanResults(
            run_id=data["run"]["id"],
            started_at=data["run"]["started_at"],
            finished_at=data["run"]["finished_at"],
            config_digest=data["run"].get("config_digest"),
            scope=_scope(data["run"].get("scope")),
            run_metadata=_optional_object(data["run"].get("metadata"), "run.metadata"),
            attestation=_optional_object(data.get("attestation"), "attestation"),
            tool_version=data["tool"]["version"],
            targets=tuple(
                TargetOutcome(
                    t["name"],
                    t["kind"],
                    TargetStatus(t["status"]),
                    t.get("error"),
                    t.get("declared_at"),
                    _optional_object(t.get("inventory"), "targets[].inventory"),
                    _optional_object(t.get("labels"), "targets[].labels"),
                    server=t.get("server"),
                    database=t.get("database"),
                )
                for t in data["targets"]
            ),
            findings=tuple(
                Result(
                    check_id=f["check_id"],
                    target=f["target"],
                    status=Status(f["status"]),
                    severity=Severity(f["severity"]),
                    title=f["title"],
                    message=f["message"],
                    resource=f.get("resource"),
                    evidence=f.get("evidence") or {},
                    remediation=f.get("remediation", ""),
                    controls=tuple(ControlRef(c["framework"], c["id"]) for c in f["controls"]),
                    lifecycle=_optional_object(f.get("lifecycle"), "findings[].lifecycle"),
                )
                for f in data["findings"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsFileError(f"malformed results file: {type(exc).__name__}: {exc}") from None


def _optional_object(value: Any, where: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{where} is not an object")
    return value


class JsonFormatter(Formatter):
    name = "json"
    extension = "results.json"
    description = "results JSON (auditor/results/v1), the machine contract"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        # json.dumps(..., indent=2) byte for byte, twice as fast (megabytes at fleet scale).
        return (dumps_indent2(results_to_dict(results)) + "\n").encode()
