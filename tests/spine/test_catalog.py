"""Checks are discovered from the package and from entry points; duplicate ids are refused."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor import catalog
from auditor.catalog import CatalogError, all_checks, build_catalog
from auditor.checks.audit import ConnectionLogging
from auditor.checks.base import Check
from auditor.model import Severity


def test_builtin_checks_are_discovered_with_stable_ids() -> None:
    found = all_checks()
    for check_id in ("transport.ssl_enabled", "auth.password_encryption",
                     "audit.connection_logging"):
        assert check_id in found
    for check in found.values():
        assert check.id.count(".") == 1 and check.id == check.id.lower()
        assert check.title and check.rationale
        assert isinstance(check.severity, Severity)


def test_duplicate_ids_are_refused() -> None:
    class Impostor(Check):
        id = "audit.connection_logging"
        title = "same id"
        severity = Severity.LOW
        rationale = "x"

    with pytest.raises(CatalogError, match=r"duplicate check id 'audit\.connection_logging'"):
        build_catalog([ConnectionLogging, Impostor])


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A real third-party distribution on sys.path exposing a check through entry points."""
    (tmp_path / "acme_checks.py").write_text(
        "from auditor.checks.base import Check\n"
        "from auditor.model import Severity\n"
        "class AcmeRule(Check):\n"
        "    id = 'acme.rule'\n"
        "    title = 'Acme house rule'\n"
        "    severity = Severity.LOW\n"
        "    rationale = 'Because Acme says so.'\n"
        "    def run(self, facts):\n"
        "        return [self.passed(facts, 'ok')]\n"
    )
    dist = tmp_path / "acme_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[auditor.checks]\nacme = acme_checks\n")
    sys.path.insert(0, str(tmp_path))
    catalog.all_checks.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_checks", None)
        catalog.all_checks.cache_clear()


def test_entry_point_plugins_join_the_catalog(installed_plugin: None) -> None:
    found = all_checks()
    assert "acme.rule" in found
    assert "transport.ssl_enabled" in found
