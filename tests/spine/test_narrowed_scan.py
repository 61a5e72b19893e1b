"""A narrowed scan collects only what its checks read (no sampling for a transport-only scan,
no TLS probe for a column-only one), says so in its facts bundle, and a later evaluation of
that bundle reports the uncollected checks as not evaluated, never as passes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import ClassVar

import pytest

from auditor.catalog import all_checks
from auditor.checks.base import Check
from auditor.collectors.pg.columns import ColumnFacts
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import NOT_COLLECTED, Facts, TargetContext
from auditor.lab.cluster import Cluster
from auditor.model import Result, Severity, Status
from auditor.runner import evaluate, run_scan
from auditor.selection import SelectionError, select_checks
from tests.conftest import AUDITOR_PASSWORD, config_for, target_yaml
from tests.spine.test_cli import run_cli, write_config


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)


def _connections_during(cluster: Cluster, action: object) -> int:
    """TCP connections the server logged (log_connections = on) while `action` ran."""
    before = len(cluster.log_text().splitlines())
    assert callable(action)
    action()
    time.sleep(0.5)  # the server logs the last connection after the client returns
    added = cluster.log_text().splitlines()[before:]
    return sum("connection received" in line for line in added)


def test_transport_only_scan_samples_nothing(compliant_cluster: Cluster) -> None:
    results, bundles = run_scan(
        config_for(compliant_cluster), Path.cwd(), check_ids={"transport.tls_min_version"}
    )
    facts = bundles[0]
    assert set(facts.sections) == {"tls", "postgres"}
    assert facts.requested == {"tls", "postgres"}
    for section in ("columns", "code", "audit_log"):
        assert facts.gaps[section].reason == NOT_COLLECTED
    [verdict] = results.findings
    assert verdict.check_id == "transport.tls_min_version" and verdict.status is Status.PASS
    saved = facts.to_json()
    assert saved["requested_sections"] == ["postgres", "tls"]
    assert "columns" not in saved["sections"]


def test_column_only_scan_sends_no_tls_handshake(compliant_cluster: Cluster) -> None:
    config = config_for(compliant_cluster, sensitive_columns="[users.email]")
    found: dict[str, Facts] = {}

    def narrowed() -> None:
        _, bundles = run_scan(config, Path.cwd(), check_ids={"column.sensitive_encrypted"})
        found["narrowed"] = bundles[0]

    def full() -> None:
        run_scan(config, Path.cwd())

    assert _connections_during(compliant_cluster, narrowed) == 1  # the SQL session alone
    facts = found["narrowed"]
    assert "tls" not in facts.sections and facts.gaps["tls"].reason == NOT_COLLECTED
    assert facts.get(ColumnFacts).sample("users.email") is not None
    # The full scan of the same target probes TLS: many more connections.
    assert _connections_during(compliant_cluster, full) > 5


def test_tls_only_scan_of_a_dead_port_is_unreachable(compliant_cluster: Cluster) -> None:
    # No SQL session runs for a probe-only selection, so the probe decides reachability.
    text = "targets:\n" + target_yaml(
        "gone", "postgresql://auditor@127.0.0.1:1/app", connect_timeout_seconds=2
    )
    from auditor.config import parse_config

    results, _ = run_scan(
        parse_config(text, "t.yaml"), Path.cwd(), check_ids={"transport.tls13_supported"}
    )
    assert results.targets[0].status.value == "unreachable"


def test_evaluating_a_narrowed_bundle_passes_nothing_uncollected(
    compliant_cluster: Cluster,
) -> None:
    _, bundles = run_scan(
        config_for(compliant_cluster, sensitive_columns="[users.email]"),
        Path.cwd(),
        check_ids={"transport.tls_min_version", "transport.cipher_suites"},
    )
    reloaded = Facts.from_json(json.loads(json.dumps(bundles[0].to_json())))
    assert reloaded.requested == {"tls", "postgres"}
    checks = list(all_checks().values())
    results = evaluate(reloaded, checks)
    by_id = {c.id: c for c in checks}
    column_results = [r for r in results if r.check_id.startswith("column.")]
    assert column_results
    for result in results:
        if by_id[result.check_id].sections_read() & set(reloaded.sections):
            continue
        # Nothing the check reads was collected: it says so instead of judging.
        assert result.status is not Status.PASS, result
    for result in column_results:
        if result.check_id == "column.key_in_logs":
            continue  # reads the server settings, which were collected
        assert result.status is Status.SKIP and result.message == NOT_COLLECTED


class _Sneaky(Check):
    id = "test.sneaky"
    title = "reads a section it does not declare"
    severity = Severity.LOW
    rationale = "test"
    reads: ClassVar = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        facts.get(ColumnFacts)
        return [self.passed(facts, "should not get here")]


def test_a_check_reading_an_undeclared_section_errors() -> None:
    facts = Facts(target=TargetContext(name="t", kind="postgres"))
    [result] = evaluate(facts, [_Sneaky()])
    assert result.status is Status.ERROR
    assert "undeclared columns section" in result.message


def test_every_check_declares_what_it_reads(
    compliant_cluster: Cluster, weak_cluster: Cluster
) -> None:
    # Full scans exercise the catalog on real facts; an undeclared read would be an error.
    for cluster in (compliant_cluster, weak_cluster):
        results, _ = run_scan(config_for(cluster, sensitive_columns="[users.email]"), Path.cwd())
        undeclared = [r for r in results.findings if "reads the undeclared" in r.message]
        assert not undeclared, undeclared


def test_check_patterns() -> None:
    ids = [
        "transport.ssl_enabled",
        "transport.tls13_supported",
        "auth.hba_no_trust",
        "auth.password_encryption",
        "column.plaintext_pii",
    ]
    assert select_checks(ids) is None
    assert select_checks(ids, ["transport"]) == {
        "transport.ssl_enabled",
        "transport.tls13_supported",
    }
    assert select_checks(ids, ["transport.*"], ["*.tls13_*"]) == {"transport.ssl_enabled"}
    assert select_checks(ids, [], ["transport", "auth"]) == {"column.plaintext_pii"}
    assert select_checks(ids, ["*.hba_*"]) == {"auth.hba_no_trust"}
    with pytest.raises(SelectionError, match="unknown check id 'transprot'"):
        select_checks(ids, ["transprot"])
    with pytest.raises(SelectionError, match="leave no check"):
        select_checks(ids, ["auth"], ["auth.*"])


def test_cli_check_families_and_skips(compliant_cluster: Cluster, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        target_yaml("db", compliant_cluster.dsn("auditor"), password="{env: AUDITOR_TEST_PW}"),
    )
    facts_dir = tmp_path / "facts"
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--check",
        "transport.*",
        "--skip-check",
        "transport.client_*",
        "--format",
        "json",
        "-o",
        str(tmp_path / "out"),
        "--save-facts",
        str(facts_dir),
        env={"AUDITOR_TEST_PW": AUDITOR_PASSWORD},
    )
    assert proc.returncode in (0, 1), proc.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    ran = {f["check_id"] for f in document["findings"]}
    assert ran and all(c.startswith("transport.") for c in ran)
    assert not any(c.startswith("transport.client_") for c in ran)
    [bundle] = facts_dir.glob("*.json")
    proc = run_cli("evaluate", str(bundle), "--format", "json")
    evaluated = json.loads(proc.stdout)
    columns = [
        f
        for f in evaluated["findings"]
        if f["check_id"].startswith("column.") and f["check_id"] != "column.key_in_logs"
    ]
    assert columns and {f["status"] for f in columns} == {"skip"}
    assert all("not collected" in f["message"] for f in columns)
    proc = run_cli("scan", "-c", str(config), "--check", "transprot")
    assert proc.returncode == 2 and "unknown check id 'transprot'" in proc.stderr


def test_a_pgcrypto_only_scan_samples_no_column(compliant_cluster: Cluster) -> None:
    _, bundles = run_scan(
        config_for(compliant_cluster, sensitive_columns="[users.email]"),
        Path.cwd(),
        check_ids={"column.pgcrypto_installed"},
    )
    columns = bundles[0].get(ColumnFacts)
    assert columns.parts == () and columns.samples == ()
    assert columns.pgcrypto_version  # what the check reads was still collected


def test_a_declared_only_scan_samples_only_declared_columns(compliant_cluster: Cluster) -> None:
    config = config_for(compliant_cluster, sensitive_columns="[users.email]")
    _, full = run_scan(config, Path.cwd(), check_ids={"column.sensitive_encrypted",
                                                      "column.plaintext_pii"})
    assert any(not s.declared for s in full[0].get(ColumnFacts).samples)
    _, bundles = run_scan(config, Path.cwd(), check_ids={"column.sensitive_encrypted"})
    columns = bundles[0].get(ColumnFacts)
    assert columns.parts == ("declared",)
    assert [s.name for s in columns.samples] == ["users.email"]
    # Evaluated later, the PII search that was not run gives no verdict.
    reloaded = Facts.from_json(json.loads(json.dumps(bundles[0].to_json())))
    results = evaluate(reloaded, list(all_checks().values()))
    pii = [r for r in results if r.check_id == "column.plaintext_pii"]
    assert [(r.status, r.message) for r in pii] == [(Status.SKIP, NOT_COLLECTED)]
    encrypted = [r for r in results if r.check_id == "column.sensitive_encrypted"]
    assert encrypted and all(r.status is Status.PASS for r in encrypted)
