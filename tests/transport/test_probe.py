"""The gentle probe against real servers: what it sees, and how little it costs the server."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from auditor.lab.cluster import Cluster
from auditor.tls.facts import TlsFacts
from auditor.tls.probe import ProbeRequest, probe
from auditor.tls.sslyze_scan import SslyzeClient, legacy_client_suites, legacy_only_suites
from auditor.tls.starttls import Endpoint, Unreachable
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


def _assert_legacy_refused(facts: TlsFacts, versions: list[str]) -> None:
    """Each accepted version had its one legacy bulk handshake, refused by alert (these servers
    run OpenSSL 3, which has none of those suites); SSLv3 was tried and refused."""
    tested = {p.version: p.legacy_suites for p in facts.protocols if p.legacy_suites}
    assert sorted(tested) == sorted(versions)
    for legacy in tested.values():
        assert legacy is not None
        assert legacy.refused and legacy.complete and legacy.accepted == ()
        assert legacy.offered == len(legacy_only_suites()) > 60
        assert {"3DES", "RC4", "DES", "IDEA", "SEED", "EXPORT"} <= set(legacy.families)
        assert legacy.failure and legacy.failure.startswith("handshake refused: TLS alert")
    assert not any(s.legacy_families for p in facts.protocols for s in p.suites)
    sslv3 = facts.protocol("SSLv3")
    assert sslv3 is not None and not sslv3.accepted and sslv3.suites == ()
    assert facts.not_tested == ("SSLv2 (not probed)",)
    assert {"legacy_suites", "sslv3", "certificate_chain"} <= set(facts.sslyze_commands)


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
    assert set(refused) == {"SSLv3", "TLSv1", "TLSv1.1"}
    assert all(f and f.startswith("handshake refused") for f in refused.values())
    assert _suites(facts) == COMPLIANT_SUITES
    assert all(p.suites_complete for p in facts.protocols)
    _assert_legacy_refused(facts, ["TLSv1.2"])
    leaf = facts.leaf
    assert leaf is not None and leaf.key_type == "rsa" and leaf.key_bits == 2048
    assert leaf.san_dns == ("localhost",) and leaf.san_ip == ("127.0.0.1",)
    assert leaf.signature_hash == "sha256" and not leaf.self_signed
    assert facts.trust is not None and facts.trust.chain_valid and facts.trust.hostname_matches
    # Gentle: log_connections is on here, so every connection costs a line; still far from
    # the ~850 of a full sslyze enumeration. Measured: 16 handshakes (5 through sslyze:
    # 3 for TLS 1.3 suites and the chain, 1 legacy bulk, 1 SSLv3; 1 verifying the chain as
    # libpq does), 26 lines.
    assert facts.handshakes <= 16, facts.handshakes
    assert lines <= 30, lines


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
    _assert_legacy_refused(facts, ["TLSv1", "TLSv1.1", "TLSv1.2"])
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


def test_wide_open_server_costs_at_most_100_log_lines(wide_open: Cluster) -> None:
    # The worst case (benchmarks/tls_probe.py): every version, every suite, log_connections on.
    facts, lines = _probe(wide_open)
    assert facts.accepted_versions() == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert all(p.suites_complete for p in facts.protocols)
    tls12 = facts.protocol("TLSv1.2")
    assert tls12 is not None and len(tls12.suites) > 50
    _assert_legacy_refused(facts, ["TLSv1", "TLSv1.1", "TLSv1.2"])
    # Measured: 72 handshakes, 81 lines (72 "connection received" + 9 refusals).
    assert lines <= 100, lines


@pytest.fixture()
def hello_capture() -> Iterator[tuple[int, list[bytes]]]:
    """A fake PostgreSQL that answers the SSLRequest with 'S', keeps each ClientHello record
    and hangs up: what the legacy client really offers, byte for byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    hellos: list[bytes] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(2)
                    conn.recv(8)
                    conn.sendall(b"S")
                    head = conn.recv(5, socket.MSG_WAITALL)
                    body = conn.recv(int.from_bytes(head[3:5], "big"), socket.MSG_WAITALL)
                    hellos.append(head + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1]), hellos
    listener.close()
    thread.join(2)


def _offer(record: bytes) -> tuple[int, set[int]]:
    """(client_version, cipher suite codes) of a ClientHello record."""
    assert record[0] == 0x16 and record[5] == 0x01  # handshake record, ClientHello
    hello = record[9:]
    version = int.from_bytes(hello[0:2], "big")
    at = 2 + 32 + 1 + hello[34]  # version, random, session id
    size = int.from_bytes(hello[at : at + 2], "big")
    codes = hello[at + 2 : at + 2 + size]
    return version, {int.from_bytes(codes[i : i + 2], "big") for i in range(0, size, 2)}


def test_legacy_bulk_handshake_really_offers_the_legacy_suites(
    hello_capture: tuple[int, list[bytes]],
) -> None:
    port, hellos = hello_capture
    client = SslyzeClient(Endpoint("127.0.0.1", port, 2.0, "127.0.0.1"))
    bulk = client.handshake("TLSv1.2", legacy_only_suites(), legacy=True)
    sslv3 = client.handshake("SSLv3", None, legacy=True)
    # A hang-up is not a refusal: nothing may be concluded from it.
    assert not bulk.accepted and not bulk.refused
    assert not sslv3.accepted and not sslv3.refused
    version, offered = _offer(hellos[0])
    assert version == 0x0303
    # 3DES, RC4, DES, IDEA, SEED, EXPORT RC4/RC2/DES40, static ECDH NULL: none of which the
    # system OpenSSL can send.
    legacy = {0x000A, 0x0005, 0x0004, 0x0009, 0x0007, 0x0096, 0x0003, 0x0006, 0x0008, 0xC001}
    assert legacy <= offered
    assert 0xC02F not in offered and 0x009C not in offered  # nothing the main probe offers
    sslv3_version, sslv3_offer = _offer(hellos[1])
    assert sslv3_version == 0x0300 and {0x000A, 0x0005, 0x002F} <= sslv3_offer
    assert len(legacy_client_suites()) > len(legacy_only_suites())
