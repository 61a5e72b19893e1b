"""The catalog reads of a scan grow linearly with the catalog: reading a 10,000-table
database costs about ten times a 1,000-table one, not a hundred (a nested loop over pg_type
once made 10,000 tables cost 135 s). Sampling is left out (a tiny budget) so that only the
catalog queries of every session collector are timed; a statement timeout bounds each query,
so a quadratic plan fails here as an error rather than hanging the suite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.columns import ColumnFacts
from auditor.collectors.pg.session import PgSession
from auditor.collectors.postgres import session_collectors
from auditor.config import parse_config
from auditor.facts import FactSection
from auditor.lab.cluster import Cluster, Variant
from auditor.policy import Policy
from tests.conftest import ClusterFactory

pytestmark = pytest.mark.slow  # creating 11,000 tables takes ~30-60 s on a loaded machine

PASSWORD = "catalog-scale-pw"  # a throwaway cluster's role, not a secret
# Each table carries a default (the code collector reads pg_attrdef) and text-like, bytea,
# json and domain-typed columns (the column inventory classifies every column type).
MAKE_TABLES = """
CREATE DOMAIN note_text AS text;
DO $$ BEGIN
  FOR i IN 1..{count} LOOP
    EXECUTE pg_catalog.format(
      'CREATE TABLE t%s (id int DEFAULT 0, email text, blob bytea, doc jsonb, note note_text)',
      i);
  END LOOP;
END $$;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor;
"""
SMALL, BIG = 1_000, 10_000
# Linear growth is ~10x; quadratic is ~100x. The bound leaves room for a loaded machine.
MAX_RATIO = 30.0


@pytest.fixture(scope="module")
def scale_cluster(start_cluster: ClusterFactory) -> Cluster:
    cluster = start_cluster(
        Variant(
            name="catalog-scale",
            settings="max_locks_per_transaction = 1024\nautovacuum = off\n",
            hba="host all all 127.0.0.1/32 scram-sha-256\n",
            seed_sql=f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}';",
            tls=None,
        )
    )
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        for count in (SMALL, BIG):
            conn.execute(f"CREATE DATABASE tables_{count}")
    for count in (SMALL, BIG):
        with cluster.admin_connection(f"tables_{count}", autocommit=True) as conn:
            conn.execute(MAKE_TABLES.replace("{count}", str(count)).encode())
    return cluster


def catalog_seconds(cluster: Cluster, count: int) -> tuple[float, list[FactSection]]:
    text = (
        "targets:\n"
        f"  - name: t{count}\n"
        f"    dsn: '{cluster.dsn('auditor', dbname=f'tables_{count}')}'\n"
        "    tls_probe: false\n"
        "    statement_timeout_ms: 20000\n"
    )
    target = parse_config(text, "scale.yaml").targets[0]
    ctx = CollectContext(
        target=target,
        password=PASSWORD,
        config_dir=Path.cwd(),
        policy=Policy(sample_budget_seconds=0.000001),
    )
    session = PgSession.open(ctx)
    try:
        started = time.perf_counter()
        sections = [sub.collect(session, ctx) for sub in session_collectors()]
        return time.perf_counter() - started, sections
    finally:
        session.close()


def test_catalog_reads_grow_linearly_with_the_number_of_tables(scale_cluster: Cluster) -> None:
    timings: dict[int, float] = {}
    for count in (SMALL, BIG):
        catalog_seconds(scale_cluster, count)  # warm the server's caches
        runs = [catalog_seconds(scale_cluster, count) for _ in range(2)]
        timings[count] = min(seconds for seconds, _ in runs)
        columns = next(s for s in runs[-1][1] if isinstance(s, ColumnFacts))
        # Every table was inventoried (and, with no budget left, named as not sampled).
        seen = {s.table for s in columns.samples} | set(columns.not_sampled)
        assert len(seen) == count
        assert not columns.errors
    ratio = timings[BIG] / timings[SMALL]
    assert ratio <= MAX_RATIO, (
        f"{BIG} tables took {timings[BIG]:.2f} s, {ratio:.1f}x {SMALL} tables "
        f"({timings[SMALL]:.2f} s): catalog reads are not linear"
    )
