"""Every transport check through a real scan: the compliant server passes, each weak server
fails with evidence naming the offender, and broken targets give clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditor.catalog import all_checks
from auditor.facts import Facts
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status, TargetStatus
from auditor.runner import evaluate, run_scan
from auditor.tls.probe import _suite
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
    # No client but the scanner is connected: nothing to judge, so a skip, never a pass.
    clients = "transport.client_connections_encrypted"
    assert statuses == {cid: {Status.PASS} for cid in TRANSPORT - {clients}} | {
        clients: {Status.SKIP}
    }
    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.evidence["offenders"] == []
    assert "accepted_beyond_ssl_ciphers" not in ciphers.evidence
    assert ciphers.evidence["ssl_ciphers"]["source"] == _conf_line(compliant, "ssl_ciphers")
    assert len(ciphers.evidence["accepted_suites"]["TLSv1.2"]) == 6
    (legacy,) = ciphers.evidence["legacy_suites_tested"].values()
    assert ciphers.evidence["legacy_suites_tested"].keys() == {"TLSv1.2"}
    assert legacy["outcome"].startswith("all refused (handshake refused: TLS alert")
    assert {"3DES", "RC4", "EXPORT"} <= set(legacy["families"]) and legacy["offered_suites"] > 60
    assert ciphers.evidence["not_tested"] == ["SSLv2 (not probed)"]
    minimum = _one(found, "transport.tls_min_version")
    assert minimum.evidence["accepted_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert set(minimum.evidence["refused_versions"]) == {"SSLv3", "TLSv1", "TLSv1.1"}
    assert minimum.evidence["required_min_version"] == "TLSv1.2"
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
    # Legacy suites were tried on each accepted version and named no false offender.
    assert set(ciphers.evidence["legacy_suites_tested"]) == {"TLSv1", "TLSv1.1", "TLSv1.2"}
    assert all(
        t["outcome"].startswith("all refused")
        for t in ciphers.evidence["legacy_suites_tested"].values()
    )
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


def test_modern_profile_fails_tls12_suites_and_protocol(compliant: Cluster) -> None:
    # The same server passes both checks under the default intermediate profile (above).
    results = _scan(target("good", compliant.dsn("auditor")), policy="  tls_profile: modern\n")
    found = _by_id(results, "good")
    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.status is Status.FAIL
    assert {o["version"] for o in ciphers.evidence["offenders"]} == {"TLSv1.2"}
    assert all(o["reasons"] == ["not in the modern profile"] for o in ciphers.evidence["offenders"])
    minimum = _one(found, "transport.tls_min_version")
    assert minimum.status is Status.FAIL
    assert minimum.message.startswith(
        "the live server accepts TLSv1.2 (policy: TLSv1.3+ from the modern profile); "
        f"ssl_min_protocol_version = TLSv1.2 ({_conf_line(compliant, 'ssl_min_protocol_version')})"
    )
    assert minimum.evidence["policy_min_version"] == "TLSv1.2"
    assert minimum.evidence["required_min_version"] == "TLSv1.3"
    assert minimum.evidence["profile_protocols"] == ["TLSv1.3"]


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
        # no application DSN declared / no client but the scanner: nothing to judge
        if r.check_id not in ("transport.client_sslmode", "transport.client_connections_encrypted")
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
    assert clients.status is Status.SKIP  # only the scanner is connected, and it is excluded

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


def test_probe_switched_off_skips_live_checks_and_keeps_settings(
    compliant: Cluster, ssl_off: Cluster
) -> None:
    results = _scan(
        target("good", compliant.dsn("auditor"), tls_probe="false"),
        target("ssl-off", ssl_off.dsn("auditor"), tls_probe="false"),
    )
    found = _by_id(results, "good")
    ciphers = _one(found, "transport.cipher_suites")
    assert ciphers.status is Status.SKIP and "tls_probe: false" in ciphers.message
    enabled = _one(found, "transport.ssl_enabled")
    assert enabled.status is Status.PASS and "live" not in enabled.evidence
    # Labelled as a settings-only verdict, in the message and the evidence.
    assert enabled.message.startswith("ssl = on (")
    assert enabled.message.endswith(
        "; judged on the setting only: the live TLS probe is disabled for this target "
        "(tls_probe: false)"
    )
    assert enabled.evidence["judged_on"].startswith("the ssl setting only: ")
    off = _one(_by_id(results, "ssl-off"), "transport.ssl_enabled")
    assert off.status is Status.FAIL and off.message == "ssl = off (default)"


def test_failed_probe_is_not_a_pass_on_the_setting_alone(
    compliant: Cluster, ssl_off: Cluster, flaky_front: Callable[[Cluster], int]
) -> None:
    # The probe's connection is dropped (a flaky front), the SQL login right after gets
    # through and reads ssl = on / off.
    good, off = flaky_front(compliant), flaky_front(ssl_off)
    results = _scan(
        target("good", compliant.dsn("auditor").replace(f":{compliant.port}/", f":{good}/")),
        target("ssl-off", ssl_off.dsn("auditor").replace(f":{ssl_off.port}/", f":{off}/")),
    )
    found = _by_id(results, "good")
    # SQL got through: no error; no client but the scanner, so nothing to judge.
    assert found["transport.client_connections_encrypted"][0].status is Status.SKIP
    # The SQL session got through, so the target was scanned: a lost probe is not the
    # target's verdict, only its TLS checks'.
    assert {t.name: t.status for t in results.targets} == {
        "good": TargetStatus.SCANNED, "ssl-off": TargetStatus.SCANNED}
    enabled = _one(found, "transport.ssl_enabled")
    assert enabled.status is Status.ERROR
    assert enabled.message == (
        f"the live TLS probe failed: unreachable: localhost:{good}: server closed the "
        "connection instead of answering the SSLRequest; ssl = on "
        f"({_conf_line(compliant, 'ssl')}) alone does not show that the server answers the "
        "SSLRequest with 'S'"
    )
    assert enabled.evidence["ssl"]["value"] == "on"
    assert enabled.evidence["live"]["error"].startswith("unreachable: ")
    disabled = _one(_by_id(results, "ssl-off"), "transport.ssl_enabled")
    assert disabled.status is Status.FAIL
    assert disabled.message == (
        "ssl = off (default) (the live TLS probe failed: unreachable: "
        f"localhost:{off}: server closed the connection instead of answering the SSLRequest)"
    )


def test_ec_certificate_that_expires_soon(ec_soon: Cluster) -> None:
    results = _scan(
        target("ec", ec_soon.dsn("auditor")), policy="  certificate_min_days_left: 90\n"
    )
    found = _by_id(results, "ec")
    expiry = _one(found, "transport.certificate_expiry")
    assert expiry.status is Status.FAIL and expiry.severity is Severity.HIGH
    (leaf,) = expiry.evidence["certificates"]
    assert leaf["days_left"] in (59, 60)  # 60 days from issue, floored
    assert expiry.evidence["min_days_left"] == 90
    assert expiry.message == (
        f"the server certificate CN=localhost expires on {leaf['not_after']}: "
        f"{leaf['days_left']} days left (policy: at least 90)"
    )
    strength = _one(found, "transport.certificate_strength")
    assert strength.status is Status.PASS
    assert strength.message == "CN=localhost: EC 256 bits, sha256 signature"
    assert strength.evidence["certificates"][0]["key_type"] == "ec"
    # The other side: the default 30 days are met by the same certificate.
    default = _one(
        _by_id(_scan(target("ec", ec_soon.dsn("auditor"))), "ec"), "transport.certificate_expiry"
    )
    assert default.status is Status.PASS and "days left" in default.message


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


def _good_bundle(main_run: tuple[ScanResults, list[Facts]]) -> dict[str, Any]:
    good = next(b for b in main_run[1] if b.target.name == "good")
    return json.loads(json.dumps(good.to_json()))


def _evaluate(bundle: dict[str, Any], check_id: str) -> Result:
    (result,) = evaluate(Facts.from_json(bundle), [all_checks()[check_id]])
    return result


def test_an_accepted_legacy_suite_is_an_offender(
    main_run: tuple[ScanResults, list[Facts]],
) -> None:
    # No server here can accept 3DES (OpenSSL 3), so the failing side is judged on the
    # compliant server's own facts with what the probe would record for one that does.
    bundle = _good_bundle(main_run)
    tls12 = next(p for p in bundle["sections"]["tls"]["protocols"] if p["version"] == "TLSv1.2")
    des3 = _suite("DES-CBC3-SHA").model_dump(mode="json")
    tls12["suites"].append(des3)
    tls12["legacy_suites"] |= {
        "refused": False,
        "failure": None,
        "accepted": ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
    }
    ciphers = _evaluate(bundle, "transport.cipher_suites")
    assert ciphers.status is Status.FAIL
    (offender,) = ciphers.evidence["offenders"]
    assert offender["suite"] == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert offender["reasons"] == [
        "legacy: 3DES",
        "RSA key exchange without forward secrecy",
        "not AEAD",
    ]
    outcome = ciphers.evidence["legacy_suites_tested"]["TLSv1.2"]["outcome"]
    assert outcome == "accepted: TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    # The local OpenSSL cannot expand 3DES: that is no settings/server disagreement.
    assert "accepted_beyond_ssl_ciphers" not in ciphers.evidence


def test_saved_facts_from_before_the_legacy_probe_say_what_was_not_tested(
    main_run: tuple[ScanResults, list[Facts]],
) -> None:
    bundle = _good_bundle(main_run)
    tls = bundle["sections"]["tls"]
    del tls["not_tested"]
    tls["protocols"] = [p for p in tls["protocols"] if p["version"] != "SSLv3"]
    for p in tls["protocols"]:
        p.pop("legacy_suites", None)
    ciphers = _evaluate(bundle, "transport.cipher_suites")
    assert ciphers.status is Status.PASS
    assert "legacy_suites_tested" not in ciphers.evidence
    assert ciphers.evidence["not_tested"] == [
        "SSLv2, SSLv3 (not probed)",
        "TLSv1.2: suites the system OpenSSL cannot offer (3DES, RC4, DES, IDEA, SEED, RC2, "
        "EXPORT, static DH/ECDH)",
    ]


def test_unusable_sslrootcert_is_an_error_not_a_failing_server(
    compliant: Cluster, tmp_path: Path
) -> None:
    garbage = tmp_path / "not-a-ca.pem"
    garbage.write_text("this is no certificate\n")
    missing = tmp_path / "missing-ca.pem"
    results = _scan(
        target("missing", compliant.dsn("auditor", sslmode="require", sslrootcert=str(missing))),
        target("garbage", compliant.dsn("auditor", sslmode="require", sslrootcert=str(garbage))),
        target("good", compliant.dsn("auditor")),
    )
    gone = _one(_by_id(results, "missing"), "transport.certificate_trust")
    assert gone.status is Status.ERROR
    assert f"cannot read root certificates from {missing}: No such file" in gone.message
    assert "fix the target's sslrootcert" in gone.message
    junk = _one(_by_id(results, "garbage"), "transport.certificate_trust")
    assert junk.status is Status.ERROR and f"{garbage} holds no PEM certificate" in junk.message
    # The same server with its real CA passes: the error was the scanner's setup.
    assert _one(_by_id(results, "good"), "transport.certificate_trust").status is Status.PASS
