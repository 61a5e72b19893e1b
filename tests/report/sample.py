"""Fixed scan results with realistic evidence, for golden files and formatter tests.

Built by hand (no clock, no cluster) so every rendering is reproducible byte for byte. The
shapes of the evidence follow what the collectors record: settings with their source
file:line, pg_hba lines, accepted cipher suites, masked samples.
"""

from __future__ import annotations

from auditor.frameworks import controls_for
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus

CONF = "/etc/postgresql/15/main/postgresql.conf"
HBA = "/etc/postgresql/15/main/pg_hba.conf"


def _r(
    check_id: str,
    status: Status,
    severity: Severity,
    title: str,
    message: str,
    target: str = "app-db",
    resource: str | None = None,
    evidence: dict[str, object] | None = None,
    remediation: str = "",
) -> Result:
    return Result(
        check_id=check_id,
        target=target,
        status=status,
        severity=severity,
        title=title,
        message=message,
        resource=resource,
        evidence=evidence or {},
        remediation=remediation,
        controls=controls_for(check_id),
    )


def sample_findings() -> list[Result]:
    S, V = Status, Severity
    found = [
        _r(
            "transport.ssl_enabled",
            S.PASS,
            V.CRITICAL,
            "TLS is enabled on the server",
            f"ssl = on ({CONF}:12)",
            evidence={"ssl": {"setting": "ssl", "value": "on", "source": f"{CONF}:12"}},
            remediation="Set ssl = on and use hostssl rules.",
        ),
        _r(
            "transport.tls_min_version",
            S.FAIL,
            V.HIGH,
            "No protocol below TLS 1.2 is accepted",
            "the server accepts TLSv1.0 and TLSv1.1",
            evidence={
                "accepted_protocols": ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
                "ssl_min_protocol_version": {
                    "setting": "ssl_min_protocol_version",
                    "value": "TLSv1",
                    "source": f"{CONF}:14",
                },
            },
            remediation="Set ssl_min_protocol_version = 'TLSv1.2' and reload.",
        ),
        _r(
            "transport.cipher_suites",
            S.FAIL,
            V.HIGH,
            "Only policy cipher suites are accepted",
            "2 accepted suites are outside the intermediate profile",
            evidence={
                "offenders": [
                    {
                        "protocol": "TLSv1.2",
                        "suite": "TLS_RSA_WITH_AES_128_CBC_SHA",
                        "why": "no forward secrecy, CBC",
                    },
                    {
                        "protocol": "TLSv1.2",
                        "suite": "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
                        "why": "no forward secrecy, not AEAD",
                    },
                ],
                "ssl_ciphers": {
                    "setting": "ssl_ciphers",
                    "value": "HIGH:MEDIUM:+3DES:!aNULL",
                    "source": "default",
                },
            },
            remediation="Restrict ssl_ciphers to ECDHE AEAD suites.",
        ),
        _r(
            "auth.hba_strong_methods",
            S.FAIL,
            V.HIGH,
            "pg_hba.conf uses strong methods only",
            "line 2 admits host connections with md5",
            resource=f"{HBA}:2",
            evidence={
                "rule": {
                    "line": 2,
                    "type": "host",
                    "database": ["all"],
                    "user": ["all"],
                    "address": "0.0.0.0/0",
                    "method": "md5",
                }
            },
            remediation="Use scram-sha-256 or cert instead of md5.",
        ),
        _r(
            "auth.hba_network_scope",
            S.FAIL,
            V.MEDIUM,
            "No pg_hba rule admits the whole internet",
            "line 2 admits 0.0.0.0/0",
            resource=f"{HBA}:2",
            evidence={"rule": {"line": 2, "address": "0.0.0.0/0", "method": "md5"}},
            remediation="Narrow the address to the application subnet.",
        ),
        _r(
            "auth.password_encryption",
            S.FAIL,
            V.HIGH,
            "Passwords are hashed with SCRAM-SHA-256",
            f"password_encryption = md5 ({CONF}:20)",
            evidence={
                "password_encryption": {
                    "setting": "password_encryption",
                    "value": "md5",
                    "source": f"{CONF}:20",
                }
            },
            remediation="Set password_encryption = scram-sha-256 and reset passwords.",
        ),
        _r(
            "auth.role_password_hashes",
            S.SKIP,
            V.HIGH,
            "Stored role passwords use SCRAM",
            "pg_authid needs superuser: run as a superuser or accept the skip",
        ),
        _r(
            "column.sensitive_encrypted",
            S.PASS,
            V.CRITICAL,
            "Sensitive columns hold ciphertext",
            "200 of 200 sampled values are OpenPGP symmetric messages (AES-256)",
            resource="users.email",
            evidence={
                "sampled": 200,
                "encrypted": 200,
                "encoding": "bytea",
                "cipher": "aes256",
                "query": "SELECT email FROM users TABLESAMPLE SYSTEM (1.5) LIMIT 200",
            },
        ),
        _r(
            "column.sensitive_encrypted",
            S.FAIL,
            V.CRITICAL,
            "Sensitive columns hold ciphertext",
            "50 of 50 sampled values are plaintext",
            resource="users.phone",
            evidence={
                "sampled": 50,
                "encrypted": 0,
                "shapes": ["+1555000####"],
                "masked_examples": ["+1*******001"],
            },
            remediation="Encrypt with pgp_sym_encrypt(value, key, 'cipher-algo=aes256').",
        ),
        _r(
            "column.plaintext_pii",
            S.FAIL,
            V.CRITICAL,
            "No undeclared column holds plaintext PII",
            "users.notes holds card numbers (Luhn-valid) in 3 of 120 sampled rows",
            resource="users.notes",
            evidence={
                "kind": "card_number",
                "matches": 3,
                "sampled": 120,
                "masked_examples": ["4***********1111"],
            },
            remediation="Remove or encrypt the column; declare it as sensitive.",
        ),
        _r(
            "audit.connection_logging",
            S.FAIL,
            V.MEDIUM,
            "Connections and disconnections are logged",
            f"log_connections = off ({CONF}:31)",
            evidence={
                "log_connections": {
                    "setting": "log_connections",
                    "value": "off",
                    "source": f"{CONF}:31",
                },
                "log_disconnections": {
                    "setting": "log_disconnections",
                    "value": "on",
                    "source": f"{CONF}:32",
                },
            },
            remediation="Set log_connections = on.",
        ),
        _r(
            "audit.access_log_present",
            S.PASS,
            V.HIGH,
            "The access-log table exists",
            "encrypted_data_access_log has every required column",
            resource="public.encrypted_data_access_log",
            evidence={
                "columns": [
                    "table_name",
                    "column_name",
                    "row_id",
                    "accessed_by",
                    "access_type",
                    "accessed_at",
                    "client_ip",
                ]
            },
        ),
        _r(
            "storage.luks_data_directory",
            S.ERROR,
            V.CRITICAL,
            "The data directory sits on LUKS",
            "host collector failed: ssh: connection refused",
        ),
        _r(
            "keys.application_key_cache",
            S.MANUAL,
            V.INFO,
            "Application key cache is short-lived",
            "attest the key cache TTL, persistence and zeroisation",
        ),
    ]
    found += [
        _r(
            check_id,
            S.ERROR,
            V.HIGH,
            title,
            "target unreachable: connection refused",
            target="legacy-db",
        )
        for check_id, title in (
            ("transport.ssl_enabled", "TLS is enabled on the server"),
            ("auth.password_encryption", "Passwords are hashed with SCRAM-SHA-256"),
        )
    ]
    return sorted(found, key=lambda r: r.sort_key)


