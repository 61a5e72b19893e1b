"""Cipher suites named worst first by class, legacy asks that are not offered, TLS 1.3 advice
by PostgreSQL version, and the two separate statements of transport.tls_min_version - all on
real servers, both sides."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.lab.cluster import Cluster, Variant
from auditor.model import Result, Status
from auditor.runner import run_scan
from tests.conftest import PG_VARIANTS, ClusterFactory
from tests.transport.conftest import config_text, target

# One suite of each class, plus the legacy words of PostgreSQL 15's default ssl_ciphers.
EVERY_CLASS = (
    "ssl_ciphers = 'ECDHE-RSA-NULL-SHA:AECDH-AES128-SHA:AES128-GCM-SHA256:"
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-ARIA128-GCM-SHA256:"
    "ECDHE-RSA-AES128-GCM-SHA256:MEDIUM:+3DES:@SECLEVEL=0'\n"
)
# Mozilla intermediate without the TLS 1.3 ChaCha20 suite: PostgreSQL 15 cannot drop it.
NO_TLS13_CHACHA = (
    "  tls_profile: custom\n  allowed_cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, TLS_DHE_RSA_WITH_AES_256_GCM_SHA384, "
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384]\n"
)
TLS13_CONF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
"""


def _variant(name: str, extra: str) -> Variant:
    base = Variant.from_dir(PG_VARIANTS / "transport-compliant")
    return replace(base, name=name, settings=base.settings + extra)


def _one(cluster: Cluster, check_id: str, policy: str = "", **dsn: str) -> Result:
    results, _ = run_scan(
        config_text(target("db", cluster.dsn("auditor", **dsn)), policy=policy),
        Path.cwd(),
        workers=1,
        check_ids={check_id},
    )
    (only,) = results.findings
    return only


