"""PII detectors: real personal-data formats are found and masked; look-alikes (SKUs, UUIDs,
order numbers, prices, dates, versions) are not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import pii


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("john.doe@example.org", pii.EMAIL, "j***@e***.org"),
        ("write to jane@mail.example.com today", pii.EMAIL, "j***@m***.com"),
        ("4111111111111111", pii.CARD, "411111******1111"),
        ("4111 1111 1111 1111", pii.CARD, "411111******1111"),
        ("5500-0000-0000-0004", pii.CARD, "550000******0004"),
        ("amex 378282246310005", pii.CARD, "378282*****0005"),
        ("+1 212 555 0134", pii.PHONE, "+1********34"),
        ("(415) 555-2671", pii.PHONE, "********71"),
        ("+44 20 7946 0958", pii.PHONE, "+4*********58"),
        ("123-45-6789", pii.SSN, "***-**-**89"),
        ("DE89370400440532013000", pii.IBAN, "DE******************00"),
        ("GB82 WEST 1234 5698 7654 32", pii.IBAN, "GB******************32"),
        (
            "0x52908400098527886E0F7030069857D2E4169EE7",
            pii.WALLET,
            "0x52**********************************9EE7",
        ),
    ],
)
def test_personal_data_is_found_and_masked(text: str, kind: str, masked: str) -> None:
    found = pii.find_pii(text)
    assert [(m.kind, m.masked) for m in found] == [(kind, masked)]
    assert pii.shape(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "SKU-12345-AB",
        "SKU-123-45-6789",
        "ORD-2024-000123",
        "ORD-202-400-0123",
        "550e8400-e29b-41d4-a716-446655440000",
        "1234.56",
        "19.99",
        "order 10023456",
        "4111111111111112",  # fails Luhn
        "1000000000000008",  # passes Luhn, no card issuer starts with 1
        "0000000000000000",
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "DE89370400440532013001",  # mod 97 fails
        "DE8937040044053201300",  # wrong length for DE
        "0x" + "ab" * 32,  # a 32-byte hash, not an address
        "2024-01-15",
        "v1.2.3",
        "192.168.1.10",
        "user at example dot com",
        "12345678901234",
        "1234567890",  # bare ten digits: an order number as often as a phone
        # Stricter than the hand-written rules (python-stdnum, phonenumbers):
        "078-05-1120",  # the SSN printed on a wallet insert, known invalid
        "219-09-9999",  # an SSN used in advertising, known invalid
        "+1 555 010 1234",  # no North American area code 555
        "(555) 123-4567",
        "GB82 WEST 1234 5698 7654 33",  # mod 97 fails
    ],
)
def test_look_alikes_are_not_personal_data(text: str) -> None:
    assert pii.find_pii(text) == []


def test_shapes_of_innocent_values() -> None:
    assert pii.shape("550e8400-e29b-41d4-a716-446655440000") == "uuid"
    assert pii.shape("19.99") == "number"
    assert pii.shape("") == "empty"
    assert pii.shape(b"\x00\x01") == "binary"
    assert pii.shape("SGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=") == "base64 (not OpenPGP)"
    assert pii.shape('{"a": 1}') == "json"
    assert pii.shape("hello world") == "text"


def test_one_match_per_kind_and_cards_are_not_phones() -> None:
    text = "cards 4111111111111111 and 5500000000000004, mail a@b.io, c@d.io"
    kinds = [m.kind for m in pii.find_pii(text)]
    assert kinds == [pii.CARD, pii.EMAIL]


_card_digits = st.text(alphabet="0123456789", min_size=13, max_size=19)


@given(_card_digits)
def test_every_reported_card_passes_luhn(digits: str) -> None:
    if any(m.kind == pii.CARD for m in pii.find_pii(digits)):
        assert pii.luhn_ok(digits)


@given(st.text(max_size=200))
def test_masks_never_contain_the_value(text: str) -> None:
    for match in pii.find_pii(text):
        assert "*" in match.masked
        # The longest run of the original a mask may keep is the card's BIN (6 digits).
        assert not any(text[i : i + 11] in match.masked for i in range(max(0, len(text) - 10)))


def test_masked_card_keeps_only_bin_and_last_four() -> None:
    assert pii.mask_card("4242 4242 4242 4242") == "424242******4242"
    assert pii.mask_email("zq-canary-4242@canary-mail.test") == "z***@c***.test"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.168.12.34", "192.168.***.***"),
        ("192.168.12.34/32", "192.168.***.***"),
        ("2001:db8::1", "2001:****:****"),
        ("10.0.0.0/8", None),  # a network, not somebody's address
        ("not an address", None),
    ],
)
def test_inet_host_addresses_are_personal_data(raw: str, expected: str | None) -> None:
    host = pii.host_address(raw)
    assert (pii.mask_ip(host) if host else None) == expected
