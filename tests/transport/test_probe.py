"""The gentle probe against real servers: what it sees, and how little it costs the server."""

from __future__ import annotations

import re
import time

import pytest

from auditor.lab.cluster import Cluster
from auditor.tls.facts import TlsFacts
from auditor.tls.probe import ProbeRequest, probe
from auditor.tls.starttls import Unreachable
from tests.transport.conftest import log_lines

COMPLIANT_SUITES = {
    "TLSv1.2": {
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    },
    "TLSv1.3": {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
}
WEAK_OLD_SUITES = {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"}
WEAK_SUITES = {
    "TLSv1": WEAK_OLD_SUITES,
    "TLSv1.1": WEAK_OLD_SUITES,
    "TLSv1.2": WEAK_OLD_SUITES
    | {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"},
}


def _suites(facts: TlsFacts) -> dict[str, set[str]]:
    return {p.version: {s.iana_name for s in p.suites} for p in facts.protocols if p.accepted}


def _probe(cluster: Cluster) -> tuple[TlsFacts, int]:
    """Probe the cluster; also return how many lines the probe added to its server log."""
    before = log_lines(cluster)
    assert cluster.certs is not None
    facts = probe(ProbeRequest("localhost", cluster.port, 5.0, cluster.certs.ca_cert))
    time.sleep(0.2)  # the server writes its last lines after we hang up
    return facts, log_lines(cluster) - before


def test_compliant_server_versions_suites_and_certificate(compliant: Cluster) -> None:
    facts, lines = _probe(compliant)
    assert facts.ssl_request_answer == "S"
    assert facts.accepted_versions() == ["TLSv1.2", "TLSv1.3"]
    refused = {p.version: p.failure for p in facts.protocols if not p.accepted}
    assert set(refused) == {"TLSv1", "TLSv1.1"}
    assert all(f and f.startswith("handshake refused") for f in refused.values())
    assert _suites(facts) == COMPLIANT_SUITES
    assert all(p.suites_complete for p in facts.protocols)
    leaf = facts.leaf
    assert leaf is not None and leaf.key_type == "rsa" and leaf.key_bits == 2048
    assert leaf.san_dns == ("localhost",) and leaf.san_ip == ("127.0.0.1",)
    assert leaf.signature_hash == "sha256" and not leaf.self_signed
    assert facts.trust is not None and facts.trust.chain_valid and facts.trust.hostname_matches
    # Gentle: log_connections is on here, so every connection costs a line; still far from
    # the ~850 of a full sslyze enumeration.
    assert facts.handshakes <= 12
    assert lines <= 40, lines


def test_weak_server_old_versions_and_weak_suites(weak: Cluster) -> None:
    facts, lines = _probe(weak)
    assert facts.accepted_versions() == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    assert _suites(facts) == WEAK_SUITES
    by_name = {s.iana_name: s for p in facts.protocols for s in p.suites}
    rsa = by_name["TLS_RSA_WITH_AES_256_GCM_SHA384"]
    assert (rsa.key_exchange, rsa.forward_secrecy, rsa.aead) == ("rsa", False, True)
    cbc = by_name["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"]
    assert (cbc.forward_secrecy, cbc.aead, cbc.code) == (True, False, "0xc014")
    old = facts.protocol("TLSv1")
    assert old is not None and old.suites_inferred and old.suites_complete
    leaf = facts.leaf
    assert leaf is not None and leaf.days_left < 0 and leaf.san_dns == ("db.example.com",)
    assert facts.trust is not None and not facts.trust.hostname_matches
    assert lines <= 60, lines


def test_weak_certificate_server(weak_cert: Cluster) -> None:
    facts, _ = _probe(weak_cert)
    leaf = facts.leaf
    assert leaf is not None
    assert (leaf.key_bits, leaf.signature_hash, leaf.self_signed) == (1024, "sha1", True)
    assert facts.trust is not None and not facts.trust.chain_valid


def test_ssl_off_answers_n_without_any_handshake(ssl_off: Cluster) -> None:
    facts = probe(ProbeRequest("localhost", ssl_off.port, 5.0))
    assert facts.ssl_request_answer == "N"
    assert facts.protocols == () and not facts.tls_works
    assert "answered 'N'" in facts.no_tls_reason()


def test_server_hanging_up_mid_handshake(hang_up_port: int) -> None:
    facts = probe(ProbeRequest("127.0.0.1", hang_up_port, 2.0))
    assert facts.ssl_request_answer == "S" and not facts.tls_works
    assert re.search(
        r"server (closed|reset) the connection during the handshake", facts.no_tls_reason()
    )
    assert facts.certificate_chain == ()


def test_unreachable_port_is_one_clear_line(closed_port: int) -> None:
    with pytest.raises(
        Unreachable,
        match=rf"cannot connect to 127\.0\.0\.1:{closed_port}: "
        "Connection refused",
    ):
        probe(ProbeRequest("127.0.0.1", closed_port, 2.0))
