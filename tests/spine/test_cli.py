"""The command line as users and CI pipelines run it: real process, real clusters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import auditor
from auditor.gate import exit_code
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from tests.conftest import AUDITOR_PASSWORD, target_yaml

SCHEMA = Path(auditor.__file__).parent / "schemas" / "results-v1.schema.json"
SPINE = ["--check", "transport.ssl_enabled", "--check", "auth.password_encryption",
         "--check", "audit.connection_logging"]


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    full_env.pop("AUDITOR_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=300, check=False)


def write_config(tmp_path: Path, *targets: str) -> Path:
    path = tmp_path / "auditor.yaml"
    path.write_text("targets:\n" + "".join(targets))
    return path


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and auditor.__version__ in proc.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "auditor.yaml: config file not found"),
        ("targets:\n  - name: a\n    dsn: 'postgresql://h/db'\n    sslmode: require\n",
         "auditor.yaml:4: targets[0].sslmode: unknown key"),
        ("targets:\n  - name: a\n    dsn: 'http://h/db'\n",
         "auditor.yaml:3: targets[0].dsn: must start with postgresql://"),
        ("targets: [\n  oops", "auditor.yaml:2: invalid YAML"),
        ("targets:\n  - name: a\n    dsn: 'postgresql://h/db?sslmode=verifyfull'\n",
         "auditor.yaml:3: targets[0].dsn: sslmode 'verifyfull' is not one of"),
        ("targets:\n  - name: a\n    dsn: 'postgresql://h/db?sslrootcrt=ca.pem'\n",
         "auditor.yaml:3: targets[0].dsn: unknown connection parameter 'sslrootcrt'"),
        ("targets:\n  - name: a\n    dsn: 'postgresql://u:Canary%zz@h/db'\n",
         "auditor.yaml:3: targets[0].dsn: not a valid PostgreSQL URL"),
        (b"targets:\n  - name: caf\xe9\n", "auditor.yaml: config file is not UTF-8 text"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, content: str | bytes | None,
                                          expected: str) -> None:
    path = tmp_path / "auditor.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    proc = run_cli("scan", "-c", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Canary" not in proc.stderr  # a URL's password is never echoed


def test_malformed_quick_dsn_exits_2_with_one_line() -> None:
    proc = run_cli("scan", "--dsn", "postgresql://[::1/db")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--dsn" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("scan").returncode == 2
    proc = run_cli("scan", "--dsn", "postgresql://h/db", "--format", "docx")
    assert proc.returncode == 2 and "unknown format 'docx'" in proc.stderr
    proc = run_cli("scan", "--dsn", "postgresql://h/db", "--check", "nope.nothing")
    assert proc.returncode == 2 and "unknown check id 'nope.nothing'" in proc.stderr
    # Output choices that cannot be written are refused before anything is scanned (the
    # host does not exist: a scan would have taken the connect timeout and said so).
    for args, message in (
        (("--framework", "bogus", "--format", "html", "-o", str(tmp_path / "r.html")),
         "unknown framework 'bogus'"),
        (("--format", "pdf"), "format 'pdf' is binary: give -o/--output"),
        (("--format", "json", "--format", "sarif"), "several formats need -o/--output"),
    ):
        proc = run_cli("scan", "--dsn", "postgresql://u@no-such-host.invalid/db", *args)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"auditor: error: {message}")
        assert "no-such-host" not in proc.stderr and "internal error" not in proc.stderr
    proc = run_cli("evaluate", str(tmp_path / "none.facts.json"), "--format", "pdf")
    assert proc.returncode == 2 and "binary" in proc.stderr


def test_weak_scan_exits_1_and_json_matches_the_schema(weak_cluster: Cluster,
                                                       tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("weak", weak_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    out = tmp_path / "results.json"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(out), *SPINE,
                   env={"PW": AUDITOR_PASSWORD})
    assert proc.returncode == 1, proc.stderr
    document = json.loads(out.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    failed = {f["check_id"] for f in document["findings"] if f["status"] == "fail"}
    assert failed == {"auth.password_encryption", "audit.connection_logging"}
    assert document["run"]["config_digest"].startswith("sha256:")


def test_scan_into_a_folder_is_sealed_for_auditor_verify(weak_cluster: Cluster,
                                                         tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("weak", weak_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    out = tmp_path / "evidence"
    proc = run_cli("scan", "-c", str(config), "--format", "sarif", "--format", "csv",
                   "-o", str(out), *SPINE, env={"PW": AUDITOR_PASSWORD})
    assert proc.returncode == 1, proc.stderr
    assert {p.name for p in out.iterdir()} == {
        "results.sarif", "results.csv", "results.json", "manifest.json"}
    assert run_cli("verify", str(out)).returncode == 0
    with (out / "results.csv").open("a") as handle:
        handle.write("tampered\n")
    verdict = run_cli("verify", str(out))
    assert verdict.returncode == 1 and "results.csv" in verdict.stdout + verdict.stderr


def test_fail_on_threshold_gates_the_exit_code(weak_cluster: Cluster, tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("weak", weak_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    # The weak cluster fails a high and a medium check: --fail-on critical lets it through.
    proc = run_cli("scan", "-c", str(config), "--fail-on", "critical", *SPINE,
                   env={"PW": AUDITOR_PASSWORD})
    assert proc.returncode == 0, proc.stdout
    proc = run_cli("scan", "-c", str(config), "--fail-on", "high", *SPINE,
                   env={"PW": AUDITOR_PASSWORD})
    assert proc.returncode == 1


def test_unreachable_target_exits_3_and_the_other_is_scanned(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: PW}"),
        target_yaml("gone", "postgresql://auditor@127.0.0.1:1/app"),
        target_yaml("wrong-pw", compliant_cluster.dsn("auditor"), password="{env: BAD_PW}"),
    )
    env = {"PW": AUDITOR_PASSWORD, "BAD_PW": "not-the-password"}
    proc = run_cli("scan", "-c", str(config), "--format", "json", *SPINE, env=env)
    assert proc.returncode == 3, proc.stderr
    document = json.loads(proc.stdout)
    status = {t["name"]: t["status"] for t in document["targets"]}
    assert status == {"good": "scanned", "gone": "unreachable", "wrong-pw": "error"}
    assert "Traceback" not in proc.stderr
    proc = run_cli("scan", "-c", str(config), "--allow-errors", *SPINE, env=env)
    assert proc.returncode == 0


def test_canary_password_appears_nowhere(compliant_cluster: Cluster, tmp_path: Path) -> None:
    canary = "Canary-Pw-7f3a9c1e"
    with compliant_cluster.admin_connection() as conn:
        conn.execute(f"ALTER ROLE app PASSWORD '{canary}'")
        conn.commit()
    config = write_config(
        tmp_path,
        target_yaml("env-pw", compliant_cluster.dsn("app"), password="{env: CANARY_PW}"),
        target_yaml("inline-pw", compliant_cluster.dsn("app").replace(
            "postgresql://app@", f"postgresql://app:{canary}@")),
        target_yaml("bad-login", compliant_cluster.dsn("nobody"), password="{env: CANARY_PW}"),
    )
    out = tmp_path / "out"
    facts = tmp_path / "facts"
    history = tmp_path / "history"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "--format", "terminal",
                   "-o", str(out), "--save-facts", str(facts), "--history", str(history),
                   *SPINE, env={"CANARY_PW": canary, "AUDITOR_DEBUG": ""})
    assert proc.returncode in (1, 3), proc.stderr
    kept = [p for p in history.rglob("*") if p.is_file()]
    assert kept, "the run was not kept in the history"
    produced = proc.stdout + proc.stderr + "".join(
        p.read_text() for p in [*out.iterdir(), *facts.iterdir(), *kept]
    )
    assert "env-pw" in produced and "inline-pw" in produced  # both were really reported
    document = json.loads((out / "results.json").read_text())
    assert {t["name"]: t["status"] for t in document["targets"]}["env-pw"] == "scanned"
    assert canary not in produced
    assert canary not in compliant_cluster.log_text()


def test_terminal_output_is_plain_when_piped(compliant_cluster: Cluster, tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("db", compliant_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    proc = run_cli("scan", "-c", str(config), *SPINE, env={"PW": AUDITOR_PASSWORD})
    assert "\x1b[" not in proc.stdout
    assert "PASS" in proc.stdout and "transport.ssl_enabled" in proc.stdout
    assert "(1 of 1 target scanned)" in proc.stdout


def _run_on_a_tty(*args: str, env: dict[str, str]) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal, as a person at a shell."""
    import pty

    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    full_env.pop("NO_COLOR", None)
    full_env.update({"TERM": "xterm-256color", "COLUMNS": "160", **env})
    proc = subprocess.Popen([sys.executable, "-m", "auditor", *args], stdout=follower,
                            stderr=follower, stdin=subprocess.DEVNULL, env=full_env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    proc.wait(timeout=120)
    return b"".join(chunks).decode(errors="replace")


def test_terminal_is_coloured_on_a_tty_unless_no_color(compliant_cluster: Cluster,
                                                       tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("db", compliant_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    coloured = _run_on_a_tty("scan", "-c", str(config), *SPINE, env={"PW": AUDITOR_PASSWORD})
    assert "collecting tls" in coloured  # the live progress display
    assert "\x1b[32mpass\x1b[0m" in coloured and "transport.ssl_enabled" in coloured
    plain = _run_on_a_tty("scan", "-c", str(config), *SPINE,
                          env={"PW": AUDITOR_PASSWORD, "NO_COLOR": "1"})
    assert "collecting tls" in plain
    # After the transient progress line is erased, the results are plain text.
    results_part = plain.rsplit("\x1b[2K", 1)[1]
    assert "\x1b[" not in results_part
    assert "PASS    -        transport.ssl_enabled" in results_part


def test_quick_dsn_form_reads_libpq_environment(compliant_cluster: Cluster) -> None:
    proc = run_cli("scan", "--dsn", compliant_cluster.dsn("auditor"), "--format", "json",
                   *SPINE, env={"PGPASSWORD": AUDITOR_PASSWORD})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["targets"][0]["status"] == "scanned"


def test_checks_list_and_show() -> None:
    listing = run_cli("checks", "list")
    assert listing.returncode == 0 and "auth.password_encryption" in listing.stdout
    shown = run_cli("checks", "show", "audit.connection_logging")
    assert shown.returncode == 0 and "log_disconnections" in shown.stdout
    assert run_cli("checks", "show", "no.such").returncode == 2


def _results(*findings: Result, targets: tuple[TargetOutcome, ...] | None = None
             ) -> ScanResults:
    return ScanResults("r", "t0", "t1", targets or (
        TargetOutcome("db", "postgres", TargetStatus.SCANNED),), findings, "0")


def _finding(status: Status, severity: Severity) -> Result:
    return Result("x.y", "db", status, severity, "t", "m")


def test_exit_code_contract() -> None:
    assert exit_code(_results(_finding(Status.PASS, Severity.HIGH)), Severity.LOW) == 0
    assert exit_code(_results(_finding(Status.FAIL, Severity.LOW)), Severity.LOW) == 1
    assert exit_code(_results(_finding(Status.FAIL, Severity.LOW)), Severity.MEDIUM) == 0
    assert exit_code(_results(_finding(Status.WAIVED, Severity.CRITICAL)), Severity.LOW) == 0
    errored = _results(_finding(Status.ERROR, Severity.HIGH))
    assert exit_code(errored, Severity.LOW) == 3
    assert exit_code(errored, Severity.LOW, allow_errors=True) == 0
    down = _results(targets=(TargetOutcome("db", "postgres", TargetStatus.UNREACHABLE),))
    assert exit_code(down, Severity.LOW) == 3
    both = _results(_finding(Status.FAIL, Severity.HIGH), _finding(Status.ERROR, Severity.LOW))
    assert exit_code(both, Severity.LOW) == 1


def test_validate_reports_ok_or_the_first_problem(tmp_path: Path) -> None:
    good = write_config(tmp_path, target_yaml("a", "postgresql://u@h/db"))
    proc = run_cli("validate", "-c", str(good))
    assert proc.returncode == 0 and "ok (1 target: postgres)" in proc.stdout
    good.write_text("targets:\n  - name: a\n    kind: vault\n    address: http://v\n")
    proc = run_cli("validate", "-c", str(good))
    assert proc.returncode == 2
    assert "auditor.yaml:2: targets[0].secrets: required key is missing" in proc.stderr
