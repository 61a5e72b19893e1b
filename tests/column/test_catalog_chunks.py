"""The column inventory reads the catalog a bounded number of tables per statement (so that
no statement grows with the database and meets the statement timeout on a big catalog);
split into chunks, it finds exactly what one statement finds."""

from __future__ import annotations

import pytest

from auditor.collectors.pg import columns
from auditor.collectors.pg.columns import ColumnFacts
from auditor.lab.cluster import Cluster
from tests.column.conftest import scan


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
