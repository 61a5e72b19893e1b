"""OpenPGP header inspection on real pgcrypto output (PostgreSQL 15 of the lab), including
the bf/cast5 failure this server really produces, and robustness on arbitrary bytes."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import pgp
from auditor.lab.cluster import Cluster

SECRET = "pgp-test-plaintext-value"


Encrypt = Callable[..., Any]


@pytest.fixture(scope="module")
def encrypt(design_cluster: Cluster) -> Iterator[Encrypt]:
    """pgp_sym_encrypt on the real server: options (and an SQL wrapper) -> stored value."""
    conn = design_cluster.admin_connection()

    def run(options: str, wrap: str = "%s") -> Any:
        query = "SELECT " + wrap % "pgp_sym_encrypt(%s, %s, %s)"
        row = conn.execute(query.encode(), (SECRET, "test-key", options)).fetchone()
        assert row is not None
        return row[0]

    yield run
    conn.close()


@pytest.mark.parametrize(
    ("options", "cipher", "mode", "digest", "integrity"),
    [
        ("cipher-algo=aes256", "aes256", "iterated-salted", "sha1", "mdc"),
        ("cipher-algo=aes128", "aes128", "iterated-salted", "sha1", "mdc"),
        (
            "cipher-algo=aes192, s2k-digest-algo=sha256",
            "aes192",
            "iterated-salted",
            "sha256",
            "mdc",
        ),
        ("cipher-algo=3des", "3des", "iterated-salted", "sha1", "mdc"),
        ("cipher-algo=aes256, s2k-mode=0", "aes256", "simple", "sha1", "mdc"),
        ("cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=md5", "aes256", "salted", "md5", "mdc"),
        ("cipher-algo=aes256, disable-mdc=1", "aes256", "iterated-salted", "sha1", "none"),
        ("cipher-algo=aes256, sess-key=1", "aes256", "iterated-salted", "sha1", "mdc"),
        ("cipher-algo=aes256, compress-algo=1", "aes256", "iterated-salted", "sha1", "mdc"),
    ],
)
def test_headers_of_real_pgcrypto_output(
    encrypt: Encrypt, options: str, cipher: str, mode: str, digest: str, integrity: str
) -> None:
    raw = encrypt(options)
    found = pgp.inspect_value(raw)
    assert found is not None
    assert (found.encoding, found.cipher, found.s2k_mode, found.s2k_digest, found.integrity) == (
        "bytea",
        cipher,
        mode,
        digest,
        integrity,
    )
    assert found.plaintext_exposed is False
    assert (found.s2k_count is not None) == (mode == "iterated-salted")


def test_text_encodings_are_recognised(encrypt: Encrypt) -> None:
    b64 = encrypt("cipher-algo=aes256", "encode(%s, 'base64')")
    armored = encrypt("cipher-algo=aes256", "armor(%s)")
    hex_text = encrypt("cipher-algo=aes256", "(%s)::text")
    assert isinstance(b64, str) and b64.startswith("ww0ECQMC")
    for value, encoding in ((b64, "base64"), (armored, "armor"), (hex_text, "hex")):
        found = pgp.inspect_value(value)
        assert found is not None and found.encoding == encoding and found.cipher == "aes256"
    # A sample truncated mid-value (the collector reads heads only) still parses.
    assert pgp.inspect_value(b64[:101]) is not None


@pytest.mark.parametrize("cipher", ["bf", "cast5"])
def test_bf_and_cast5_store_the_plaintext_on_this_server(encrypt: Encrypt, cipher: str) -> None:
    raw = bytes(encrypt(f"cipher-algo={cipher}"))
    # The server's real failure: the literal data is readable in the stored bytes.
    assert SECRET.encode() in raw
    found = pgp.parse(raw)
    assert found is not None and found.plaintext_exposed is True
    assert found.cipher == {"bf": "blowfish", "cast5": "cast5"}[cipher]


def test_real_ciphers_do_not_look_exposed(encrypt: Encrypt) -> None:
    for _ in range(30):
        for options in ("cipher-algo=aes256", "cipher-algo=3des"):
            raw = bytes(encrypt(options))
            assert SECRET.encode() not in raw
            found = pgp.parse(raw)
            assert found is not None and not found.plaintext_exposed


@pytest.mark.parametrize(
    "value",
    [
        "user@example.com",
        "",
        "ww0ECQMC",
        "SGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=",
        42,
        None,
        b"\xc3\x0d\x04\x09",
        b"\x8c",
        "\\xc30d0409",
        "-----BEGIN PGP MESSAGE-----\n\n!!!\n",
    ],
)
def test_non_messages_are_not_messages(value: object) -> None:
    assert pgp.inspect_value(value) is None


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    pgp.parse(data)
    pgp.inspect_value(data)
    pgp.inspect_value(base64.b64encode(data).decode())


@given(st.binary(min_size=4, max_size=200))
def test_valid_header_prefix_with_random_tail_never_raises(tail: bytes) -> None:
    pgp.parse(bytes.fromhex("c30d04090302") + bytes(8) + b"\x60" + tail)


# The shortest message parse accepts: a SKESK (version 4, AES-256, simple S2K, SHA-1) and an
# old-format data packet of indeterminate length, 7 bytes; as hex it is 16 characters.
SHORTEST = bytes([0xC3, 0x04, 0x04, 0x09, 0x00, 0x02, 0xA7])


def test_the_shortest_message_is_seen_in_its_shortest_text() -> None:
    hex_text = "\\x" + SHORTEST.hex()
    assert len(hex_text) == pgp._SHORTEST_TEXT
    found = pgp.inspect_value(hex_text)
    assert found is not None and (found.encoding, found.cipher) == ("hex", "aes256")
    assert pgp.inspect_value(hex_text[:-2]) is None
    assert all(pgp.parse(SHORTEST[:n]) is None for n in range(len(SHORTEST)))


@given(
    st.binary(max_size=6).map(
        lambda b: bytes(x if i else 0xC3 for i, x in enumerate(b))  # a SKESK tag first
    )
    | st.binary(max_size=6)
)
def test_nothing_shorter_than_the_shortest_message_parses(data: bytes) -> None:
    """Texts shorter than `_SHORTEST_TEXT` are turned away unparsed: no text that short can
    carry 7 bytes, and no fewer bytes make a message."""
    assert pgp.parse(data) is None


def test_fixed_releases() -> None:
    assert pgp.fixed_in(150018) is False
    assert pgp.fixed_in(150019) is True
    assert pgp.fixed_in(160014) is False and pgp.fixed_in(160015) is True
    assert pgp.fixed_in(170011) is True and pgp.fixed_in(180005) is False
    assert pgp.fixed_in(190000) is True
    assert pgp.fixed_in(140010) is None


def test_3des_really_encrypts_on_this_server(design_cluster: Cluster) -> None:
    """Unlike TLS (where this OpenSSL offers no 3DES suite), pgcrypto's 3DES works here: the
    value round-trips and its bytes do not hold the plaintext. cipher_strength flags it."""
    with design_cluster.admin_connection() as conn:
        row = conn.execute(
            "SELECT pgp_sym_encrypt(%s, 'k', 'cipher-algo=3des') AS ct, "
            "pgp_sym_decrypt(pgp_sym_encrypt(%s, 'k', 'cipher-algo=3des'), 'k') AS back",
            (SECRET, SECRET),
        ).fetchone()
    assert row is not None
    ct, back = bytes(row[0]), row[1]
    assert back == SECRET and SECRET.encode() not in ct
    found = pgp.parse(ct)
    assert found is not None and found.cipher == "3des" and not found.plaintext_exposed
