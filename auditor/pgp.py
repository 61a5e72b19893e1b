"""OpenPGP inspection of what pgcrypto's `pgp_sym_encrypt` stores: is a value a symmetric
OpenPGP message, with which cipher, string-to-key (S2K) setting and integrity protection?

Values come as bytea, base64 text (pgcrypto output passed through `encode(..., 'base64')`,
as the reference design's `encrypt_text` does), hex text (`\\x...`) or ASCII armor
(`armor()`). Only headers are parsed (RFC 4880 §4, §5.3, §5.7, §5.13): nothing is decrypted.

One failure is detected from the bytes alone: pgcrypto on OpenSSL 3 without the legacy
provider (unpatched 15 < 15.19, 16 < 16.15, 17 < 17.11, 18 < 18.6) "encrypts" with Blowfish
or CAST5 by copying the data, so the literal-data packet is readable right after a
valid-looking header. A real ciphertext's first block would decrypt to random bytes; here the
OpenPGP quick-check bytes repeat and a well-formed literal (or compressed) packet follows.

Nothing here raises on malformed input or keeps any part of a value: results are labels.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

CIPHERS = {
    1: "idea",
    2: "3des",
    3: "cast5",
    4: "blowfish",
    7: "aes128",
    8: "aes192",
    9: "aes256",
    10: "twofish",
}
# Block sizes decide the length of the random prefix of the encrypted data (RFC 4880 §5.7).
BLOCK_BYTES = {1: 8, 2: 8, 3: 8, 4: 8, 7: 16, 8: 16, 9: 16, 10: 16}
HASHES = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
S2K_MODES = {0: "simple", 1: "salted", 3: "iterated-salted"}

TAG_SKESK = 3
TAG_COMPRESSED = 8
TAG_SED = 9  # symmetrically encrypted data, no integrity protection
TAG_LITERAL = 11
TAG_SEIPD = 18  # symmetrically encrypted and integrity protected data (MDC)

ARMOR_BEGIN = "-----BEGIN PGP MESSAGE-----"
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/\r\n]+={0,2}\s*$")
_HEX_TEXT = re.compile(r"^\\x(?:[0-9a-fA-F]{2})+$")
# Bytes of a value worth reading: the SKESK packet plus the first data chunk's head.
HEAD_BYTES = 256


@dataclass(frozen=True)
class PgpMessage:
    """What the headers of one symmetric OpenPGP message say."""

    encoding: str  # bytea | base64 | hex | armor
    cipher: str  # aes256, cast5... or "unknown(<id>)"
    s2k_mode: str  # simple | salted | iterated-salted | unknown(<id>)
    s2k_digest: str
    s2k_count: int | None  # iterations of the iterated+salted S2K
    integrity: str  # "mdc" (tag 18) or "none" (tag 9)
    plaintext_exposed: bool  # the bf/cast5 failure: a readable packet where ciphertext belongs


def to_bytes(value: object) -> tuple[bytes, str] | None:
    """The OpenPGP bytes a stored value may carry, with the encoding they came in."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        return bytes(value), "bytea"
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith(ARMOR_BEGIN):
        return _dearmor(text)
    if _HEX_TEXT.match(text):
        return bytes.fromhex(text[2:]), "hex"
    if len(text) >= 16 and _BASE64_TEXT.match(text):
        compact = "".join(text.split())
        # A truncated sample still decodes when cut to whole 4-character groups.
        compact = compact[: len(compact) - len(compact) % 4]
        try:
            return base64.b64decode(compact, validate=True), "base64"
        except (binascii.Error, ValueError):
            return None
    return None


def _dearmor(text: str) -> tuple[bytes, str] | None:
    lines = text.splitlines()[1:]
    body: list[str] = []
    in_headers = True
    for line in lines:
        line = line.strip()
        if in_headers:
            # Armor headers ("Key: value") end at the first empty line.
            if not line:
                in_headers = False
            elif ":" not in line:
                in_headers = False
                body.append(line)
            continue
        if line.startswith("=") or line.startswith("-----"):
            break
        body.append(line)
    compact = "".join(body)
    compact = compact[: len(compact) - len(compact) % 4]
    try:
        return base64.b64decode(compact, validate=True), "armor"
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class _Packet:
    tag: int
    body_start: int
    body_len: int  # of the first chunk when partial lengths are used


