"""Which tables the sampler reads first when the budget may run out, and how it groups them
into statements (pure functions: no database)."""

from __future__ import annotations

from auditor.collectors.pg.columns import (
    BATCH_BYTES,
    BATCH_TABLES,
    BATCH_VALUES,
    SMALL_TABLE_BYTES,
    _batches,
    _Column,
    _likelihood,
    _Table,
)


def table(name: str, *columns: str, rows: int = 100, declared: str = "") -> tuple:
    cols = [_Column(c, "text", False, c == declared, True, kind="text") for c in columns]
    return _Table(len(name), "public", name, float(rows), 1), cols


def test_declared_then_personal_names_then_the_rest() -> None:
    todo = [
        table("audit_blob", "payload"),
        table("sku_codes", "code"),
        table("customers", "email", "phone"),
        table("vault", "secret_enc", declared="secret_enc"),
        table("orders", "shipping_note"),
    ]
    order = [t.name for t, _ in sorted(todo, key=lambda item: _likelihood(*item))]
    assert order[0] == "vault"  # a declared column always comes first
    assert order[1] == "customers"  # table and columns named like personal data
    assert order[2] == "orders"  # a note column
    assert set(order[3:]) == {"audit_blob", "sku_codes"}


def test_bigger_tables_first_among_equals() -> None:
    small = table("t_small", "code", rows=10)
    big = table("t_big", "code", rows=1_000_000)
    order = [t.name for t, _ in sorted([small, big], key=lambda item: _likelihood(*item))]
    assert order == ["t_big", "t_small"]


def test_batches_bound_tables_and_values_and_keep_the_order() -> None:
    many = [table(f"t{i}", "a", "b", rows=5) for i in range(200)]
    batches = _batches(many, wanted=200)
    assert all(len(b) <= BATCH_TABLES for b in batches)
    assert [i for b in batches for i, _, _ in b] == list(range(200))
    wide = [table(f"w{i}", *[f"c{j}" for j in range(20)], rows=10_000) for i in range(5)]
    batches = _batches(wide, wanted=200)
    # 20 columns x 200 rows = 4,000 values a table: at most 3 fit in one statement.
    assert all(len(b) * 4_000 <= BATCH_VALUES for b in batches)
    assert sum(len(b) for b in batches) == 5


def test_batches_bound_the_bytes_read_whole() -> None:
    heavy = []
    for i in range(40):
        t, cols = table(f"h{i}", "a", rows=1)
        t.total_bytes = SMALL_TABLE_BYTES  # read whole, in a random order
        heavy.append((t, cols))
    batches = _batches(heavy, wanted=200)
    assert all(len(b) * SMALL_TABLE_BYTES <= BATCH_BYTES for b in batches)
    assert sum(len(b) for b in batches) == 40
