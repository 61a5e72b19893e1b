"""A SQL_ASCII database (bytes in no declared encoding, some not valid UTF-8, in names and
values) can be audited: every PostgreSQL section is collected and the verdicts are judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.collectors.pg.code import CodeFacts
from auditor.collectors.pg.server import ServerFacts
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.model import Status, TargetStatus
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, ClusterFactory, target_yaml

LEGACY_DB = "legacy"
# Latin-1 bytes (é, ä, ö) and bytes no encoding explains, as a SQL_ASCII database keeps them.
LEGACY_SEED = b"""
CREATE EXTENSION pgcrypto;
CREATE ROLE "r\xe9le_h\xe9rit\xe9e" LOGIN PASSWORD 'legacy-role-pw';
CREATE TABLE users (id serial PRIMARY KEY, email text, "n\xe4me" text);
INSERT INTO users (email, "n\xe4me")
SELECT pg_catalog.encode(pgp_sym_encrypt('user' || g || '@example.com', 'k1',
                         'cipher-algo=aes256, s2k-mode=1'), 'base64'),
       E'J\\xf6rg \\xff\\xfe ' || g
FROM generate_series(1, 20) g;
CREATE TABLE "caf\xe9" ("n\xe4me" text, contact text);
INSERT INTO "caf\xe9" SELECT E'Z\\xe9 \\xc3 \\xff', 'joerg' || g || '@example.com'
FROM generate_series(1, 20) g;
CREATE FUNCTION "encr\xfcpt"(v text) RETURNS bytea LANGUAGE sql AS $$
    SELECT pgp_sym_encrypt(v, 'cl\xe9-en-dur')  -- \xff
$$;
CREATE VIEW "vue_\xe9" AS SELECT "n\xe4me" FROM "caf\xe9";
"""


@pytest.fixture(scope="module")
def legacy_cluster(start_cluster: ClusterFactory) -> Cluster:
    cluster = start_cluster(
        Variant(
            name="sql-ascii",
            settings="log_connections = on\n",
            seed_sql=f"CREATE ROLE auditor LOGIN SUPERUSER PASSWORD '{AUDITOR_PASSWORD}';",
        )
    )
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (LEGACY_DB,)
        ).fetchone()
        if exists:
            return cluster
        conn.execute(
            f"CREATE DATABASE {LEGACY_DB} TEMPLATE template0 ENCODING 'SQL_ASCII' "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    with cluster.admin_connection(LEGACY_DB, autocommit=True) as conn:
        conn.execute(LEGACY_SEED)
    return cluster


def test_a_sql_ascii_database_is_audited(
    legacy_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    text = "targets:\n" + target_yaml(
        "legacy",
        legacy_cluster.dsn("auditor", dbname=LEGACY_DB),
        password="{env: AUDITOR_TEST_PW}",
        sensitive_columns="[users.email]",
    )
    results, bundles = run_scan(parse_config(text, "t.yaml"), Path.cwd())
    assert results.targets[0].status is TargetStatus.SCANNED, results.targets[0].error
    facts = bundles[0]
    for section in ("postgres", "columns", "code", "audit_log"):
        assert section in facts.sections, facts.gaps.get(section)
    errors = [f"{f.check_id}: {f.message}" for f in results.findings if f.status is Status.ERROR]
    assert errors == []
    # Bytes read as Latin-1: names are text, and name the same objects when sent back.
    server = facts.get(ServerFacts)
    assert "r\u00e9le_h\u00e9rit\u00e9e" in {r.name for r in server.roles}
    verdicts = {(f.check_id, f.resource): f.status for f in results.findings}
    assert verdicts[("column.sensitive_encrypted", "users.email")] is Status.PASS
    assert verdicts[("column.plaintext_pii", "\"caf\u00e9\".contact")] is Status.FAIL
    assert facts.get(CodeFacts).functions_scanned >= 1
    key_in_code = [f for f in results.findings if f.check_id == "column.key_in_code"]
    assert [(f.status, f.resource) for f in key_in_code] == [
        (Status.FAIL, "function public.encr\u00fcpt(v text)")
    ]
    assert "en-dur" not in key_in_code[0].message  # the key literal stays masked
