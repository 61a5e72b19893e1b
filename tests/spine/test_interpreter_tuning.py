"""A scan raises the garbage collector's young threshold and shortens the interpreter's
thread switch interval while it runs, and puts the process's own settings back afterwards
(auditor/interpreter_tuning.py)."""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.interpreter_tuning import SWITCH_INTERVAL, YOUNG_THRESHOLD, scanning_settings
from auditor.runner import run_scan

Settings = tuple[tuple[int, ...], float]


def current() -> Settings:
    return gc.get_threshold(), sys.getswitchinterval()


@pytest.fixture
def defaults() -> Iterator[Settings]:
    saved = current()
    gc.set_threshold(700, 10, 10)
    sys.setswitchinterval(0.005)
    yield current()
    gc.set_threshold(*saved[0])
    sys.setswitchinterval(saved[1])


def test_changed_inside_restored_after_even_when_nested_or_failing(defaults: Settings) -> None:
    with scanning_settings():
        assert current() == ((YOUNG_THRESHOLD, 10, 10), pytest.approx(SWITCH_INTERVAL))
        with pytest.raises(RuntimeError), scanning_settings():
            raise RuntimeError("a failing nested scan")
        assert current()[0][0] == YOUNG_THRESHOLD  # the outer scan still runs
    assert current() == defaults


def test_settings_the_process_already_chose_are_kept(defaults: Settings) -> None:
    gc.set_threshold(10 * YOUNG_THRESHOLD, 5, 5)
    sys.setswitchinterval(SWITCH_INTERVAL / 5)
    chosen = current()
    with scanning_settings():
        assert current() == chosen
    assert current() == chosen


def test_run_scan_runs_with_the_scanning_settings(defaults: Settings, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the target fails at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = (
        "targets:\n  - name: closed\n"
        f"    dsn: 'host=127.0.0.1 port={port} user=auditor dbname=app connect_timeout=2'\n"
        "    password: {env: NO_SUCH_VARIABLE_FOR_THIS_TEST}\n"
    )
    seen: list[Settings] = []
    config = parse_config(text, str(tmp_path / "scan.yaml"))
    results, _ = run_scan(config, tmp_path, progress=lambda name, state: seen.append(current()))
    assert results.targets and seen
    assert {s[0][0] for s in seen} == {YOUNG_THRESHOLD}
    assert all(s[1] == pytest.approx(SWITCH_INTERVAL) for s in seen)
    assert current() == defaults