def sample_results() -> ScanResults:
    return ScanResults(
        run_id="3f1c9a52-7d4e-4b8e-9a60-2b7f5e1d0c11",
        started_at="2026-11-20T09:00:00Z",
        finished_at="2026-11-20T09:00:07Z",
        targets=(
            TargetOutcome("app-db", "postgres", TargetStatus.SCANNED),
            TargetOutcome("legacy-db", "postgres", TargetStatus.UNREACHABLE, "connection refused"),
        ),
        findings=tuple(sample_findings()),
        tool_version="0.1.0",
        config_digest="sha256:9b2e0c1d5f7a43a8e1c6d2b0f4a9e8c7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a291",
    )


WAIVERS_YAML = """\
waivers:
  - check: auth.password_encryption
    target: app-db
    reason: Legacy client needs md5 until the driver upgrade in ticket SEC-142
    approved_by: Jane Roe (CISO)
    expires: 2027-01-31
  - check: auth.hba_network_scope
    target: "*"
    resource: "*pg_hba.conf:2"
    reason: Temporary rule for the migration
    approved_by: Jane Roe (CISO)
    expires: 2026-10-31
attestations:
  - check: keys.application_key_cache
    attested_by: John Doe (platform lead)
    attested_on: 2026-10-01
    valid_until: 2027-10-01
    statement: Key cache TTL 15 min, memory only, zeroised on shutdown (design KM-7)
"""