@pytest.fixture(scope="module")
def every_class(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster(_variant("transport-every-class", EVERY_CLASS))


def test_offenders_are_named_worst_class_first(every_class: Cluster) -> None:
    result = _one(every_class, "transport.cipher_suites")
    assert result.status is Status.FAIL
    classes = [o["class"] for o in result.evidence["offenders"]]
    # Each class once per version it is accepted in, never a better class before a worse one.
    order = list(dict.fromkeys(classes))
    assert order == [
        "no encryption (NULL cipher)",
        "anonymous (no server authentication)",
        "no forward secrecy (static RSA/DH/ECDH key exchange)",
        "CBC with a SHA-1 MAC",
        "CBC (not AEAD)",
        "merely outside the profile",
    ]
    first = result.evidence["offenders"][0]
    assert first["suite"] == "TLS_ECDHE_RSA_WITH_NULL_SHA"
    message = result.message
    assert message.index("no encryption (NULL cipher): TLS_ECDHE_RSA_WITH_NULL_SHA") < (
        message.index("anonymous (no server authentication): TLS_ECDH_anon_WITH_AES_128_CBC_SHA")
    )
    assert message.index("TLS_RSA_WITH_AES_128_GCM_SHA256") < message.index(
        "CBC with a SHA-1 MAC: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    )
    assert "merely outside the profile: TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256" in message
    # MEDIUM and +3DES are asked for, but OpenSSL 3 has no such suite to offer.
    assert "it asks for MEDIUM, +3DES but the live server offers no such suite" in message
    assert result.evidence["legacy_asked_in_ssl_ciphers"] == {"MEDIUM": [], "+3DES": []}


def test_compliant_server_has_no_offender_and_no_legacy_ask(compliant: Cluster) -> None:
    result = _one(compliant, "transport.cipher_suites")
    assert result.status is Status.PASS
    assert "legacy_asked_in_ssl_ciphers" not in result.evidence
    assert "asks for" not in result.message
    # TLS 1.3 is accepted: who controls its suites is in evidence, with the server version.
    tls13 = result.evidence["tls13_suites"]
    assert tls13["server_version"].startswith("15")
    assert "no setting controls TLS 1.3 suites" in tls13["controlled_by"]


def test_tls13_offender_on_postgresql_15_says_what_can_be_done(compliant: Cluster) -> None:
    result = _one(compliant, "transport.cipher_suites", policy=NO_TLS13_CHACHA)
    assert result.status is Status.FAIL
    (offender,) = result.evidence["offenders"]
    assert (offender["version"], offender["suite"]) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    assert "TLS 1.3: on PostgreSQL 15." in result.message
    assert "no setting controls TLS 1.3 suites (ssl_ciphers only affects TLS 1.2" in result.message
    assert "OPENSSL_CONF" in result.remediation and "ssl_tls13_ciphers" in result.remediation
    assert "Set ssl_ciphers" not in result.remediation  # ssl_ciphers cannot fix this one


def test_tls13_suites_set_through_openssl_conf_pass(start_cluster: ClusterFactory) -> None:
    # The remedy the message gives, applied: the postmaster reads an OpenSSL config that
    # lists the TLS 1.3 suites; the same policy then passes.
    folder = Path(tempfile.mkdtemp(prefix="auditor-tls13conf-"))
    folder.chmod(0o755)
    conf = folder / "tls13.cnf"
    conf.write_text(TLS13_CONF)
    conf.chmod(0o644)
    before = os.environ.get("OPENSSL_CONF")
    os.environ["OPENSSL_CONF"] = str(conf)
    try:
        cluster = start_cluster(_variant("transport-tls13-conf", ""))
    finally:
        if before is None:
            os.environ.pop("OPENSSL_CONF", None)
        else:
            os.environ["OPENSSL_CONF"] = before
    result = _one(cluster, "transport.cipher_suites", policy=NO_TLS13_CHACHA)
    assert result.status is Status.PASS, result.message
    assert set(result.evidence["accepted_suites"]["TLSv1.3"]) == {
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
    }


def test_setting_allows_old_versions_the_live_server_refuses(
    start_cluster: ClusterFactory,
) -> None:
    # AES-GCM suites exist only in TLS 1.2+: the setting allows TLS 1.0, the server cannot.
    cluster = start_cluster(
        _variant("transport-min-setting", "ssl_min_protocol_version = 'TLSv1'\n")
    )
    result = _one(cluster, "transport.tls_min_version")
    assert result.status is Status.FAIL
    assert result.evidence["live_accepts_below_floor"] == []
    assert result.evidence["setting_allows_below_floor"] == ["TLSv1", "TLSv1.1"]
    assert result.message.startswith(
        "the live server accepts nothing below TLSv1.2 (accepted: TLSv1.2, TLSv1.3); "
        "the setting allows TLSv1, TLSv1.1: ssl_min_protocol_version = TLSv1 ("
    )
    assert "not accepted live today" in result.message


def test_live_and_setting_both_or_neither(weak: Cluster, compliant: Cluster) -> None:
    # libpq refuses the weak server's certificate: the settings are read without TLS.
    both = _one(weak, "transport.tls_min_version", sslmode="disable")
    assert both.status is Status.FAIL
    assert both.evidence["live_accepts_below_floor"] == ["TLSv1", "TLSv1.1"]
    assert both.evidence["setting_allows_below_floor"] == ["TLSv1", "TLSv1.1"]
    assert both.message.startswith(
        "the live server accepts TLSv1, TLSv1.1 (policy: TLSv1.2+); "
        "the setting allows TLSv1, TLSv1.1: ssl_min_protocol_version = TLSv1 ("
    )
    neither = _one(compliant, "transport.tls_min_version")
    assert neither.status is Status.PASS
    assert neither.evidence["live_accepts_below_floor"] == []
    assert neither.evidence["setting_allows_below_floor"] == []
    assert neither.message.startswith(
        "the live server accepts nothing below TLSv1.2 (accepted: TLSv1.2, TLSv1.3); "
        "the setting allows nothing below TLSv1.2: ssl_min_protocol_version = TLSv1.2 ("
    )
