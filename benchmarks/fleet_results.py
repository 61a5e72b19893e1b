"""Synthetic results of a fleet scan, built by hand (no cluster, no clock): N findings spread
over T PostgreSQL targets, most passing, some failing, a few skipped, one target unreachable,
each target with an asset inventory and labels (environment, business unit). Used by the PDF
benchmark and the fleet-scale report tests, so both measure the same shape of document.
"""

from __future__ import annotations

from typing import Any

from auditor.frameworks import controls_for
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus

# (check id, severity, title, remediation) of the PostgreSQL checks a fleet scan runs.
CHECKS: tuple[tuple[str, Severity, str], ...] = (
    ("transport.ssl_enabled", Severity.CRITICAL, "TLS is enabled on the server"),
    ("transport.tls_min_version", Severity.HIGH, "No protocol below TLS 1.2 is accepted"),
    ("transport.cipher_suites", Severity.HIGH, "Only policy cipher suites are accepted"),
    ("transport.certificate_expiry", Severity.HIGH, "The server certificate is not expiring"),
    ("transport.certificate_strength", Severity.MEDIUM, "The server key is strong enough"),
    ("auth.hba_hostssl_only", Severity.CRITICAL, "Remote rules require TLS (hostssl)"),
    ("auth.hba_no_trust", Severity.CRITICAL, "No pg_hba rule uses trust"),
    ("auth.hba_strong_methods", Severity.HIGH, "pg_hba.conf uses strong methods only"),
    ("auth.password_encryption", Severity.HIGH, "Passwords are hashed with SCRAM-SHA-256"),
    ("column.pgcrypto_installed", Severity.HIGH, "pgcrypto is installed"),
    ("column.sensitive_encrypted", Severity.CRITICAL, "Sensitive columns hold ciphertext"),
    ("column.plaintext_pii", Severity.HIGH, "No undeclared column holds plaintext PII"),
    ("column.cipher_strength", Severity.HIGH, "Column ciphertext uses a strong cipher"),
    ("audit.access_log_present", Severity.HIGH, "The access log exists"),
    ("audit.connection_logging", Severity.MEDIUM, "Connections are logged"),
)
COLUMN_CHECKS = {"column.sensitive_encrypted", "column.plaintext_pii", "column.cipher_strength"}
ENVIRONMENTS = ("prod", "staging", "dev")
UNITS = ("payments", "identity", "analytics", "support")
UNREACHABLE = 7  # the index of the one target that could not be reached


def target_name(t: int) -> str:
    return f"db-{t:03d}"


def target_labels(t: int) -> dict[str, str]:
    return {"env": ENVIRONMENTS[t % 3], "unit": UNITS[t % 4]}


def _status(i: int, target: int) -> Status:
    if target == UNREACHABLE:
        return Status.ERROR
    bucket = ((i * 2654435761) >> 16) % 100  # a fixed scatter: ~10 % fail, ~3 % skip
    if bucket < 10:
        return Status.FAIL
    if bucket < 13:
        return Status.SKIP
    return Status.PASS


def _finding(i: int, n_targets: int) -> Result:
    t = i % n_targets
    round_ = i // n_targets
    resource = None
    if round_ < len(CHECKS):
        check_id, severity, title = CHECKS[round_]
        if check_id in COLUMN_CHECKS:
            resource = "app.customer.email"
    else:  # past one round of checks, more findings are more columns of the column checks
        check_id, severity, title = CHECKS[10 + round_ % 3]
        resource = f"app.table_{round_}.email"
    status = _status(i, t)
    messages = {
        Status.PASS: "every sampled value is pgcrypto ciphertext (200 rows)",
        Status.FAIL: "12 of 200 sampled values look like e-mail addresses",
        Status.SKIP: "the scanning role cannot read pg_hba_file_rules: GRANT pg_read_all_settings",
        Status.ERROR: "connection refused (is the server running on db-007:5432?)",
    }
    evidence: dict[str, Any] = {"sampled": 200, "seed": 1234}
    if status is Status.FAIL:
        evidence |= {
            "expected_vs_actual": {"expected": "ciphertext", "actual": "plaintext e-mail"},
            "matches": 12,
            "masked_examples": ["j***@e***.com", "a***@b***.org"],
        }
    return Result(
        check_id=check_id,
        target=target_name(t),
        status=status,
        severity=severity,
        title=title,
        message=messages[status],
        resource=resource,
        evidence=evidence,
        remediation="Encrypt the column with pgp_sym_encrypt(..., 'cipher-algo=aes256') "
        "or drop it; declare it under sensitive_columns.",
        controls=controls_for(check_id),
    )


def _inventory(t: int) -> dict[str, Any]:
    return {
        "endpoint": f"{target_name(t)}.db.example.internal:5432",
        "database": "app",
        "server_version": "15.8",
        "ssl": "on",
        "ssl_library": "OpenSSL",
        "data_checksums": t % 5 != 0,
        "role": {
            "name": "auditor",
            "superuser": False,
            "bypass_rls": False,
            "member_of": ["pg_monitor"],
            "file_views": {"pg_file_settings": True, "pg_hba_file_rules": t % 9 != 0},
        },
    }


def fleet_results(n_findings: int, n_targets: int = 300) -> ScanResults:
    findings = [_finding(i, n_targets) for i in range(n_findings)]
    targets = tuple(
        TargetOutcome(
            target_name(t),
            "postgres",
            TargetStatus.UNREACHABLE if t == UNREACHABLE else TargetStatus.SCANNED,
            "connection refused" if t == UNREACHABLE else None,
            inventory=None if t == UNREACHABLE else _inventory(t),
        )
        for t in range(n_targets)
    )
    return ScanResults(
        run_id="fleet-bench",
        started_at="2026-11-20T09:00:00Z",
        finished_at="2026-11-20T09:25:00Z",
        targets=targets,
        findings=tuple(sorted(findings, key=lambda r: r.sort_key)),
        tool_version="bench",
        config_digest="sha256:" + "0" * 64,
    )


def with_labels(document: dict[str, Any]) -> dict[str, Any]:
    """A results JSON document (results_to_dict) whose target entries carry `labels`, as a
    scan of a config with `labels:` on its targets writes them."""
    for entry in document["targets"]:
        entry["labels"] = target_labels(int(entry["name"].split("-")[1]))
    return document
