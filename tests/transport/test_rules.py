"""Pure rules of the transport layer: libpq host-name matching, TLS profiles, suite facts."""

from __future__ import annotations

import pytest

from auditor.policy import Policy
from auditor.tls.hostname import dns_name_matches, match_host
from auditor.tls.profiles import profile_for, version_rank
from auditor.tls.sslyze_scan import legacy_only_suites
from auditor.tls.suites import iana_name, legacy_families, legacy_properties, properties


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("db.example.com", "DB.Example.com", True),
        ("*.example.com", "db.example.com", True),
        ("*.example.com", "a.db.example.com", False),  # one label only
        ("*.example.com", "example.com", False),
        ("*.example.com", ".example.com", False),
        ("db*.example.com", "db1.example.com", False),  # only a whole leftmost label
        ("db.example.com.", "db.example.com", True),
    ],
)
def test_dns_names_match_like_libpq(pattern: str, host: str, expected: bool) -> None:
    assert dns_name_matches(pattern, host) is expected


def test_common_name_is_ignored_when_a_san_of_the_hosts_type_exists() -> None:
    found = match_host("db.example.com", ("other.example.com",), (), "db.example.com")
    assert not found.matches
    assert found.detail == (
        "db.example.com is not named by the certificate (it names DNS:other.example.com)"
    )
    # No DNS SAN at all: libpq falls back to the CN.
    assert match_host("db.example.com", (), ("10.0.0.5",), "db.example.com").matches


def test_ip_hosts_match_ip_sans_only_by_address() -> None:
    assert match_host("127.0.0.1", ("localhost",), ("127.0.0.1",), None).detail == (
        "subjectAltName IP:127.0.0.1 matches 127.0.0.1"
    )
    assert match_host("::1", (), ("0:0:0:0:0:0:0:1",), None).matches
    assert not match_host("127.0.0.2", ("localhost",), ("127.0.0.1",), "127.0.0.2").matches


def test_profiles_are_data_and_custom_lists_accept_openssl_names() -> None:
    intermediate = profile_for(Policy())
    assert intermediate.protocols == ("TLSv1.2", "TLSv1.3")
    assert intermediate.allows_suite("ECDHE-RSA-AES128-GCM-SHA256")
    assert not intermediate.allows_suite("TLS_RSA_WITH_AES_256_GCM_SHA384")
    modern = profile_for(Policy(tls_profile="modern"))
    assert modern.protocols == ("TLSv1.3",)
    assert not modern.allows_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    custom = profile_for(Policy(tls_profile="custom", allowed_cipher_suites=("AES256-GCM-SHA384",)))
    assert custom.cipher_suites == frozenset({"TLS_RSA_WITH_AES_256_GCM_SHA384"})
    assert profile_for(Policy(min_tls_version="TLSv1.3")).protocols == ("TLSv1.3",)


def test_suite_properties_come_from_openssl() -> None:
    gcm = properties("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    assert gcm is not None and gcm.openssl_name == "ECDHE-RSA-AES256-GCM-SHA384"
    assert (gcm.forward_secrecy, gcm.aead, gcm.code) == (True, True, 0xC030)
    cbc = properties("AES128-SHA")
    assert cbc is not None and (cbc.forward_secrecy, cbc.aead) == (False, False)
    assert cbc.min_version == "TLSv1"
    anon = properties("ADH-AES256-GCM-SHA384")
    assert anon is not None and anon.anonymous
    assert iana_name("TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"


def test_legacy_only_suites_are_named_and_explained() -> None:
    names = legacy_only_suites()
    assert {"DES-CBC3-SHA", "RC4-SHA", "IDEA-CBC-SHA", "SEED-SHA", "EXP-RC4-MD5"} <= set(names)
    assert not any(properties(n) for n in names)  # the system OpenSSL has none of them
    for name in names:
        assert legacy_families(name), name  # every one is legacy for a stated reason
        props = legacy_properties(name)
        assert props is not None and props.iana_name.startswith("TLS_"), name
    assert legacy_families("EXP-RC4-MD5") == ("EXPORT", "RC4")
    assert legacy_families("ECDH-RSA-NULL-SHA") == ("NULL", "static DH/ECDH")
    rc4 = legacy_properties("ECDHE-RSA-RC4-SHA")
    assert rc4 is not None and (rc4.key_exchange, rc4.forward_secrecy, rc4.aead) == (
        "ecdhe",
        True,
        False,
    )
    static = legacy_properties("ECDH-ECDSA-AES128-GCM-SHA256")
    assert static is not None and (static.forward_secrecy, static.aead) == (False, True)
    assert version_rank("SSLv3") < version_rank("TLSv1") < version_rank("TLSv1.3")
