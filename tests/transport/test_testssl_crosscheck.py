"""Cross-check with an independent implementation: testssl.sh (`--starttls postgres`) must see
the same accepted protocols and suites as the gentle probe.
"""

from __future__ import annotations

import pytest

from auditor.lab.cluster import Cluster
from auditor.tls.crosscheck import find_testssl, probe_view, run_testssl
from auditor.tls.probe import ProbeRequest, probe

pytestmark = [
    pytest.mark.slow,  # testssl.sh tries ~370 suites one by one: ~20 s per server
    pytest.mark.skipif(find_testssl() is None, reason="testssl.sh is not installed"),
]


def test_testssl_sees_what_the_probe_sees(weak: Cluster) -> None:
    # The weak server is the telling one: three versions and suites of every kind. (The
    # benchmark compares the compliant server too.)
    view = run_testssl("127.0.0.1", weak.port)
    protocols, suites = probe_view(probe(ProbeRequest("localhost", weak.port, 5.0)))
    assert view.protocols == protocols == {"TLSv1", "TLSv1.1", "TLSv1.2"}
    assert view.suites == suites
    assert suites == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
    }


def test_testssl_agrees_on_the_compliant_server_with_tls13(compliant: Cluster) -> None:
    # TLS 1.3 suites come from another path of the probe (sslyze's connection class).
    view = run_testssl("127.0.0.1", compliant.port)
    protocols, suites = probe_view(probe(ProbeRequest("localhost", compliant.port, 5.0)))
    assert view.protocols == protocols == {"TLSv1.2", "TLSv1.3"}
    assert view.suites == suites
    assert {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} <= suites
