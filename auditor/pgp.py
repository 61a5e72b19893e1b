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


# Base64 characters that carry HEAD_BYTES bytes: decoding more of a long value is wasted work
# (the sampler analyses every value, so the per-value cost decides how many tables fit in
# the sampling budget).
_HEAD_CHARS = -(-HEAD_BYTES // 3) * 4


# The shortest text that can hold a message: `parse` needs 7 bytes at least (a 2-byte SKESK
# header, its 4-byte body, a 1-byte data packet header), 16 characters as hex ("\\x" and 14
# digits); base64 is tried from 16 characters and armor is longer. Codes, names and numbers
# are turned away here without a pattern.
_SHORTEST_TEXT = 16


def to_bytes(value: object) -> tuple[bytes, str] | None:
    """The OpenPGP bytes a stored value may carry (its first HEAD_BYTES at least: enough for
    every header `parse` reads), with the encoding they came in."""
    if not isinstance(value, str):  # text first: it is most of what is sampled
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes | bytearray):
            return bytes(value), "bytea"
        return None
    text = value.strip()
    if len(text) < _SHORTEST_TEXT:
        return None
    # Quick rejects by the first character: armor starts with '-', hex with '\\', and base64
    # with neither (most plaintext is turned away by the base64 pattern's first mismatch).
    first = text[:1]
    if first == "-":
        return _dearmor(text) if text.startswith(ARMOR_BEGIN) else None
    if first == "\\":
        return (bytes.fromhex(text[2:]), "hex") if _HEX_TEXT.match(text) else None
    if len(text) >= 16 and _BASE64_TEXT.match(text):
        compact = "".join(text.split()) if "\n" in text or "\r" in text else text
        compact = compact[:_HEAD_CHARS] if len(compact) > _HEAD_CHARS else compact
        # A truncated sample still decodes when cut to whole 4-character groups.
        compact = compact[: len(compact) - len(compact) % 4]
        try:
            return binascii.a2b_base64(compact, strict_mode=True), "base64"
        except (binascii.Error, ValueError):
            return None
    return None


def _dearmor(text: str) -> tuple[bytes, str] | None:
    body: list[str] = []
    size = 0
    in_headers = True
    for line in text.splitlines()[1:]:
        line = line.strip()
        if in_headers:
            # Armor headers ("Key: value") end at the first empty line.
            if not line:
                in_headers = False
            elif ":" not in line:
                in_headers = False
                body.append(line)
                size += len(line)
            continue
        if line.startswith(("=", "-----")):
            break
        body.append(line)
        size += len(line)
        if size >= _HEAD_CHARS:  # the headers are in the first bytes: stop reading there
            break
    compact = "".join(body)
    compact = compact[: len(compact) - len(compact) % 4]
    try:
        return binascii.a2b_base64(compact, strict_mode=True), "armor"
    except (binascii.Error, ValueError):
        return None


# A packet header: (tag, body_start, body_len); body_len is the first chunk's when partial
# lengths are used. Plain tuples: this runs for every sampled value.
_Packet = tuple[int, int, int]
_OLD_LENGTH_BYTES = (1, 2, 4)


def _packet(data: bytes, pos: int) -> _Packet | None:
    """Parse one packet header at `pos` (old or new format)."""
    end = len(data)
    if pos >= end:
        return None
    first = data[pos]
    if not first & 0x80:
        return None
    if first & 0x40:  # new format
        tag = first & 0x3F
        if pos + 1 >= end:
            return None
        o1 = data[pos + 1]
        if o1 < 192:
            return tag, pos + 2, o1
        if o1 < 224:
            if pos + 2 >= end:
                return None
            return tag, pos + 3, ((o1 - 192) << 8) + data[pos + 2] + 192
        if o1 == 255:
            if pos + 5 >= end:
                return None
            return tag, pos + 6, int.from_bytes(data[pos + 2 : pos + 6], "big")
        return tag, pos + 2, 1 << (o1 & 0x1F)  # partial body length
    tag = (first >> 2) & 0x0F
    kind = first & 0x03
    if kind == 3:  # indeterminate length: the rest of the data
        return tag, pos + 1, end - pos - 1
    size = _OLD_LENGTH_BYTES[kind]
    if pos + size >= end:
        return None
    return tag, pos + 1 + size, int.from_bytes(data[pos + 1 : pos + 1 + size], "big")


# Messages differ in their bytes, not in what their headers say: one PgpMessage per distinct
# header reading (a handful per database) instead of one per sampled value. Labels only.
_MESSAGES: dict[tuple[str, int, int, int, int | None, int, bool], PgpMessage] = {}
_NEEDED = {0: 4, 1: 12, 3: 13}  # SKESK bytes each S2K mode needs


def parse(data: bytes, encoding: str = "bytea") -> PgpMessage | None:
    """The symmetric message in `data` (maybe only its head), or None when it is not one."""
    if not data or not data[0] & 0x80:  # quick reject: not a packet header at all
        return None
    skesk = _packet(data, 0)
    if skesk is None:
        return None
    tag, b, body_len = skesk
    if tag != TAG_SKESK or body_len < 4:
        return None
    head = data[b : b + body_len]
    if len(head) < 4 or head[0] != 4:  # only version 4 SKESK is defined for this use
        return None
    cipher_id, mode_id, hash_id = head[1], head[2], head[3]
    count: int | None = None
    needed = _NEEDED.get(mode_id)
    if needed is None or len(head) < needed:
        return None
    if mode_id == 3:
        c = head[12]
        count = (16 + (c & 15)) << ((c >> 4) + 6)
    data_packet = _packet(data, b + body_len)
    if data_packet is None or data_packet[0] not in (TAG_SED, TAG_SEIPD):
        return None
    data_tag, start, _ = data_packet
    if data_tag == TAG_SEIPD:
        if start >= len(data) or data[start] != 1:
            return None
        start += 1
    exposed = _readable_after_prefix(data, start, BLOCK_BYTES.get(cipher_id, 16))
    key = (encoding, cipher_id, mode_id, hash_id, count, data_tag, exposed)
    message = _MESSAGES.get(key)
    if message is None:
        message = PgpMessage(
            encoding=encoding,
            cipher=CIPHERS.get(cipher_id, f"unknown({cipher_id})"),
            s2k_mode=S2K_MODES.get(mode_id, f"unknown({mode_id})"),
            s2k_digest=HASHES.get(hash_id, f"unknown({hash_id})"),
            s2k_count=count,
            integrity="mdc" if data_tag == TAG_SEIPD else "none",
            plaintext_exposed=exposed,
        )
        if len(_MESSAGES) < 4096:  # bounded whatever the ids a hostile column holds
            _MESSAGES[key] = message
    return message


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
    tag, body_start, _ = inner
    body = data[body_start : body_start + 2]
    if tag == TAG_LITERAL:
        return len(body) >= 1 and body[0] in b"btum1"
    if tag == TAG_COMPRESSED:
        return len(body) >= 1 and body[0] in (0, 1, 2, 3)
    return False


def inspect_value(value: object) -> PgpMessage | None:
    """Parse a stored value in any of the encodings pgcrypto users store."""
    found = to_bytes(value)
    if found is None:
        return None
    return parse(found[0], found[1])


def fixed_in(version_num: int) -> bool | None:
    """Whether this server release has the pgcrypto bf/cast5 fix (None: unknown branch)."""
    major, minor = divmod(version_num, 10000)
    fixed = {15: 19, 16: 15, 17: 11, 18: 6}.get(major)
    if fixed is None:
        # Later majors ship the fix; for older ones the advisory gives no release.
        return True if major > 18 else None
    return minor >= fixed
