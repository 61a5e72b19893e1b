"""The column inventory before sampling: it reads the catalog a bounded number of tables per
statement (so that no statement grows with the database and meets the statement timeout on
a big catalog), finding exactly what one statement finds, and the time it takes is not
taken from the sampling budget."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg import columns
from auditor.collectors.pg.columns import ColumnCollector, ColumnFacts
from auditor.collectors.pg.session import PgSession
from auditor.lab.cluster import Cluster
from auditor.policy import Policy
from tests.column.conftest import columns_config, scan
from tests.conftest import AUDITOR_PASSWORD


def inventory(facts: ColumnFacts) -> dict[str, object]:
    """What the catalog reads decide (not the sampled values: the seed differs per scan)."""
    return {
        "columns": sorted(
            (s.schema_name, s.table, s.column, s.data_type, s.declared, s.declared_as or "")
            for s in facts.samples
        ),
        "unreadable": facts.unreadable,
        "rls": facts.rls_filtered,
        "declared_problems": facts.declared_problems,
        "not_sampled": facts.not_sampled,
    }


def test_chunked_catalog_reads_find_what_one_statement_finds(
    hostile_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = ("public.users.email",)
    whole = inventory(scan(hostile_cluster, declared)[1].get(ColumnFacts))
    assert len(whole["columns"]) > 3  # type: ignore[arg-type]  # several tables: chunks matter
    monkeypatch.setattr(columns, "CATALOG_CHUNK", 1)  # one table per statement
    assert inventory(scan(hostile_cluster, declared)[1].get(ColumnFacts)) == whole


def test_a_slow_inventory_does_not_use_up_the_sampling_budget(
    hostile_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10,000-table catalog on a busy server once took the whole 20 s budget to list, and
    then no table was sampled. Here listing takes 1.5 s and the budget is 1 s: the tables
    are still sampled (the budget runs from the end of the inventory)."""
    real = ColumnCollector._tables

    def slow_inventory(self: ColumnCollector, *args: Any) -> Any:
        time.sleep(1.5)  # a slow catalog, as on a busy server with a huge catalog
        return real(self, *args)

    monkeypatch.setattr(ColumnCollector, "_tables", slow_inventory)
    target = columns_config(hostile_cluster, ("public.users.email",)).targets[0]
    ctx = CollectContext(
        target=target,
        password=AUDITOR_PASSWORD,
        config_dir=Path.cwd(),
        policy=Policy(sample_budget_seconds=1.0),
    )
    session = PgSession.open(ctx)
    try:
        facts = ColumnCollector().collect(session, ctx)
    finally:
        session.close()
    assert facts.samples  # the first statement started inside the budget
    assert facts.elapsed_seconds >= 1.5  # the whole collection, inventory included


class _Explaining:
    """A session whose reads are also EXPLAINed: the scans each catalog read's plan makes."""

    def __init__(self, session: PgSession) -> None:
        self.session = session
        self.scans: list[set[tuple[str, str]]] = []

    def rows(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        plan = self.session.rows(f"EXPLAIN (FORMAT JSON) {query}", params)[0]["QUERY PLAN"]
        found: set[tuple[str, str]] = set()
        todo = [plan[0]["Plan"]]
        while todo:
            node = todo.pop()
            if "Relation Name" in node:
                found.add((node["Node Type"], node["Relation Name"]))
            todo.extend(node.get("Plans", []))
        self.scans.append(found)
        return self.session.rows(query, params)


def test_each_chunk_looks_its_tables_up_by_index(hostile_cluster: Cluster) -> None:
    """Given `oid = ANY(2,000 oids)` the planner read the whole of pg_attribute (and
    pg_class) once per chunk: at 10,000 tables, 200,000 rows 5 times, quadratic in the
    catalog. Each oid is now one index lookup, whatever the planner estimates. A full chunk
    of oids (the catalog's own relations, then oids no relation has) reads no catalog whole."""
    target = columns_config(hostile_cluster, ()).targets[0]
    ctx = CollectContext(target=target, password=AUDITOR_PASSWORD, config_dir=Path.cwd())
    session = PgSession.open(ctx)
    try:
        known = [int(r["oid"]) for r in session.rows("SELECT oid FROM pg_catalog.pg_class")]
        filler = range(4_000_000_000, 4_000_000_000 + columns.CATALOG_CHUNK)
        oids = (known + list(filler))[: columns.CATALOG_CHUNK]
        explaining = _Explaining(session)
        tables = ColumnCollector._table_rows(explaining, oids)  # type: ignore[arg-type]
        cols = ColumnCollector._column_rows(explaining, oids)  # type: ignore[arg-type]
    finally:
        session.close()
    assert len(tables) == len(known) and len(cols) > len(known)  # every relation found
    table_scans, column_scans = explaining.scans
    assert ("Index Scan", "pg_class") in table_scans
    assert ("Index Scan", "pg_attribute") in column_scans
    for scans in explaining.scans:
        assert not {s for s in scans if s[1] in ("pg_class", "pg_attribute")} - {
            ("Index Scan", "pg_class"),
            ("Index Scan", "pg_attribute"),
        }
