"""Shared test harness: real PostgreSQL clusters started from `fixtures/postgres/<variant>`.

Clusters are session-scoped and cached by (variant, certificate spec), so each distinct
server starts once per test session. Tests in a sub-folder may define their own variants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auditor.config import ScanConfig, parse_config
from auditor.lab.certs import DEFAULT_CERT, CertSpec
from auditor.lab.cluster import Cluster, LabError, Variant, postgres_bindir

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PG_VARIANTS = FIXTURES / "postgres"
AUDITOR_PASSWORD = "auditor-test-pw"

ClusterFactory = Callable[..., Cluster]


def pytest_addoption(parser: pytest.Parser) -> None:
    # Declared here, at the root, so `pytest --update-golden` works from anywhere.
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/report/golden/* from the current output",
    )


@pytest.fixture(scope="session")
def pg_available() -> None:
    try:
        postgres_bindir()
    except LabError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def start_cluster(pg_available: None) -> Iterator[ClusterFactory]:
    """Factory: start_cluster("compliant") or start_cluster(Variant(...)), cached per session."""
    started: dict[object, Cluster] = {}

    def start(variant: str | Variant, tls: CertSpec | None = DEFAULT_CERT) -> Cluster:
        if isinstance(variant, str):
            variant = Variant.from_dir(PG_VARIANTS / variant, tls=tls)
        key = (variant.name, variant.settings, variant.hba, variant.seed_sql, variant.tls)
        if key not in started:
            started[key] = Cluster(variant).start()
        return started[key]

    yield start
    for cluster in started.values():
        cluster.stop()


@pytest.fixture(scope="session")
def compliant_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("compliant")


@pytest.fixture(scope="session")
def weak_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("weak")


def target_yaml(name: str, dsn: str, **extra: object) -> str:
    lines = [f"  - name: {name}", f"    dsn: '{dsn}'"]
    for key, value in extra.items():
        lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


def config_for(
    cluster: Cluster, name: str = "db", user: str = "auditor", env: str = "AUDITOR_TEST_PW",
    **extra: object,
) -> ScanConfig:
    """A one-target config that reads the password from environment variable `env`."""
    text = "targets:\n" + target_yaml(
        name, cluster.dsn(user), password="{env: " + env + "}", **extra
    )
    return parse_config(text, "test-config.yaml")
