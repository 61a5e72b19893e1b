"""Clusters of the column layer: one built like the reference design (everything passes)
and one carrying each weakness in its own table or column. Both are shared with
tests/audit through the session-wide cluster cache of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import ScanConfig
from auditor.facts import Facts
from auditor.lab.cluster import Cluster
from auditor.model import ScanResults
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, ClusterFactory, config_for

DESIGN_COLUMNS = ("users.email", "users.phone", "users.wallet_address")
VAULT = (
    "aes256_ok",
    "armored_ok",
    "bytea_ok",
    "aes128",
    "des3",
    "cast5",
    "blowfish",
    "s2k_simple",
    "s2k_salted",
    "s2k_md5",
    "no_mdc",
    "not_filled",
)
WEAK_COLUMNS = (
    "users.email",
    "users.phone",
    "hr_private.salary_note",
    *(f"vault.{c}" for c in VAULT),
)
CANARY_EMAIL = "zq-canary-4242@canary-mail.test"
CANARY_CARD = "4242424242424242"
CANARY_KEY = "canary-key-7777-XYZ"
CANARY_DEFAULT_KEY = "coldefault-key-3141-QRS"  # in the default of api_tokens.token


def columns_config(cluster: Cluster, columns: tuple[str, ...]) -> ScanConfig:
    listed = "[" + ", ".join(columns) + "]"
    return config_for(cluster, sensitive_columns=listed, tls_probe="false")


def scan(cluster: Cluster, columns: tuple[str, ...]) -> tuple[ScanResults, Facts]:
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    try:
        results, bundles = run_scan(columns_config(cluster, columns), Path.cwd())
    finally:
        mp.undo()
    return results, bundles[0]


@pytest.fixture(scope="session")
def design_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("column-design")


@pytest.fixture(scope="session")
def column_weak_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("column-weak")


@pytest.fixture(scope="session")
def design_scan(design_cluster: Cluster) -> tuple[ScanResults, Facts]:
    return scan(design_cluster, DESIGN_COLUMNS)


@pytest.fixture(scope="session")
def weak_scan(column_weak_cluster: Cluster) -> tuple[ScanResults, Facts]:
    return scan(column_weak_cluster, WEAK_COLUMNS)


@pytest.fixture(scope="session")
def hostile_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("column-hostile")
