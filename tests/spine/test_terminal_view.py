"""The terminal as a person reads it: one clear line for a target that could not be reached
or logged into (with the likely fix) and its checks in one not-evaluated group, while the
JSON keeps every per-check result; quiet and failures-only views; the table fits the
terminal; a resource is not printed twice; `-o -` is standard output."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from auditor.formatters.base import RenderOptions
from auditor.formatters.terminal import TerminalFormatter
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import SPINE, run_cli, write_config

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def test_failed_targets_get_one_line_and_one_group(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: PW}"),
        target_yaml("gone", f"postgresql://auditor@127.0.0.1:{_closed_port()}/app"),
        target_yaml("wrong-pw", compliant_cluster.dsn("auditor"), password="{env: BAD_PW}"),
    )
    env = {"PW": AUDITOR_PASSWORD, "BAD_PW": "not-the-password"}
    proc = run_cli("scan", "-c", str(config), *SPINE, env=env)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    gone = [line for line in lines if "gone" in line and not line.startswith("  ")]
    assert len(gone) == 2, gone  # its target line and its one group line
    assert gone[0].startswith("target gone (postgres): unreachable - Connection refused")
    assert "likely fix: nothing accepts connections there: check host and port" in gone[0]
    assert gone[1] == (
        "NOT EVALUATED 3 checks on gone: the target was not scanned "
        "(see its line above; --format json lists each check)"
    )
    wrong = next(line for line in lines if line.startswith("target wrong-pw"))
    assert "password authentication failed" in wrong
    assert "likely fix: check the password source" in wrong
    # The failed login still got the TLS probe's verdict, listed as usual.
    assert any(line.startswith("PASS") and "wrong-pw" in line for line in lines)
    assert not any(line.startswith("ERROR") for line in lines)
    assert "3 of 3 targets" not in proc.stdout and "(1 of 3 targets scanned)" in proc.stdout

    # Machine consumers are unchanged: one error result per check and target.
    machine = run_cli("scan", "-c", str(config), *SPINE, "--format", "json", env=env)
    document = json.loads(machine.stdout)
    errors = [f for f in document["findings"] if f["target"] == "gone"]
    assert len(errors) == 3 and {f["status"] for f in errors} == {"error"}

    quiet = run_cli("scan", "-c", str(config), *SPINE, "-q", env=env)
    assert quiet.returncode == 3
    quiet_lines = quiet.stdout.splitlines()
    assert quiet_lines[-1].startswith("9 results:")
    assert not any(line.startswith(("PASS", "controls", "target good")) for line in quiet_lines)
    assert any(line.startswith("target gone") for line in quiet_lines)


def _results(*findings: Result, targets: tuple[TargetOutcome, ...]) -> ScanResults:
    return ScanResults("r", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", targets, findings, "0")


def _finding(
    status: Status, message: str, resource: str | None = None, check: str = "column.plaintext_pii"
) -> Result:
    return Result(check, "db", status, Severity.HIGH, "title", message, resource)


def test_failures_only_hides_passes_and_quiet_keeps_the_summary() -> None:
    results = _results(
        _finding(Status.PASS, "all fine", check="transport.ssl_enabled"),
        _finding(Status.SKIP, "nothing declared", check="column.sensitive_encrypted"),
        _finding(Status.FAIL, "holds e-mail addresses", "public.users.email"),
        targets=(TargetOutcome("db", "postgres", TargetStatus.SCANNED),),
    )
    fmt = TerminalFormatter()
    full = fmt.render(results, RenderOptions()).decode()
    assert "transport.ssl_enabled" in full and "column.sensitive_encrypted" in full
    failures = fmt.render(results, RenderOptions(failures_only=True)).decode()
    result_line = re.compile(r"^(PASS|SKIP|FAIL|ERROR|MANUAL|WAIVED) +\S+ +[a-z_]+\.")
    listed = [line.split()[0] for line in failures.splitlines() if result_line.match(line)]
    assert len([line for line in full.splitlines() if result_line.match(line)]) == 3
    assert listed == ["FAIL"], failures  # the pass and the skip are not listed
    assert "controls GDPR" in failures
    quiet = fmt.render(results, RenderOptions(quiet=True)).decode().splitlines()
    assert quiet[0].startswith("FAIL") and "column.plaintext_pii" in quiet[0]
    assert (
        quiet[1] == "3 results: 1 fail, 0 error, 0 waived, 0 manual, 1 skip, 1 pass "
        "(1 of 1 target scanned)"
    )
    assert len(quiet) == 2


def test_a_resource_named_in_the_message_is_not_repeated() -> None:
    results = _results(
        _finding(Status.FAIL, "public.users.email holds e-mail addresses", "public.users.email"),
        _finding(Status.FAIL, "holds card numbers", "public.users.notes"),
        _finding(Status.FAIL, "the application role can log in", "app", check="auth.x"),
        targets=(TargetOutcome("db", "postgres", TargetStatus.SCANNED),),
    )
    text = TerminalFormatter().render(results, RenderOptions()).decode()
    assert "db: public.users.email holds e-mail addresses" in text
    assert text.count("public.users.email") == 1
    assert "db / public.users.notes: holds card numbers" in text
    assert "db / app: the application role can log in" in text  # a word, not a prefix


def test_the_table_fits_the_terminal_width(monkeypatch: object) -> None:
    long = "a message long enough to need folding " * 6
    results = _results(
        _finding(Status.FAIL, long, "public.customers.card_number"),
        targets=(TargetOutcome("db", "postgres", TargetStatus.UNREACHABLE, "Connection refused"),),
    )
    fmt = TerminalFormatter()
    for width in (80, 120, 200):
        text = ANSI.sub("", fmt.render(results, RenderOptions(color=True, width=width)).decode())
        table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└━┗╇"]
        assert table_lines and max(len(line) for line in table_lines) <= width, width
    wide = ANSI.sub("", fmt.render(results, RenderOptions(color=True, width=200)).decode())
    assert max(len(line) for line in wide.splitlines()) > 160  # not fixed at 160 any more


def test_terminal_width_follows_columns(tmp_path: Path) -> None:
    # COLUMNS is the width the terminal announced; the plain (piped) text is not wrapped.
    proc = run_cli(
        "scan", "--dsn", f"postgresql://u@127.0.0.1:{_closed_port()}/db", env={"COLUMNS": "70"}
    )
    assert proc.returncode == 3
    assert any(len(line) > 70 for line in proc.stdout.splitlines())


def test_dash_output_is_standard_output(tmp_path: Path) -> None:
    dsn = f"postgresql://u@127.0.0.1:{_closed_port()}/db"
    proc = run_cli("scan", "--dsn", dsn, "--format", "json", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["schema"] == "auditor/results/v1"
    assert not (tmp_path / "-").exists()
    binary = run_cli("scan", "--dsn", dsn, "--format", "pdf", "-o", "-", cwd=tmp_path)
    assert binary.returncode == 2 and "is binary" in binary.stderr
    several = run_cli(
        "scan", "--dsn", dsn, "--format", "json", "--format", "csv", "-o", "-", cwd=tmp_path
    )
    assert several.returncode == 2 and not (tmp_path / "-").exists()


def test_libpq_keyword_dsn_scans_like_the_url(compliant_cluster: Cluster) -> None:
    assert compliant_cluster.certs is not None
    keywords = (
        f"host=localhost port={compliant_cluster.port} dbname=app user=auditor "
        f"sslmode=verify-full sslrootcert='{compliant_cluster.certs.ca_cert}'"
    )
    proc = run_cli("scan", "--dsn", keywords, "--format", "json", *SPINE,
                   env={"PGPASSWORD": AUDITOR_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["targets"][0]["name"] == "localhost-app"
    assert document["targets"][0]["status"] == "scanned"
    assert {f["status"] for f in document["findings"]} == {"pass"}


def test_a_server_without_tls_is_refused_with_the_way_out(start_cluster: object) -> None:
    plain = start_cluster("compliant", tls=None)  # type: ignore[operator]
    dsn = f"postgresql://auditor@localhost:{plain.port}/app?sslmode=require"
    proc = run_cli("scan", "--dsn", dsn, *SPINE, env={"PGPASSWORD": AUDITOR_PASSWORD})
    assert proc.returncode == 1, proc.stderr  # the TLS probe's own verdict: ssl is off
    line = next(x for x in proc.stdout.splitlines() if x.startswith("target "))
    assert "server does not support SSL" in line
    assert "opt out knowingly with ?sslmode=prefer" in line


def test_pdf_without_its_system_libraries_says_what_is_missing(tmp_path: Path) -> None:
    # WeasyPrint as it fails where Pango is absent: its import raises OSError from cffi.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "weasyprint.py").write_text(
        "raise OSError(\"cannot load library 'libpango-1.0-0': No such file\")\n"
    )
    dsn = f"postgresql://u@127.0.0.1:{_closed_port()}/db"
    proc = run_cli("scan", "--dsn", dsn, "--format", "pdf", "-o", str(tmp_path / "r.pdf"),
                   env={"PYTHONPATH": str(shadow)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "format 'pdf' cannot be written here" in proc.stderr
    assert "libpango-1.0-0" in proc.stderr and "install Pango" in proc.stderr
    assert not (tmp_path / "r.pdf").exists()
