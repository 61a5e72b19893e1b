"""History store fixtures: a fresh store per test, as a SQLite file and as a database on a
real PostgreSQL cluster (the compliant lab cluster, reached over TLS with a password)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from auditor.lab.cluster import ADMIN_PASSWORD, ADMIN_USER, Cluster
from tests.conftest import ClusterFactory

_numbers = itertools.count()


def postgres_history_url(cluster: Cluster) -> str:
    """A new, empty database on `cluster` and the URL of it."""
    name = f"history_{next(_numbers)}"
    with cluster.admin_connection(autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return (
        f"postgresql://{ADMIN_USER}:{ADMIN_PASSWORD}@localhost:{cluster.port}/{name}"
        "?sslmode=require"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store" / "history.db")
    start: ClusterFactory = request.getfixturevalue("start_cluster")
    return postgres_history_url(start("compliant"))
