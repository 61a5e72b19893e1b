"""A scan raises the garbage collector's young threshold while it runs and puts the process's
own setting back afterwards (auditor/gc_tuning.py: about a tenth of the scanner's CPU on a
10,000-table database went to collections)."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.gc_tuning import YOUNG_THRESHOLD, fewer_collections
from auditor.runner import run_scan


@pytest.fixture
def default_threshold() -> Iterator[tuple[int, ...]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_raised_inside_restored_after_even_when_nested_or_failing(
    default_threshold: tuple[int, ...],
) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        with pytest.raises(RuntimeError), fewer_collections():
            raise RuntimeError("a failing nested scan")
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the outer scan still runs
    assert gc.get_threshold() == default_threshold


def test_a_higher_setting_of_the_process_is_kept(default_threshold: tuple[int, ...]) -> None:
    gc.set_threshold(10 * YOUNG_THRESHOLD, 5, 5)
    with fewer_collections():
        assert gc.get_threshold() == (10 * YOUNG_THRESHOLD, 5, 5)
    assert gc.get_threshold() == (10 * YOUNG_THRESHOLD, 5, 5)


def test_run_scan_runs_with_the_raised_threshold(
    default_threshold: tuple[int, ...], tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the target fails at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = (
        "targets:\n  - name: closed\n"
        f"    dsn: 'host=127.0.0.1 port={port} user=auditor dbname=app connect_timeout=2'\n"
        "    password: {env: NO_SUCH_VARIABLE_FOR_GC_TEST}\n"
    )
    seen: list[int] = []
    config = parse_config(text, str(tmp_path / "scan.yaml"))
    results, _ = run_scan(
        config, tmp_path, progress=lambda name, state: seen.append(gc.get_threshold()[0])
    )
    assert results.targets and seen
    assert set(seen) == {YOUNG_THRESHOLD}
    assert gc.get_threshold() == default_threshold
