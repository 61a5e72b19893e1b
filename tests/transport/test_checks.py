"""Every transport check through a real scan: the compliant server passes, each weak server
fails with evidence naming the offender, and broken targets give clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.catalog import all_checks
from auditor.facts import Facts
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Status, TargetStatus
from auditor.runner import evaluate, run_scan
from tests.transport.conftest import config_text, target

TRANSPORT = {
    "transport.ssl_enabled",
    "transport.tls_min_version",
    "transport.tls13_supported",
    "transport.cipher_suites",
    "transport.certificate_trust",
    "transport.certificate_expiry",
    "transport.certificate_strength",
    "transport.client_connections_encrypted",
    "transport.client_sslmode",
}
GOOD_APP_DSN = "postgresql://app@db.internal:5432/app?sslmode=verify-full&sslrootcert=ca.pem"
LAX_APP_DSN = "postgresql://app:s3cret-app-pw@db.internal/app?sslmode=require"


def _scan(*targets: str, policy: str = "") -> ScanResults:
    results, _ = run_scan(
        config_text(*targets, policy=policy), Path.cwd(), workers=4, check_ids=TRANSPORT
    )
    return results


def _by_id(results: ScanResults, name: str) -> dict[str, list[Result]]:
    found: dict[str, list[Result]] = {}
    for r in results.findings:
        if r.target == name:
            found.setdefault(r.check_id, []).append(r)
    return found


def _one(found: dict[str, list[Result]], check_id: str) -> Result:
    (only,) = found[check_id]
    return only


def _conf_line(cluster: Cluster, setting: str) -> str:
    conf = cluster.datadir / "postgresql.conf"
    lines = conf.read_text().splitlines()
    return f"{conf}:{max(i for i, line in enumerate(lines, 1) if line.startswith(setting + ' ='))}"


@pytest.fixture(scope="module")
def main_run(
    compliant: Cluster, weak: Cluster, weak_cert: Cluster
) -> tuple[ScanResults, list[Facts]]:
    """One scan over the three TLS servers (concurrently, as users run it)."""
    return run_scan(
        config_text(
            target("good", compliant.dsn("auditor"), application_dsns=f"['{GOOD_APP_DSN}']"),
            # libpq would refuse the weak server's certificate, so the scanner logs in without
            # TLS (its own plaintext session must not be reported).
            target(
                "weak",
                weak.dsn("auditor", sslmode="disable"),
                application_dsns=f"['{LAX_APP_DSN}', '{GOOD_APP_DSN}']",
            ),
            # verify-full login fails on the self-signed certificate: TLS verdicts must come.
            target("weak-cert", weak_cert.dsn("auditor")),
        ),
        Path.cwd(),
        workers=4,
        check_ids=TRANSPORT,
    )


@pytest.fixture(scope="module")
def main_scan(main_run: tuple[ScanResults, list[Facts]]) -> ScanResults:
    return main_run[0]


def test_compliant_server_passes_every_transport_check(
    main_scan: ScanResults, compliant: Cluster
) -> None:
    found = _by_id(main_scan, "good")
    statuses = {cid: {r.status for r in rs} for cid, rs in found.items()}
    assert statuses == {cid: {Status.PASS} for cid in TRANSPORT}
    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.evidence["offenders"] == []
    assert "accepted_beyond_ssl_ciphers" not in ciphers.evidence
    assert ciphers.evidence["ssl_ciphers"]["source"] == _conf_line(compliant, "ssl_ciphers")
    assert len(ciphers.evidence["accepted_suites"]["TLSv1.2"]) == 6
    minimum = _one(found, "transport.tls_min_version")
    assert minimum.evidence["accepted_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert minimum.evidence["ssl_min_protocol_version"]["source"] == _conf_line(
        compliant, "ssl_min_protocol_version"
    )
    trust = _one(found, "transport.certificate_trust")
    assert trust.evidence["store"].startswith("sslrootcert ")
    assert "DNS:localhost matches localhost" in trust.message
    assert (
        _one(found, "transport.certificate_expiry").evidence["certificates"][0]["days_left"] >= 360
    )
    assert "answers the SSLRequest with 'S'" in _one(found, "transport.ssl_enabled").message


def test_weak_protocols_and_suites_are_named(main_scan: ScanResults, weak: Cluster) -> None:
    found = _by_id(main_scan, "weak")
    minimum = _one(found, "transport.tls_min_version")
    assert minimum.status is Status.FAIL
    assert "the live server accepts TLSv1, TLSv1.1 (policy: TLSv1.2+)" in minimum.message
    assert (
        f"ssl_min_protocol_version = TLSv1 ({_conf_line(weak, 'ssl_min_protocol_version')})"
        in minimum.message
    )
    assert _one(found, "transport.tls13_supported").status is Status.FAIL

    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.status is Status.FAIL
    offenders = {(o["version"], o["suite"]): o["reasons"] for o in ciphers.evidence["offenders"]}
    assert set(offenders) == {
        (v, s)
        for v in ("TLSv1", "TLSv1.1", "TLSv1.2")
        for s in ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA")
    } | {("TLSv1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384")}
    assert offenders[("TLSv1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384")] == [
        "RSA key exchange without forward secrecy"
    ]
    assert offenders[("TLSv1", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")] == ["not AEAD"]
    assert ciphers.evidence["ssl_ciphers"]["source"] == _conf_line(weak, "ssl_ciphers")
    assert "accepted_beyond_ssl_ciphers" not in ciphers.evidence  # settings and server agree
    assert "ssl_ciphers = 'ECDHE-RSA-AES128-GCM-SHA256:" in ciphers.message


def test_weak_certificates_fail_with_the_reason(main_scan: ScanResults) -> None:
    weak = _by_id(main_scan, "weak")
    expiry = _one(weak, "transport.certificate_expiry")
    assert expiry.status is Status.FAIL and expiry.severity.value == "critical"
    assert "expired on" in expiry.message and expiry.resource == "CN=db.example.com"
    trust = _one(weak, "transport.certificate_trust")
    assert trust.status is Status.FAIL
    assert (
        "hostname check failed: localhost is not named by the certificate (it names "
        "DNS:db.example.com)"
    ) in trust.message
    assert trust.evidence["chain_valid"] is False  # expired: a verify-full client refuses it
    assert _one(weak, "transport.certificate_strength").status is Status.PASS

    cert = _by_id(main_scan, "weak-cert")
    strength = _one(cert, "transport.certificate_strength")
    assert strength.status is Status.FAIL
    assert strength.message == "CN=localhost: RSA key of 1024 bits (policy: 2048+), SHA1 signature"
    trust = _one(cert, "transport.certificate_trust")
    assert trust.status is Status.FAIL and trust.message.startswith("self-signed certificate")
    assert trust.evidence["hostname_matches"] is True


def test_login_failure_still_gets_tls_verdicts(main_scan: ScanResults) -> None:
    outcome = {t.name: t for t in main_scan.targets}
    assert outcome["weak-cert"].status is TargetStatus.ERROR
    assert "certificate verify failed" in (outcome["weak-cert"].error or "")
    found = _by_id(main_scan, "weak-cert")
    assert _one(found, "transport.ssl_enabled").status is Status.PASS
    assert _one(found, "transport.cipher_suites").status is Status.PASS
    sql_only = _one(found, "transport.client_connections_encrypted")
    assert sql_only.status is Status.ERROR and "login failed" in sql_only.message


def test_plaintext_client_is_named_and_scanner_excluded(main_scan: ScanResults) -> None:
    found = _by_id(main_scan, "weak")
    clients = _one(found, "transport.client_connections_encrypted")
    assert clients.status is Status.FAIL
    (plain,) = clients.evidence["plaintext"]
    assert (plain["client_addr"], plain["user"], plain["application_name"]) == (
        "127.0.0.1",
        "app",
        "billing-worker",
    )
    assert "127.0.0.1 user app application billing-worker" in clients.message
    assert plain["pid"] != clients.evidence["excluded_scanner_pid"]


def test_application_dsns_are_linted_without_leaking_passwords(main_scan: ScanResults) -> None:
    found = {r.resource: r for r in _by_id(main_scan, "weak")["transport.client_sslmode"]}
    lax = found["postgresql://app:***@db.internal/app?sslmode=require"]
    assert lax.status is Status.FAIL
    assert (
        lax.message == "sslmode=require, no sslrootcert (needs sslmode=verify-full with "
        "sslrootcert)"
    )
    assert found[GOOD_APP_DSN].status is Status.PASS
    assert all("s3cret-app-pw" not in repr(r) for r in main_scan.findings)
    skipped = _one(_by_id(main_scan, "weak-cert"), "transport.client_sslmode")
    assert skipped.status is Status.SKIP


def test_modern_profile_fails_tls12_suites(compliant: Cluster) -> None:
    results = _scan(target("good", compliant.dsn("auditor")), policy="  tls_profile: modern\n")
    ciphers = _one(_by_id(results, "good"), "transport.cipher_suites")
    assert ciphers.status is Status.FAIL
    assert {o["version"] for o in ciphers.evidence["offenders"]} == {"TLSv1.2"}
    assert all(o["reasons"] == ["not in the modern profile"] for o in ciphers.evidence["offenders"])


def test_broken_servers_give_clear_results_and_spare_the_others(
    compliant: Cluster, ssl_off: Cluster, hang_up_port: int, closed_port: int
) -> None:
    results = _scan(
        target("good", compliant.dsn("auditor")),
        target("ssl-off", ssl_off.dsn("auditor")),
        target(
            "hang-up",
            f"postgresql://auditor@127.0.0.1:{hang_up_port}/app",
            connect_timeout_seconds=2,
        ),
        target("closed", f"postgresql://auditor@127.0.0.1:{closed_port}/app"),
    )
    outcome = {t.name: t for t in results.targets}
    assert outcome["good"].status is TargetStatus.SCANNED
    good = _by_id(results, "good")
    assert all(
        r.status is Status.PASS
        for rs in good.values()
        for r in rs
        if r.check_id != "transport.client_sslmode"
    )

    off = _by_id(results, "ssl-off")
    enabled = _one(off, "transport.ssl_enabled")
    assert enabled.status is Status.FAIL
    assert enabled.message.startswith(
        "ssl = off (default); the server refused TLS: it answered 'N' to the SSLRequest"
    )
    assert _one(off, "transport.tls_min_version").status is Status.ERROR
    assert "answered 'N'" in _one(off, "transport.cipher_suites").message
    clients = _one(off, "transport.client_connections_encrypted")
    assert clients.status is Status.PASS  # only the scanner is connected, and it is excluded

    hang = _by_id(results, "hang-up")
    for check_id in (
        "transport.ssl_enabled",
        "transport.cipher_suites",
        "transport.certificate_trust",
    ):
        result = _one(hang, check_id)
        assert result.status is Status.ERROR
        assert "connection during the handshake" in result.message

    assert outcome["closed"].status is TargetStatus.UNREACHABLE
    closed = [r for r in results.findings if r.target == "closed"]
    assert {r.status for r in closed} == {Status.ERROR}
    assert all("Connection refused" in r.message and "\n" not in r.message for r in closed)


def test_saved_tls_facts_give_the_same_verdicts_offline(
    main_run: tuple[ScanResults, list[Facts]],
) -> None:
    results, bundles = main_run
    weak = next(b for b in bundles if b.target.name == "weak")
    reloaded = Facts.from_json(json.loads(json.dumps(weak.to_json())))
    checks = [c for cid, c in all_checks().items() if cid in TRANSPORT]
    offline = {(r.check_id, r.resource, r.status, r.message) for r in evaluate(reloaded, checks)}
    live = {
        (r.check_id, r.resource, r.status, r.message)
        for r in results.findings
        if r.target == "weak"
    }
    assert offline == live


def test_probe_switched_off_skips_live_checks_and_keeps_settings(compliant: Cluster) -> None:
    results = _scan(target("good", compliant.dsn("auditor"), tls_probe="false"))
    found = _by_id(results, "good")
    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.status is Status.SKIP and "tls_probe: false" in ciphers.message
    enabled = _one(found, "transport.ssl_enabled")
    assert enabled.status is Status.PASS and "live" not in enabled.evidence


def test_hostaddr_is_probed_but_the_name_judged_is_host(compliant: Cluster) -> None:
    assert compliant.certs is not None
    dsn = (
        f"postgresql://auditor@db.example.test:{compliant.port}/app?hostaddr=127.0.0.1"
        f"&sslmode=verify-full&sslrootcert={compliant.certs.ca_cert}"
    )
    results = _scan(target("aliased", dsn))
    trust = _one(_by_id(results, "aliased"), "transport.certificate_trust")
    assert trust.status is Status.FAIL
    assert trust.evidence["chain_valid"] is True
    assert trust.message == (
        "hostname check failed: db.example.test is not named by the certificate (it names "
        "DNS:localhost, IP:127.0.0.1)"
    )
