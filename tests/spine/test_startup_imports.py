"""`auditor --help` and `auditor checks list` start without the heavy modules.

Module-presence tests, not timings: a fresh interpreter's `-X importtime` log names every
module it imported, so a module-level import of psycopg, sslyze, WeasyPrint and the like
added to `auditor.cli` or to `auditor/commands/*` fails here whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor import catalog, check_index
from auditor.check_index import CheckRow, check_rows, rows_from_catalog

# Top-level packages a listing or a help text never needs (seconds of start-up between them).
HEAVY = (
    "psycopg",
    "sslyze",
    "nassl",
    "weasyprint",
    "boto3",
    "botocore",
    "jinja2",
    "cryptography",
    "pydantic",
    "yaml",
    "rich",
)
# Auditor's own heavy layers: the scan engine, the checks and their fact models.
HEAVY_OWN = ("auditor.runner", "auditor.catalog", "auditor.checks", "auditor.collectors")


def imported_modules(*args: str, cache: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AUDITOR_"))}
    env["AUDITOR_CACHE_DIR"] = str(cache)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "auditor" in names, "no import log: is -X importtime still honoured?"
    return names


def heavy_in(names: set[str]) -> list[str]:
    return sorted(
        n
        for n in names
        if n.split(".")[0] in HEAVY or any(n == h or n.startswith(h + ".") for h in HEAVY_OWN)
    )


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    assert heavy_in(imported_modules("-c", "import auditor.cli", cache=tmp_path)) == []


def test_help_loads_no_heavy_module(tmp_path: Path) -> None:
    assert heavy_in(imported_modules("-m", "auditor", "--help", cache=tmp_path)) == []


def test_checks_list_builds_its_cache_once_then_lists_without_the_checks(tmp_path: Path) -> None:
    first = imported_modules("-m", "auditor", "checks", "list", cache=tmp_path)
    assert "auditor.catalog" in first  # no cache yet: built from the catalog (the control)
    assert (tmp_path / check_index.CACHE_NAME).is_file()
    again = imported_modules("-m", "auditor", "checks", "list", cache=tmp_path)
    assert heavy_in(again) == []


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(check_index.CACHE_ENV, str(tmp_path))
    return tmp_path / check_index.CACHE_NAME


def test_cached_listing_is_the_catalog(cache: Path) -> None:
    built = check_rows()
    assert cache.is_file()
    assert check_rows() == built == rows_from_catalog()
    assert any(r.id == "transport.ssl_enabled" for r in built)


def test_a_cache_from_other_sources_is_not_trusted(cache: Path) -> None:
    check_rows()
    data = json.loads(cache.read_text())
    data["checks"] = [{"id": "stale.check", "severity": "low", "title": "gone", "kinds": []}]
    cache.write_text(json.dumps(data))  # same key: the forged row is served (the control)
    assert check_rows() == [CheckRow("stale.check", "low", "gone", ())]
    data["key"] = "0" * 64  # as after an edit of a check module or an upgrade
    cache.write_text(json.dumps(data))
    assert "stale.check" not in {r.id for r in check_rows()}
    cache.write_text("{torn")
    assert "transport.ssl_enabled" in {r.id for r in check_rows()}


def test_an_unwritable_cache_folder_still_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(check_index.CACHE_ENV, str(blocker / "sub"))
    assert "transport.ssl_enabled" in {r.id for r in check_rows()}


@pytest.fixture
def plugin_on_path(tmp_path: Path) -> Iterator[None]:
    """A distribution publishing a check through the entry-point group (as test_catalog's)."""
    (tmp_path / "acme_listed.py").write_text(
        "from auditor.checks.base import Check\n"
        "from auditor.model import Severity\n"
        "class AcmeListed(Check):\n"
        "    id = 'acme.listed'\n"
        "    title = 'Acme listed rule'\n"
        "    severity = Severity.LOW\n"
        "    rationale = 'Because.'\n"
    )
    dist = tmp_path / "acme_listed-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-listed\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[auditor.checks]\nacme = acme_listed\n")
    sys.path.insert(0, str(tmp_path))
    catalog.all_checks.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_listed", None)
        catalog.all_checks.cache_clear()


def test_a_plugin_bypasses_the_cache(cache: Path, plugin_on_path: None) -> None:
    row = {"id": "transport.ssl_enabled", "severity": "high", "title": "t", "kinds": []}
    cache.write_text(json.dumps({"key": check_index.sources_digest(), "checks": [row]}))
    assert check_index.plugins_may_exist()
    listed = {r.id for r in check_rows()}
    assert "acme.listed" in listed and len(listed) > 1  # the catalog, not the cache


def test_no_plugin_is_seen_on_the_plain_path() -> None:
    assert not check_index.plugins_may_exist()