def _packet(data: bytes, pos: int) -> _Packet | None:
    """Parse one packet header at `pos` (old or new format)."""
    if pos >= len(data):
        return None
    first = data[pos]
    if not first & 0x80:
        return None
    if first & 0x40:  # new format
        tag = first & 0x3F
        if pos + 1 >= len(data):
            return None
        o1 = data[pos + 1]
        if o1 < 192:
            return _Packet(tag, pos + 2, o1)
        if o1 < 224:
            if pos + 2 >= len(data):
                return None
            return _Packet(tag, pos + 3, ((o1 - 192) << 8) + data[pos + 2] + 192)
        if o1 == 255:
            if pos + 5 >= len(data):
                return None
            return _Packet(tag, pos + 6, int.from_bytes(data[pos + 2 : pos + 6], "big"))
        return _Packet(tag, pos + 2, 1 << (o1 & 0x1F))  # partial body length
    tag = (first >> 2) & 0x0F
    kind = first & 0x03
    size = {0: 1, 1: 2, 2: 4}.get(kind)
    if size is None:  # indeterminate length: the rest of the data
        return _Packet(tag, pos + 1, len(data) - pos - 1)
    if pos + size >= len(data):
        return None
    return _Packet(tag, pos + 1 + size, int.from_bytes(data[pos + 1 : pos + 1 + size], "big"))


def parse(data: bytes, encoding: str = "bytea") -> PgpMessage | None:
    """The symmetric message in `data` (maybe only its head), or None when it is not one."""
    skesk = _packet(data, 0)
    if skesk is None or skesk.tag != TAG_SKESK or skesk.body_len < 4:
        return None
    b = skesk.body_start
    head = data[b : b + skesk.body_len]
    if len(head) < 4 or head[0] != 4:  # only version 4 SKESK is defined for this use
        return None
    cipher_id, mode_id, hash_id = head[1], head[2], head[3]
    count: int | None = None
    needed = {0: 4, 1: 12, 3: 13}.get(mode_id)
    if needed is None or len(head) < needed:
        return None
    if mode_id == 3:
        c = head[12]
        count = (16 + (c & 15)) << ((c >> 4) + 6)
    data_packet = _packet(data, b + skesk.body_len)
    if data_packet is None or data_packet.tag not in (TAG_SED, TAG_SEIPD):
        return None
    start = data_packet.body_start
    if data_packet.tag == TAG_SEIPD:
        if start >= len(data) or data[start] != 1:
            return None
        start += 1
    return PgpMessage(
        encoding=encoding,
        cipher=CIPHERS.get(cipher_id, f"unknown({cipher_id})"),
        s2k_mode=S2K_MODES.get(mode_id, f"unknown({mode_id})"),
        s2k_digest=HASHES.get(hash_id, f"unknown({hash_id})"),
        s2k_count=count,
        integrity="mdc" if data_packet.tag == TAG_SEIPD else "none",
        plaintext_exposed=_readable_after_prefix(data, start, BLOCK_BYTES.get(cipher_id, 16)),
    )


def _readable_after_prefix(data: bytes, start: int, block: int) -> bool:
    """True when the "encrypted" data is the OpenPGP prefix followed by a clear packet.

    The prefix is `block` random bytes whose last two repeat (the quick check); after it a
    decryptor expects a literal or compressed packet. Seeing both in the stored bytes means
    the cipher never ran (about 1 in 2^16 * 2^8 for real ciphertext; the literal header's
    format byte and length consistency make it far rarer).
    """
    prefix_end = start + block
    if len(data) < prefix_end + 4:
        return False
    if data[prefix_end - 2 : prefix_end] != data[prefix_end : prefix_end + 2]:
        return False
    inner = _packet(data, prefix_end + 2)
    if inner is None:
        return False
    body = data[inner.body_start : inner.body_start + 2]
    if inner.tag == TAG_LITERAL:
        return len(body) >= 1 and body[0] in b"btum1"
    if inner.tag == TAG_COMPRESSED:
        return len(body) >= 1 and body[0] in (0, 1, 2, 3)
    return False


def inspect_value(value: object) -> PgpMessage | None:
    """Parse a stored value in any of the encodings pgcrypto users store."""
    found = to_bytes(value)
    if found is None:
        return None
    data, encoding = found
    return parse(data, encoding)


def fixed_in(version_num: int) -> bool | None:
    """Whether this server release has the pgcrypto bf/cast5 fix (None: unknown branch)."""
    major, minor = divmod(version_num, 10000)
    fixed = {15: 19, 16: 15, 17: 11, 18: 6}.get(major)
    if fixed is None:
        # Later majors ship the fix; for older ones the advisory gives no release.
        return True if major > 18 else None
    return minor >= fixed
