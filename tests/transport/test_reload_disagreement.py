"""A failed SSL reload: SHOW reports the new settings while the old TLS setup stays live.

The probe is the truth; the checks must say that the settings and the server disagree rather
than trusting `ssl_min_protocol_version` or `ssl_ciphers`.
"""

from __future__ import annotations

import time
from pathlib import Path

from auditor.lab.cluster import Variant
from auditor.model import Status
from auditor.runner import run_scan
from tests.conftest import PG_VARIANTS, ClusterFactory
from tests.transport.conftest import config_text, target


def test_failed_ssl_reload_is_reported_as_a_disagreement(start_cluster: ClusterFactory) -> None:
    cluster = start_cluster(
        Variant(
            name="transport-reload",
            settings="ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'HIGH:@SECLEVEL=0'\n",
            seed_sql=(PG_VARIANTS / "transport-compliant" / "seed.sql").read_text(),
        )
    )
    with cluster.admin_connection(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2'")
        conn.execute("ALTER SYSTEM SET ssl_ciphers = 'ECDHE+AESGCM'")
        # A certificate file that cannot be loaded makes the whole SSL reload fail.
        conn.execute("ALTER SYSTEM SET ssl_cert_file = '/nonexistent/server.crt'")
    cluster.reload()
    deadline = time.monotonic() + 5
    while "SSL configuration was not reloaded" not in cluster.log_text():
        assert time.monotonic() < deadline, "the server did not try the reload"
        time.sleep(0.1)

    results, _ = run_scan(
        config_text(target("reload", cluster.dsn("auditor"))),
        Path.cwd(),
        check_ids={"transport.tls_min_version", "transport.cipher_suites"},
    )
    ciphers, result = results.findings
    assert result.status is Status.FAIL
    auto_conf = cluster.datadir / "postgresql.auto.conf"
    assert result.evidence["ssl_min_protocol_version"]["value"] == "TLSv1.2"
    assert result.evidence["ssl_min_protocol_version"]["source"].startswith(str(auto_conf))
    assert result.evidence["accepted_versions"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert "the live server accepts TLSv1, TLSv1.1 (policy: TLSv1.2+)" in result.message
    assert "disagrees with the live server" in result.message
    # The live server accepts old versions, the setting allows none: two separate statements.
    assert result.evidence["live_accepts_below_floor"] == ["TLSv1", "TLSv1.1"]
    assert result.evidence["setting_allows_below_floor"] == []
    assert "the setting allows nothing below TLSv1.2: ssl_min_protocol_version = TLSv1.2" in (
        result.message
    )

    assert ciphers.check_id == "transport.cipher_suites" and ciphers.status is Status.FAIL
    assert ciphers.evidence["ssl_ciphers"]["value"] == "ECDHE+AESGCM"
    beyond = ciphers.evidence["accepted_beyond_ssl_ciphers"]
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in beyond
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" not in beyond
    assert "SHOW and the live server disagree" in ciphers.message
