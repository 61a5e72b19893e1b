"""Files Auditor writes: symlinks planted in an output folder are replaced, never written
through; unusable output, history and --save-facts paths are refused before anything is
scanned; target names reach file names only as safe slugs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.formatters.base import RenderOptions
from auditor.lab.cluster import Cluster
from auditor.output import OutputError, pick_formatters, write_outputs
from auditor.safe_files import file_stems
from tests.conftest import AUDITOR_PASSWORD
from tests.report.sample import sample_results


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.pop("AUDITOR_DEBUG", None)
    env["AUDITOR_TEST_PW"] = AUDITOR_PASSWORD
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


# -- symlinks --------------------------------------------------------------------------------


def test_symlink_planted_at_a_report_file_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").symlink_to(victim)
    (out / "results.json").symlink_to(victim)
    chosen = pick_formatters(("html", "json"))
    write_outputs(sample_results(), chosen, out, RenderOptions())
    assert victim.read_text() == "precious\n"
    assert not (out / "report.html").is_symlink() and "<html" in (out / "report.html").read_text()
    assert json.loads((out / "results.json").read_text())["schema"] == "auditor/results/v1"


def test_symlink_planted_at_a_single_output_file_is_replaced(tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    link = tmp_path / "scan.sarif"
    link.symlink_to(victim)
    write_outputs(sample_results(), pick_formatters(("sarif",)), link, RenderOptions())
    assert victim.read_text() == "precious\n" and not link.is_symlink()


def test_symlinked_output_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    link = tmp_path / "out"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link"):
        write_outputs(sample_results(), pick_formatters(("html", "json")), link, RenderOptions())
    assert list(real.iterdir()) == []


# -- before the scan -------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port that records whether anything connected (a scan would)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize(
    ("flag", "make"),
    [
        ("-o", lambda d: (d / "taken").write_text("a file where a folder is needed")),
        ("--history", lambda d: (d / "taken").write_text("a file that is no database " * 50)),
        ("--history", lambda d: (d / "taken").mkdir()),  # an old results folder
        ("--save-facts", lambda d: (d / "taken").write_text("")),
        ("--save-facts", lambda d: (d / "taken").symlink_to(d, target_is_directory=True)),
    ],
)
def test_unusable_paths_are_refused_before_scanning(
    tmp_path: Path, listener: socket.socket, flag: str, make: object
) -> None:
    assert callable(make)
    make(tmp_path)
    port = listener.getsockname()[1]
    config = tmp_path / "c.yaml"
    config.write_text(
        f"targets:\n  - name: db\n    dsn: postgresql://a@127.0.0.1:{port}/d?sslmode=require\n"
    )
    formats = ["--format", "json", "--format", "html"] if flag == "-o" else []
    path = "taken/sub" if flag == "-o" else "taken"
    done = run_cli("scan", "-c", str(config), *formats, flag, path, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "taken" in done.stderr, done.stderr
    assert not _connected(listener), "the scan ran although its output could not be written"


def test_broken_waivers_file_is_refused_before_scanning(
    tmp_path: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    config = tmp_path / "c.yaml"
    config.write_text(f"targets:\n  - name: db\n    dsn: postgresql://a@127.0.0.1:{port}/d\n")
    (tmp_path / "w.yaml").write_text("waivers:\n  - check: [unclosed\n")
    done = run_cli("scan", "-c", str(config), "--waivers", "w.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "w.yaml:" in done.stderr and done.stderr.count("\n") == 1
    assert not _connected(listener)


# -- target names as file names --------------------------------------------------------------


def test_file_stems_keep_plain_names_and_slug_the_rest() -> None:
    stems = file_stems(["prod-db", "eu.orders_1", "../x", "a/b", "a_b", "..", "DB", "db", ""])
    assert stems["prod-db"] == "prod-db" and stems["eu.orders_1"] == "eu.orders_1"
    for name in ("../x", "a/b", "..", ""):
        assert "/" not in stems[name] and not stems[name].startswith(".")
    assert len(set(stems.values())) == len(stems)  # a/b and a_b, DB and db stay apart
    assert len({s.lower() for s in stems.values()}) == len(stems)


def test_hostile_target_names_stay_inside_the_facts_folder(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    dsn = compliant_cluster.dsn("auditor")
    targets = "".join(
        f"  - name: '{name}'\n    dsn: '{dsn}'\n    password: {{env: AUDITOR_TEST_PW}}\n"
        "    tls_probe: false\n"
        for name in ("../x", "a/b")
    )
    (work / "c.yaml").write_text("targets:\n" + targets)
    done = run_cli(
        "scan", "-c", "c.yaml", "--format", "json", "--format", "html", "-o", "out",
        "--save-facts", "facts", cwd=work,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert not (tmp_path / "x.facts.json").exists() and not (work / "x.facts.json").exists()
    bundles = sorted((work / "facts").iterdir())
    assert len(bundles) == 2 and all(p.parent == work / "facts" for p in bundles)
    # the reports were written, with the names as given
    results = json.loads((work / "out" / "results.json").read_text())
    assert {t["name"] for t in results["targets"]} == {"../x", "a/b"}
    assert {t["status"] for t in results["targets"]} == {"scanned"}
    # and the bundles re-evaluate offline under their real names
    again = run_cli("evaluate", *map(str, bundles), "--format", "json", cwd=work)
    assert again.returncode in (0, 1), again.stderr
    assert {t["name"] for t in json.loads(again.stdout)["targets"]} == {"../x", "a/b"}


# -- history ---------------------------------------------------------------------------------


def test_history_is_redacted_and_never_written_through_links(tmp_path: Path) -> None:
    from dataclasses import replace

    from auditor.store import HistoryDB, StoreLocationError

    base = sample_results()
    leaky = replace(
        base,
        findings=(
            replace(base.findings[0], message="server said: password=Hist-Canary-1 rejected"),
            *base.findings[1:],
        ),
    )
    path = tmp_path / "hist" / "history.db"
    with HistoryDB.open(str(path)) as store:
        store.save(leaky)
        assert store.load(leaky.run_id).findings[0].message.endswith("password=*** rejected")
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"Hist-Canary-1" not in stored and b"password=***" in stored
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    with pytest.raises(StoreLocationError, match="symbolic link"):
        HistoryDB.open(str(tmp_path / "linked" / "history.db"))
    (tmp_path / "link.db").symlink_to(real / "x.db")
    with pytest.raises(StoreLocationError, match="symbolic link"):
        HistoryDB.open(str(tmp_path / "link.db"))
    assert list(real.iterdir()) == []
