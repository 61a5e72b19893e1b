"""Helpers for the auth tests: the weak-auth cluster, offline evaluation of pg_hba files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.catalog import all_checks
from auditor.checks.base import Check
from auditor.collectors.hba_file import HbaFileFacts
from auditor.facts import Facts, TargetContext
from auditor.lab.cluster import Cluster
from auditor.model import Result
from auditor.pghba.parser import parse_file
from auditor.runner import evaluate
from tests.conftest import AUDITOR_PASSWORD, FIXTURES, ClusterFactory

HBA_FIXTURES = FIXTURES / "pg_hba"
HBA_CHECKS = (
    "auth.hba_hostssl_only",
    "auth.hba_no_trust",
    "auth.hba_strong_methods",
    "auth.hba_network_scope",
    "auth.hba_remote_superuser",
)
AUTH_CHECKS = (*HBA_CHECKS, "auth.password_encryption", "auth.role_password_hashes")


def checks(ids: tuple[str, ...] = HBA_CHECKS) -> list[Check]:
    catalog = all_checks()
    return [catalog[i] for i in ids]


def evaluate_file(path: Path) -> list[Result]:
    """The auth.hba_* verdicts on a pg_hba file alone (offline audit, no server facts)."""
    facts = Facts(target=TargetContext(name="offline", kind="postgres"))
    facts.add(HbaFileFacts(rules=parse_file(path)))
    return evaluate(facts, checks())


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)


@pytest.fixture(scope="session")
def auth_weak_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("auth-weak")
