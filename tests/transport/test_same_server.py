"""The TLS probe judges the server the SQL session talks to: libpq's host/port rules.

A DSN whose netloc names one port while `?port=` names another, `PGPORT`, `?host=`, multi-host
lists and `hostaddr` all decide where libpq connects; the probe must go to the same place, and
a Unix-socket connection (no TLS) must not produce a TLS verdict.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from auditor.facts import Facts
from auditor.lab.cluster import ADMIN_PASSWORD, Cluster
from auditor.model import Result, ScanResults, Status, TargetStatus
from auditor.runner import run_scan
from auditor.tls.endpoints import (
    EndpointError,
    LibpqEndpoint,
    libpq_endpoints,
    selection_caveat,
)
from auditor.tls.facts import TlsFacts
from tests.conftest import AUDITOR_PASSWORD
from tests.transport.conftest import config_text, target

CHECKS = {
    "transport.ssl_enabled",
    "transport.tls_min_version",
    "transport.cipher_suites",
    "transport.certificate_trust",
}


# -- libpq's rules, without a server ------------------------------------------------------


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("PGHOST", "PGPORT", "PGHOSTADDR", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_query_parameters_override_the_netloc(clean_env: pytest.MonkeyPatch) -> None:
    assert libpq_endpoints("postgresql://u@wrong.example:1/db?host=db.internal&port=6543") == [
        LibpqEndpoint(host="db.internal", port=6543)
    ]


def test_environment_fills_what_the_dsn_leaves_out(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PGPORT", "6000")
    clean_env.setenv("PGHOST", "env-host")
    assert libpq_endpoints("postgresql://u@/db") == [LibpqEndpoint(host="env-host", port=6000)]
    # What the DSN does say wins over the environment.
    assert libpq_endpoints("postgresql://u@db:7000/db") == [LibpqEndpoint(host="db", port=7000)]


def test_multi_host_lists_and_hostaddr(clean_env: pytest.MonkeyPatch) -> None:
    assert libpq_endpoints("postgresql://u@a:1,b:2/db") == [
        LibpqEndpoint(host="a", port=1),
        LibpqEndpoint(host="b", port=2),
    ]
    assert libpq_endpoints("host=a,b hostaddr=10.0.0.1,10.0.0.2 port=5") == [
        LibpqEndpoint(host="a", port=5, address="10.0.0.1"),
        LibpqEndpoint(host="b", port=5, address="10.0.0.2"),
    ]
    # hostaddr alone: the address is also the name the certificate is checked against.
    assert libpq_endpoints("hostaddr=10.0.0.9") == [
        LibpqEndpoint(host="10.0.0.9", port=5432, address="10.0.0.9", host_named=False)
    ]


def test_unix_sockets_and_mismatched_lists(clean_env: pytest.MonkeyPatch) -> None:
    (socket,) = libpq_endpoints("postgresql://u@/db?host=/run/pg&port=5433")
    assert socket.socket_dir == "/run/pg" and socket.label == "Unix socket /run/pg/.s.PGSQL.5433"
    (default,) = libpq_endpoints("dbname=app")
    assert default.socket_dir is not None  # no host anywhere: libpq's default socket
    with pytest.raises(EndpointError, match="3 ports for 2 hosts"):
        libpq_endpoints("host=a,b port=1,2,3")


# -- on a real cluster ----------------------------------------------------------------------


def _scan(*targets: str) -> tuple[ScanResults, list[Facts]]:
    return run_scan(config_text(*targets), Path.cwd(), workers=2, check_ids=CHECKS)


def _found(results: ScanResults, name: str) -> dict[str, Result]:
    return {r.check_id: r for r in results.findings if r.target == name}


def _tls(bundles: list[Facts], name: str) -> TlsFacts:
    return next(b for b in bundles if b.target.name == name).get(TlsFacts)


def test_query_port_and_pgport_reach_the_sessions_server(
    compliant: Cluster, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compliant.certs is not None
    ca = compliant.certs.ca_cert
    monkeypatch.setenv("PGPORT", str(compliant.port))
    results, bundles = _scan(
        # The netloc's port is closed; libpq uses ?port= instead.
        target(
            "query-port",
            f"postgresql://auditor@localhost:{closed_port}/app?port={compliant.port}"
            f"&sslmode=verify-full&sslrootcert={ca}",
        ),
        # No port in the DSN: libpq takes PGPORT.
        target(
            "pgport", f"postgresql://auditor@localhost/app?sslmode=verify-full&sslrootcert={ca}"
        ),
        # The netloc names a host that does not resolve; ?host= is where libpq goes.
        target(
            "query-host",
            f"postgresql://auditor@nowhere.invalid:1/app?host=localhost&port={compliant.port}"
            f"&sslmode=verify-full&sslrootcert={ca}",
        ),
    )
    status = {t.name: t.status for t in results.targets}
    for name in ("query-port", "pgport", "query-host"):
        # The SQL session connected (libpq's choice) and the probe judged the same port.
        assert status[name] is TargetStatus.SCANNED, name
        tls = _tls(bundles, name)
        assert (tls.host, tls.port) == ("localhost", compliant.port), name
        found = _found(results, name)
        assert {r.status for r in found.values()} == {Status.PASS}, name
        assert found["transport.tls_min_version"].evidence["endpoint"] == (
            f"localhost:{compliant.port}"
        )


def test_multi_host_dsn_is_probed_where_libpq_connects(
    compliant: Cluster, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPORT", raising=False)
    assert compliant.certs is not None
    dsn = (
        f"postgresql://auditor@localhost:{closed_port},localhost:{compliant.port}/app"
        f"?sslmode=verify-full&sslrootcert={compliant.certs.ca_cert}"
    )
    results, bundles = _scan(target("multi", dsn))
    assert results.targets[0].status is TargetStatus.SCANNED
    tls = _tls(bundles, "multi")
    assert tls.port == compliant.port
    first, second = tls.attempts
    assert first.startswith(f"cannot connect to localhost:{closed_port}: ")
    assert second == f"localhost:{compliant.port}: probed (as libpq would use)"
    trust = _found(results, "multi")["transport.certificate_trust"]
    assert trust.status is Status.PASS
    assert trust.evidence["certificate"]["subject"] == "CN=localhost"


def test_unix_socket_gets_no_tls_verdict(
    compliant: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness superuser may log in over the socket, so the settings are read: ssl = on
    # must still not pass, since nothing about TLS was observed on this path.
    monkeypatch.setenv("AUDITOR_SOCKET_PW", ADMIN_PASSWORD)
    dsn = f"postgresql://postgres@/app?host={compliant.sockdir}&port={compliant.port}"
    results, _ = run_scan(
        config_text(target("socket", dsn).replace("AUDITOR_TEST_PW", "AUDITOR_SOCKET_PW")),
        Path.cwd(),
        workers=1,
        check_ids=CHECKS,
    )
    assert results.targets[0].status is TargetStatus.SCANNED
    found = _found(results, "socket")
    assert {r.status for r in found.values()} == {Status.SKIP}
    for result in found.values():
        assert f"Unix socket {compliant.sockdir}/.s.PGSQL.{compliant.port}" in result.message
        assert "where TLS does not apply" in result.message
    assert found["transport.ssl_enabled"].message.startswith("ssl = on (")


def test_session_attributes_that_may_change_libpqs_choice_are_named(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert selection_caveat("postgresql://u@a,b/db") is None
    assert selection_caveat("postgresql://u@a,b/db?target_session_attrs=any") is None
    caveat = selection_caveat(
        "postgresql://u@a,b/db?target_session_attrs=read-write&load_balance_hosts=random"
    )
    assert caveat == (
        "libpq also applies target_session_attrs=read-write and load_balance_hosts=random: "
        "the SQL session may use another of these hosts than the probed one"
    )


def test_hostaddr_without_host_fails_trust_as_libpq_refuses_it(compliant: Cluster) -> None:
    # The certificate names IP:127.0.0.1, but libpq's verify-full has no host name to check.
    assert compliant.certs is not None
    ca = compliant.certs.ca_cert
    with pytest.raises(psycopg.OperationalError, match="host name must be specified"):
        psycopg.connect(
            hostaddr="127.0.0.1",
            port=compliant.port,
            dbname="app",
            user="auditor",
            password=AUDITOR_PASSWORD,
            sslmode="verify-full",
            sslrootcert=str(ca),
        )
    results, _ = _scan(
        target(
            "addr-only",
            f"postgresql:///app?hostaddr=127.0.0.1&port={compliant.port}&user=auditor"
            f"&sslmode=verify-full&sslrootcert={ca}",
        )
    )
    trust = _found(results, "addr-only")["transport.certificate_trust"]
    assert trust.status is Status.FAIL
    assert trust.evidence["chain_valid"] is True
    assert "no host name was given, only hostaddr 127.0.0.1" in trust.message
    assert "host name must be specified for a verified SSL connection" in trust.message
