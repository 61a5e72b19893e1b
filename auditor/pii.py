"""Personal-data detectors for sampled plaintext, with validators that keep false positives
low, and the masks under which an example may appear in evidence.

A detector is a pattern plus a validator: card numbers must pass Luhn and start with an
issuer prefix, IBANs must have their country's length and BBAN format and pass mod 97
(python-stdnum), US SSNs must follow the SSA's area/group/serial rules and not be a number
known to be invalid (python-stdnum: 078-05-1120, 219-09-9999), phone numbers need a `+`
country code or the usual punctuation and must be valid for their numbering plan
(phonenumbers). That is why a SKU, a UUID, an order number or a price is not reported.
Values of `inet`/`cidr` columns that are host addresses are IP addresses, personal data
under the GDPR.

Raw values never leave this module: callers get kinds, masked examples and shapes.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stdnum import iban as stdnum_iban
from stdnum.us import ssn as stdnum_ssn

EMAIL = "email"
PHONE = "phone"
CARD = "card_number"
SSN = "us_ssn"
IBAN = "iban"
WALLET = "wallet_address"
IP = "ip_address"
KINDS = (CARD, EMAIL, PHONE, SSN, IBAN, WALLET, IP)

# Text outside a match must not continue a word, a number or a dashed code (SKU-123-45-6789).
_L = r"(?<![\w\-.@+])"
_R = r"(?![\w\-@]|\.\w)"

_EMAIL = re.compile(
    r"(?<![\w.+%-])([A-Za-z0-9._%+-]{1,64})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24})(?![\w-])"
)
_PHONE = re.compile(
    _L + r"(\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})" + _R
)
_CARD = re.compile(_L + r"(\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}|\d{13,19})" + _R)
_SSN = re.compile(_L + r"(\d{3})-(\d{2})-(\d{4})" + _R)
_IBAN = re.compile(r"(?<![\w])([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?!\w)")
_WALLET = re.compile(r"(?<![\w])(0x[0-9a-fA-F]{40})(?![0-9a-zA-Z])")
_NON_DIGIT = re.compile(r"\D")  # the complement of the patterns' \d (any Unicode digit)
_CARD_SEPARATORS = re.compile(r"[ -]")

# ISO 13616 lengths for the countries most likely to appear; others need 15..34 characters.
IBAN_LENGTHS = {
    "AD": 24,
    "AT": 20,
    "BE": 16,
    "BG": 22,
    "CH": 21,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "EE": 20,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GR": 27,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IS": 26,
    "IT": 27,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MT": 31,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "RO": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    """Issuer prefix and length of the major card brands (order numbers rarely have them)."""
    n = len(digits)
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 222100 <= six <= 272099:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925:
        return 16 <= n <= 19  # Discover
    if 3528 <= four <= 3589:
        return 16 <= n <= 19  # JCB
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19  # Diners Club
    if two == 62:
        return 16 <= n <= 19  # UnionPay
    return False


def card_ok(raw: str) -> bool:
    digits = _CARD_SEPARATORS.sub("", raw)
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    return _issuer_ok(digits) and luhn_ok(digits)


def ssn_ok(area: str, group: str, serial: str) -> bool:
    a = int(area)
    if a in (0, 666) or a >= 900 or group == "00" or serial == "0000":
        return False
    return bool(stdnum_ssn.is_valid(f"{area}-{group}-{serial}"))  # also its blacklist


def iban_ok(raw: str) -> bool:
    iban = raw.replace(" ", "")
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1 and bool(stdnum_iban.is_valid(iban))


def phone_ok(raw: str) -> bool:
    digits = _NON_DIGIT.sub("", raw)
    if raw.startswith("+"):
        if not 8 <= len(digits) <= 15:
            return False
    elif len(digits) != 10 or digits[0] in "01":  # NANP: area code never starts 0/1
        return False
    return _valid_number(raw)


def _valid_number(raw: str) -> bool:
    """Valid for its numbering plan (a number without `+` is read as North American)."""
    import phonenumbers  # heavy metadata: loaded on the first candidate only

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(raw, "US")))
    except phonenumbers.NumberParseException:
        return False


# -- masks: enough to recognise the kind and tell examples apart, never enough to use -------


def mask_email(raw: str) -> str:
    local, _, domain = raw.partition("@")
    labels = domain.split(".")
    return f"{local[:1]}***@{labels[0][:1]}***.{labels[-1]}"


def mask_card(raw: str) -> str:
    digits = _NON_DIGIT.sub("", raw)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_phone(raw: str) -> str:
    digits = _NON_DIGIT.sub("", raw)
    lead = "+" + digits[:1] if raw.startswith("+") else ""
    return lead + "*" * (len(digits) - len(lead[1:]) - 2) + digits[-2:]


def mask_ssn(raw: str) -> str:
    return "***-**-**" + raw[-2:]


def mask_iban(raw: str) -> str:
    iban = raw.replace(" ", "")
    return iban[:2] + "**" + "*" * (len(iban) - 6) + iban[-2:]


def mask_wallet(raw: str) -> str:
    return raw[:4] + "*" * 34 + raw[-4:]


def mask_ip(raw: str) -> str:
    address = raw.partition("/")[0]
    if ":" in address:
        return address.split(":")[0] + ":****:****"
    parts = address.split(".")
    return ".".join([*parts[:2], "***", "***"]) if len(parts) == 4 else "***"


def host_address(raw: str) -> str | None:
    """The host address an inet/cidr value names, or None for a network (10.0.0.0/8 is not
    a person's address)."""
    try:
        net = ipaddress.ip_interface(raw.strip())
    except ValueError:
        return None
    prefix = net.network.prefixlen
    if "/" in raw and prefix < net.network.max_prefixlen and net.ip == net.network.network_address:
        return None
    return str(net.ip)


@dataclass(frozen=True)
class Match:
    kind: str
    masked: str


def _emails(text: str) -> Iterator[str]:
    for m in _EMAIL.finditer(text):
        if ".." not in m.group(1) and not m.group(1).startswith("."):
            yield m.group(0)


def _phones(text: str) -> Iterator[str]:
    for m in _PHONE.finditer(text):
        if phone_ok(m.group(1)):
            yield m.group(1)


def _cards(text: str) -> Iterator[str]:
    for m in _CARD.finditer(text):
        if card_ok(m.group(1)):
            yield m.group(1)


def _ssns(text: str) -> Iterator[str]:
    for m in _SSN.finditer(text):
        if ssn_ok(m.group(1), m.group(2), m.group(3)):
            yield m.group(0)


def _ibans(text: str) -> Iterator[str]:
    for m in _IBAN.finditer(text):
        if iban_ok(m.group(1)):
            yield m.group(1)


def _wallets(text: str) -> Iterator[str]:
    for m in _WALLET.finditer(text):
        yield m.group(1)


_DETECTORS: tuple[tuple[str, Callable[[str], Iterator[str]], Callable[[str], str]], ...] = (
    (CARD, _cards, mask_card),
    (EMAIL, _emails, mask_email),
    (SSN, _ssns, mask_ssn),
    (IBAN, _ibans, mask_iban),
    (WALLET, _wallets, mask_wallet),
    (PHONE, _phones, mask_phone),
)


def _possible_kinds(text: str) -> tuple[str, ...]:
    """The kinds whose pattern could match `text` at all, from what each pattern needs
    (an `@`, `0x`, a number of digits, a length): every sampled value goes through the
    detectors, and most values (codes, names, ciphertext that is not OpenPGP) have none of
    that, so they skip the patterns instead of running six searches. Each condition is
    necessary for its pattern, never sufficient: the patterns and validators still decide."""
    length = len(text)
    if length < 10 and "@" not in text and "+" not in text:
        # Fewer than 10 characters: not 13 digits (card), not 9 digits and a dash (ssn: 9
        # digits leave no room for the dash), not 12 long (iban) or 42 (wallet), not 10
        # digits (phone) and no "+" for its shorter form. Short codes stop here.
        return ()
    digits = len(_NON_DIGIT.sub("", text)) if length >= 4 else 0
    kinds: list[str] = []
    if digits >= 13:
        kinds.append(CARD)  # 13 to 19 digits
    if "@" in text:
        kinds.append(EMAIL)
    if digits >= 9 and "-" in text:
        kinds.append(SSN)  # ddd-dd-dddd
    if digits >= 2 and length >= 12:
        kinds.append(IBAN)  # CCdd plus at least two groups of four
    if length >= 42 and "0x" in text:
        kinds.append(WALLET)  # 0x and 40 hex digits
    if digits >= 10 or (digits >= 4 and "+" in text):
        kinds.append(PHONE)  # +country and 3 digits more, or 10 digits
    return tuple(kinds)


def find_pii(text: str) -> list[Match]:
    """The kinds of personal data in `text`, one masked example per kind.

    A card number is also a long digit run, so phone matches that overlap a card are dropped.
    """
    found: list[Match] = []
    possible = _possible_kinds(text)
    if not possible:
        return found
    card_digits: set[str] = set()
    for kind, detect, mask in _DETECTORS:
        if kind not in possible:
            continue
        for raw in detect(text):
            digits = _NON_DIGIT.sub("", raw)
            if kind == PHONE and any(digits in c or c in digits for c in card_digits):
                continue
            if kind == CARD:
                card_digits.add(digits)
            found.append(Match(kind, mask(raw)))
            break
    return found


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_HEXRUN = re.compile(r"^(?:\\x|0x)?[0-9a-fA-F]+$")
_BASE64ISH = re.compile(r"^[A-Za-z0-9+/\r\n]+={0,2}$")


def shape(value: object) -> str:
    """A label for a value that is not ciphertext: what it looks like, never what it is."""
    return analyse(value)[0]


def analyse(value: object) -> tuple[str, list[Match]]:
    """The value's shape and the personal data in it, from one pass of the detectors (the
    sampler needs both for every value, and the detectors are most of its cost)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary", []
    text = str(value).strip()
    if not text:
        return "empty", []
    matches = find_pii(text)
    if matches:
        return matches[0].kind, matches
    return _plain_shape(text), []


def _plain_shape(text: str) -> str:
    if len(text) == 36 and _UUID.match(text):
        return "uuid"
    if _NUMBER.match(text):
        return "number"
    if _HEXRUN.match(text):
        return "hex"
    if len(text) >= 16 and _BASE64ISH.match(text):
        return "base64 (not OpenPGP)"
    if text[0] in "{[":
        return "json"
    return "text"


# -- key-like values (stored keys), judged by name and by shape ------------------------------

KEY_NAME = re.compile(
    r"(?i)(?<![a-z])(?:enc|crypt|aes|pgp|master|data|secret|private|api|app)?"
    r"[_.-]?(?:key|secret|passphrase|password|passwd|token|credential)s?"
    r"(?![a-z])|(?i:secret|passphrase|credential|(?:en|de)?crypt(?:ion)?_?key)"
)
NOT_KEY_NAME = re.compile(r"(?i)public|_id$|^id$|key_?id|keyring|key_?name|monkey|turkey")


def key_like_name(name: str) -> bool:
    """A setting, table or column name that says it holds a key or secret."""
    return bool(KEY_NAME.search(name)) and not NOT_KEY_NAME.search(name)


def entropy_bits(text: str) -> float:
    """Shannon entropy per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def key_like_value(value: str) -> bool:
    """A value shaped like key material: long, no spaces, and random-looking (hex, base64 or
    passphrase-like with high entropy). Sentences, UUIDs and e-mail addresses are not."""
    text = value.strip()
    if len(text) < 16 or any(ch.isspace() for ch in text) or "@" in text:
        return False
    if _UUID.match(text):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{32,}", text):
        return True
    return entropy_bits(text) >= 3.5


def mask_secret(value: str) -> str:
    """What evidence may say about a secret: that it is there and how long it is."""
    return f"'***' ({len(value)} characters)"
