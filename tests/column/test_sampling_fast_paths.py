"""The sampler's per-value shortcuts give the answers of the full analysis.

Every sampled value goes through OpenPGP inspection and the PII detectors, so their cost
decides how many tables fit in the sampling budget (benchmarks/estate_scale.py). The
shortcuts (detectors skipped when a value lacks what their pattern needs, OpenPGP text
decoded only as far as the headers, one message object per header reading, pg_catalog
text/varchar read without format()) must never change a verdict: each is checked here
against the slow path it replaces, on real pgcrypto output where bytes matter.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor import pgp, pii
from auditor.collectors.pg.columns import PLAIN_TEXT_TYPE_OIDS, _Column, _read_batch, _Table
from auditor.collectors.pg.session import PgSession
from auditor.lab.cluster import Cluster
from tests.conftest import AUDITOR_PASSWORD


def every_detector(text: str) -> list[pii.Match]:
    """find_pii without the quick rejects: every pattern on every value (the slow path)."""
    found: list[pii.Match] = []
    card_digits: set[str] = set()
    for kind, detect, mask in pii._DETECTORS:
        for raw in detect(text):
            digits = "".join(ch for ch in raw if ch.isdecimal())
            if kind == pii.PHONE and any(digits in c or c in digits for c in card_digits):
                continue
            if kind == pii.CARD:
                card_digits.add(digits)
            found.append(pii.Match(kind, mask(raw)))
            break
    return found


TRICKY = [
    "4111 1111 1111 1111",
    "card 4111-1111-1111-1111 and ssn 123-45-6789",
    "+44 20 7946 0958",
    "+1 415",  # too short for a phone: the pattern decides, not the shortcut
    "(415) 555-2671",
    "415.555.2671",
    # Arabic-Indic digits: the patterns' \d matches them, so must the shortcut's count.
    "+\u0664\u0664 \u0662\u0660 \u0667\u0669\u0664\u0666 \u0660\u0669\u0665\u0668",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "wallet:0x52908400098527886E0F7030069857D2E4169EE7;",
    "someone@example.org",
    "@",
    "SKU-123-45-6789",
    "order 2024-01-15 #1234567890123",
    "",
    "1234",
    "x" * 50,
]


@pytest.mark.parametrize("text", TRICKY)
def test_quick_rejects_find_what_every_detector_finds(text: str) -> None:
    assert pii.find_pii(text) == every_detector(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("0123456789\u0664\u0665 +-.()@xXABDEGIN/\u0660"),
        max_size=48,
    )
)
def test_quick_rejects_on_generated_text(text: str) -> None:
    assert pii.find_pii(text) == every_detector(text)


def test_the_shortcut_really_skips_plain_codes() -> None:
    # The control: a value with nothing a pattern needs runs no pattern at all.
    assert pii._possible_kinds("SKU-1") == ()
    assert pii.CARD in pii._possible_kinds("4111111111111111")


@pytest.fixture(scope="module")
def long_message(design_cluster: Cluster) -> Iterator[bytes]:
    """A real pgcrypto message far longer than the headers (8 KB of data encrypted)."""
    with design_cluster.admin_connection() as conn:
        row = conn.execute(
            "SELECT pgp_sym_encrypt(repeat('x', 8192), 'k', 'cipher-algo=aes256, compress-algo=0')"
        ).fetchone()
    assert row is not None
    yield bytes(row[0])


def test_long_text_encodings_decode_only_the_head_with_the_same_reading(
    long_message: bytes,
) -> None:
    whole = pgp.parse(long_message, "bytea")
    assert whole is not None and whole.cipher == "aes256"
    b64 = base64.b64encode(long_message).decode()
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    armored = f"{pgp.ARMOR_BEGIN}\n\n{wrapped}\n=abcd\n-----END PGP MESSAGE-----\n"
    for value, encoding in ((b64, "base64"), (wrapped, "base64"), (armored, "armor")):
        found = pgp.to_bytes(value)
        assert found is not None and found[1] == encoding
        assert pgp.HEAD_BYTES <= len(found[0]) < len(long_message)  # the head, not all of it
        assert long_message.startswith(found[0])
        reading = pgp.inspect_value(value)
        assert reading is not None
        assert (reading.cipher, reading.s2k_mode, reading.integrity, reading.s2k_count) == (
            whole.cipher,
            whole.s2k_mode,
            whole.integrity,
            whole.s2k_count,
        )


def test_one_message_object_per_header_reading(long_message: bytes) -> None:
    first, again = pgp.parse(long_message), pgp.parse(bytes(long_message))
    assert first is again  # shared, and immutable (frozen): nothing of a value is kept
    assert pgp.parse(long_message, "hex") is not first


def test_plain_text_types_are_pg_catalog_text_and_varchar(design_cluster: Cluster) -> None:
    with design_cluster.admin_connection() as conn:
        row = conn.execute(
            "SELECT 'pg_catalog.text'::regtype::oid, 'pg_catalog.varchar'::regtype::oid"
        ).fetchone()
    assert row is not None and set(row) == PLAIN_TEXT_TYPE_OIDS


def test_text_columns_read_without_format_give_the_same_values(
    design_cluster: Cluster, tmp_path: Any
) -> None:
    """A text, a varchar and a domain-over-text column (the domain still goes through its
    output function) sampled both ways return the same values."""
    with design_cluster.admin_connection(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS fastpath; DROP DOMAIN IF EXISTS fastpath_d")
        conn.execute("CREATE DOMAIN fastpath_d AS text")
        conn.execute(
            "CREATE TABLE fastpath (a text, b varchar(40), c fastpath_d);"
            "INSERT INTO fastpath VALUES ('a@example.org', ' padded ', 'x'), (NULL, NULL, NULL);"
            "GRANT SELECT ON fastpath TO auditor"
        )
    session = _auditor_session(design_cluster)
    try:
        oid = session.value("SELECT 'public.fastpath'::regclass::oid")
        table = _Table(int(oid), "public", "fastpath", 2.0, 1, total_bytes=8192)
        got = []
        for plain in (False, True):
            columns = [
                _Column("a", "text", False, False, True, plain_text=plain),
                _Column("b", "character varying(40)", False, False, True, plain_text=plain),
                _Column("c", "fastpath_d", False, False, True),
            ]
            fetched = _read_batch(session, [(0, table, columns)], 200, 7)
            got.append(fetched[0][1])
    finally:
        session.close()
        _drop(design_cluster, "fastpath; DROP DOMAIN fastpath_d")
    assert got[0] == got[1] == {0: ["a@example.org"], 1: [" padded "], 2: ["x"]}


def test_one_statement_for_many_tables_keeps_each_value_with_its_column(
    design_cluster: Cluster,
) -> None:
    """Tables of different shapes share one statement (one row per table, text and bytea
    heads as two-dimensional arrays): every value comes back under its own table and column,
    NULLs dropped, an empty table with no values, exactly as each table read alone."""
    with design_cluster.admin_connection(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS shape_mixed, shape_empty, shape_blobs")
        conn.execute(
            "CREATE TABLE shape_mixed (a text, b bytea, c jsonb, d varchar(9));"
            "INSERT INTO shape_mixed VALUES ('a1', '\\x0102', '{\"k\": 1}', NULL),"
            " (NULL, NULL, NULL, 'd2'), ('a3', '\\x03', NULL, 'd3');"
            "CREATE TABLE shape_empty (a text, b bytea);"
            "CREATE TABLE shape_blobs (x bytea, y bytea);"
            "INSERT INTO shape_blobs VALUES ('\\xff', NULL), (NULL, '\\x00ee');"
            "GRANT SELECT ON shape_mixed, shape_empty, shape_blobs TO auditor"
        )
    session = _auditor_session(design_cluster)
    try:
        batch = []
        for index, (name, columns) in enumerate(
            [
                (
                    "shape_mixed",
                    [
                        _Column("a", "text", False, False, True, plain_text=True),
                        _Column("b", "bytea", True, False, True, kind="bytea"),
                        _Column("c", "jsonb", False, False, True, kind="structured"),
                        _Column("d", "character varying(9)", False, False, True, plain_text=True),
                    ],
                ),
                ("shape_empty", [_Column("a", "text", False, False, True, plain_text=True)]),
                (
                    "shape_blobs",
                    [
                        _Column("x", "bytea", True, False, True, kind="bytea"),
                        _Column("y", "bytea", True, False, True, kind="bytea"),
                    ],
                ),
            ]
        ):
            oid = int(session.value(f"SELECT 'public.{name}'::regclass::oid"))
            batch.append((index, _Table(oid, "public", name, 3.0, 1, total_bytes=8192), columns))
        together = _read_batch(session, batch, 200, 7)
        alone = {item[0]: _read_batch(session, [item], 200, 7)[item[0]] for item in batch}
    finally:
        session.close()
        _drop(design_cluster, "shape_mixed, shape_empty, shape_blobs")
    values = {i: {c: sorted(v) for c, v in got[1].items()} for i, got in together.items()}
    assert values == {
        0: {0: ["a1", "a3"], 1: [b"\x01\x02", b"\x03"], 2: ['{"k": 1}'], 3: ["d2", "d3"]},
        1: {},
        2: {0: [b"\xff"], 1: [b"\x00\xee"]},
    }
    assert {i: {c: sorted(v) for c, v in got[1].items()} for i, got in alone.items()} == values


def test_text_that_is_not_utf8_is_read_again_leniently(design_cluster: Cluster) -> None:
    """Sampling reads text with psycopg's strict (compiled) UTF-8 loader. A UTF8 server
    checks text as it is stored, but a damaged value is sent as it is: here planted through
    a binary-coercible cast from bytea, which checks nothing. The batch is then read again
    with U+FFFD for those bytes, instead of the batch's tables being lost to an error."""
    with design_cluster.admin_connection(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS odd_bytes, plain_only")
        with conn.transaction():
            conn.execute("CREATE CAST (bytea AS text) WITHOUT FUNCTION")
            conn.execute(
                "CREATE TABLE odd_bytes (v text, w text);"
                "INSERT INTO odd_bytes SELECT ('\\x4af67267ff'::bytea)::text || g,"
                " 'plain ' || g FROM generate_series(1, 5) g;"
                "CREATE TABLE plain_only (v text);"
                "INSERT INTO plain_only SELECT 'plain ' || g FROM generate_series(1, 3) g;"
                "GRANT SELECT ON odd_bytes, plain_only TO auditor"
            )
            conn.execute("DROP CAST (bytea AS text)")
    session = _auditor_session(design_cluster)
    try:
        assert session.conn.info.encoding == "utf-8"
        batch = []
        for index, (name, columns) in enumerate((("plain_only", ["v"]), ("odd_bytes", ["v", "w"]))):
            oid = int(session.value("SELECT %s::regclass::oid", (f"public.{name}",)))
            cols = [_Column(c, "text", False, False, True, plain_text=True) for c in columns]
            batch.append((index, _Table(oid, "public", name, 5.0, 1, total_bytes=8192), cols))
        fetched = _read_batch(session, batch, 200, 7)
        strict = _read_batch(session, batch[:1], 200, 7)  # valid text: the strict loader
    finally:
        session.close()
        _drop(design_cluster, "odd_bytes, plain_only")
    assert fetched[0] == strict[0]
    assert sorted(fetched[0][1][0]) == ["plain 1", "plain 2", "plain 3"]
    odd, plain = fetched[1][1][0], fetched[1][1][1]
    assert sorted(odd) == [f"J\ufffdrg\ufffd{g}" for g in range(1, 6)]
    assert sorted(plain) == [f"plain {g}" for g in range(1, 6)]


def _drop(cluster: Cluster, tables: str) -> None:
    """Leave the shared design cluster as it was: its other tests scan every table (a
    planted e-mail address left here would fail their plaintext check)."""
    with cluster.admin_connection(autocommit=True) as conn:
        conn.execute(f"DROP TABLE {tables}")


def _auditor_session(cluster: Cluster) -> PgSession:
    """The scan's own hardened session as the auditor role (no TLS probe needed here)."""
    from pathlib import Path

    from auditor.collectors.base import CollectContext
    from auditor.config import parse_config

    text = f"targets:\n  - name: t\n    dsn: '{cluster.dsn('auditor')}'\n    tls_probe: false\n"
    target = parse_config(text, "t.yaml").targets[0]
    ctx = CollectContext(target=target, password=AUDITOR_PASSWORD, config_dir=Path.cwd())
    return PgSession.open(ctx)
