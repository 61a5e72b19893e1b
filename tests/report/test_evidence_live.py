"""A signed scan of real clusters, end to end through the command line: what was examined and
as whom is in results.json and the report's scope section, `auditor verify --public-key`
proves the folder, and `auditor evaluate` on the saved facts keeps when they were observed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import jsonschema
import pytest

import auditor
from auditor.lab.cluster import Cluster
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import SPINE, run_cli, write_config

SCHEMA = Path(auditor.__file__).parent / "schemas" / "results-v1.schema.json"


@pytest.fixture(scope="module")
def scanned(
    compliant_cluster: Cluster, weak_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("signed-scan")
    assert run_cli("keygen", str(root / "org")).returncode == 0
    config = write_config(
        root,
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: PW}"),
        target_yaml("weak", weak_cluster.dsn("auditor"), password="{env: PW}"),
    )
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--format",
        "html",
        "--format",
        "json",
        "-o",
        str(root / "out"),
        "--save-facts",
        str(root / "facts"),
        *SPINE,
        env={"PW": AUDITOR_PASSWORD, "AUDITOR_SIGN_KEY": str(root / "org")},
    )
    assert proc.returncode == 1, proc.stderr
    return {"root": root, "out": root / "out", "facts": root / "facts"}


def test_the_scan_records_what_was_examined_and_as_whom(
    scanned: dict[str, Path], compliant_cluster: Cluster
) -> None:
    document = json.loads((scanned["out"] / "results.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    meta = document["run"]["metadata"]
    assert meta["scanner"]["host"] == socket.gethostname()
    assert meta["policy"]["tls_profile"] == "intermediate"
    inventory = {t["name"]: t["inventory"] for t in document["targets"]}
    good, weak = inventory["good"], inventory["weak"]
    assert good["endpoint"] == f"localhost:{compliant_cluster.port}"
    assert good["server_version"].startswith("15.")
    assert good["ssl_library"] == "OpenSSL" and isinstance(good["data_checksums"], bool)
    for inv in (good, weak):
        role = inv["role"]
        assert role["name"] == "auditor" and role["superuser"] is False
        assert role["bypass_rls"] is False and role["member_of"] == ["pg_monitor"]
    # The compliant cluster grants the file views to the scanning role, the weak one does not.
    assert good["role"]["file_views"] == {"pg_file_settings": True, "pg_hba_file_rules": True}
    assert weak["role"]["file_views"] == {"pg_file_settings": False, "pg_hba_file_rules": False}
    assert "GRANT" in weak["role"]["not_readable"]["hba_rules"]
    html = (scanned["out"] / "report.html").read_text()
    assert "Scope: assets examined" in html
    assert f"<tr><th>Scanned from</th><td>{meta['scanner']['user']}@{socket.gethostname()}" in html
    assert "tls_profile intermediate; min_tls_version TLSv1.2;" in html
    assert "allowed_column_ciphers aes256;" in html
    assert "<tr><th>Scan signature</th><td>key SHA256:" in html
    assert (
        "auditor: superuser no; bypassrls no; member of pg_monitor; reads pg_file_settings" in html
    )
    assert "cannot read pg_file_settings, pg_hba_file_rules" in html
    assert f"endpoint: {good['endpoint']}" in html and "ssl: on (OpenSSL)" in html


def test_the_signed_folder_verifies_and_the_key_stays_private(scanned: dict[str, Path]) -> None:
    done = run_cli("verify", str(scanned["out"]), "--public-key", str(scanned["root"] / "org.pub"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scan results signed by SHA256:" in done.stdout
    secret = "".join((scanned["root"] / "org").read_text().splitlines()[1:-1])
    for path in [*scanned["out"].iterdir(), *scanned["facts"].iterdir()]:
        assert secret not in path.read_text(), path


def test_evaluate_keeps_when_the_facts_were_observed(scanned: dict[str, Path]) -> None:
    scan = json.loads((scanned["out"] / "results.json").read_text())
    bundle = json.loads((scanned["facts"] / "good.facts.json").read_text())
    assert bundle["collected"]["run_id"] == scan["run"]["id"]
    assert bundle["collected"]["started_at"] == scan["run"]["started_at"]
    out = scanned["root"] / "evaluated.json"
    proc = run_cli(
        "evaluate",
        str(scanned["facts"] / "good.facts.json"),
        str(scanned["facts"] / "weak.facts.json"),
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert proc.returncode == 1, proc.stderr
    evaluated = json.loads(out.read_text())
    assert evaluated["run"]["id"] != scan["run"]["id"]
    for key in ("started_at", "finished_at", "config_digest"):
        assert evaluated["run"][key] == scan["run"][key], key
    meta = evaluated["run"]["metadata"]
    assert meta["evaluated"]["from_runs"] == [scan["run"]["id"]]
    assert meta["scanner"] == scan["run"]["metadata"]["scanner"]
    inventory = {t["name"]: t["inventory"] for t in evaluated["targets"]}
    assert inventory == {t["name"]: t["inventory"] for t in scan["targets"]}


def test_evaluate_of_an_old_bundle_does_not_invent_a_scanner(scanned: dict[str, Path]) -> None:
    bundle = json.loads((scanned["facts"] / "good.facts.json").read_text())
    del bundle["collected"]  # as saved before collection times were recorded
    old = scanned["root"] / "old.facts.json"
    old.write_text(json.dumps(bundle))
    out = scanned["root"] / "old-evaluated.json"
    proc = run_cli("evaluate", str(old), "--format", "json", "-o", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    run = json.loads(out.read_text())["run"]
    assert run["metadata"]["scanner"] is None and run["metadata"]["evaluated"]["from_runs"] == []
    assert run["config_digest"] is None


def test_findings_show_the_policy_value_beside_the_observed_one(scanned: dict[str, Path]) -> None:
    document = json.loads((scanned["out"] / "results.json").read_text())
    found = {
        f["target"]: f for f in document["findings"] if f["check_id"] == "auth.password_encryption"
    }
    assert found["weak"]["status"] == "fail" and found["good"]["status"] == "pass"
    assert found["weak"]["evidence"]["expected_vs_actual"] == {
        "expected": "scram-sha-256",
        "actual": "md5",
    }
    assert found["good"]["evidence"]["expected_vs_actual"]["actual"] == "scram-sha-256"
    html = (scanned["out"] / "report.html").read_text()
    assert "(expected scram-sha-256, observed md5)" in html


def test_signed_facts_bundles_are_checked_before_evaluation(scanned: dict[str, Path]) -> None:
    root, pub = scanned["root"], scanned["root"] / "org.pub"
    good = scanned["facts"] / "good.facts.json"
    bundle = json.loads(good.read_text())
    keyid = bundle["attestation"]["signatures"][0]["keyid"]
    assert keyid.startswith("SHA256:")
    out = root / "signed-evaluated.json"
    proc = run_cli(
        "evaluate", str(good), "--public-key", str(pub), "--format", "json", "-o", str(out)
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(out.read_text())["run"]["metadata"]["evaluated"]["facts_signed_by"] == [keyid]
    # One observed setting changed after the scan: refused, one line, exit 2.
    text = good.read_text()
    changed = text.replace('"scram-sha-256"', '"md5"', 1)
    assert changed != text
    tampered = root / "tampered.facts.json"
    tampered.write_text(changed)
    proc = run_cli("evaluate", str(tampered), "--public-key", str(pub))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "tampered.facts.json: facts bundle signature: content differs from what was signed"
        in (lines[0])
    )
    # Signed by another key, or not signed at all: refused as well.
    assert run_cli("keygen", str(root / "other")).returncode == 0
    proc = run_cli("evaluate", str(good), "--public-key", str(root / "other.pub"))
    assert proc.returncode == 2 and "does not verify with the given public key" in proc.stderr
    del bundle["attestation"]
    unsigned = root / "unsigned.facts.json"
    unsigned.write_text(json.dumps(bundle))
    proc = run_cli("evaluate", str(unsigned), "--public-key", str(pub))
    assert proc.returncode == 2 and "unsigned.facts.json: facts bundle signature: not signed" in (
        proc.stderr
    )
