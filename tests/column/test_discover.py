"""`auditor discover` on a real cluster: it proposes the columns holding OpenPGP ciphertext and
those holding plaintext personal data, as YAML a person reviews, and never prints a sampled
value (canary). Also `policy: {ciphertext_columns_are_sensitive: true}` in a scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.model import Status
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, ClusterFactory
from tests.spine.test_cli import run_cli

ENV = "AUDITOR_DISCOVER_PW"
CANARY = "canary7f3a9q"
ENCRYPT = "encode(pgp_sym_encrypt({}, 'k', 'cipher-algo=aes256, s2k-mode=1'), 'base64')"
SEED = f"""
CREATE ROLE auditor LOGIN PASSWORD '{AUDITOR_PASSWORD}' IN ROLE pg_monitor;
CREATE EXTENSION pgcrypto;
CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text,          -- declared, encrypted
    secret_note text,    -- undeclared, encrypted
    contact text,        -- undeclared, encrypted for most rows, plaintext for some
    notes text,          -- undeclared plaintext emails (the canary)
    "evil
key: x" text,            -- a hostile name holding plaintext emails
    city text            -- nothing personal
);
INSERT INTO customers (email, secret_note, contact, notes, "evil
key: x", city)
SELECT {ENCRYPT.format("'user' || g || '@example.com'")},
       {ENCRYPT.format("'note ' || g")},
       CASE WHEN g <= 30 THEN {ENCRYPT.format("'c' || g")} ELSE 'n/a' END,
       '{CANARY}' || g || '@zzcanary.example',
       'evil' || g || '@example.org',
       'Springfield'
FROM generate_series(1, 40) g;
GRANT SELECT ON customers TO auditor;
"""


@pytest.fixture(scope="module")
def cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster(Variant(name="discover", seed_sql=SEED))


def write_config(cluster: Cluster, folder: Path, extra: str = "") -> Path:
    path = folder / "auditor.yaml"
    path.write_text(
        "targets:\n  - name: shop\n"
        f"    dsn: '{cluster.dsn('auditor')}'\n    password: {{env: {ENV}}}\n"
        "    sensitive_columns: [customers.email]\n" + extra
    )
    return path


def test_discover_proposes_ciphertext_and_personal_data_columns(
    cluster: Cluster, tmp_path: Path
) -> None:
    proc = run_cli(
        "discover", "-c", str(write_config(cluster, tmp_path)), env={ENV: AUDITOR_PASSWORD}
    )
    assert proc.returncode == 0, proc.stderr
    document = yaml.safe_load(proc.stdout)
    assert list(document) == ["targets"]  # a hostile column name added no key
    [target] = document["targets"]
    assert set(target) == {"name", "sensitive_columns"} and target["name"] == "shop"
    proposed = set(target["sensitive_columns"])
    assert proposed == {
        "customers.email",
        "customers.secret_note",
        "customers.contact",
        "customers.notes",
        'customers."evil\nkey: x"',
    }
    text = proc.stdout
    assert "# ciphertext: 40 of 40 sampled values are OpenPGP ciphertext (aes256) (already " in text
    assert "# ciphertext: 30 of 40 sampled values are OpenPGP ciphertext (aes256)\n" in text
    assert "# personal data: plaintext email in 40 of 40\n" in text
    assert "city" not in text
    assert "ciphertext_columns_are_sensitive: true" in text


def test_discover_never_prints_sampled_values(cluster: Cluster, tmp_path: Path) -> None:
    proc = run_cli(
        "discover", "-c", str(write_config(cluster, tmp_path)), env={ENV: AUDITOR_PASSWORD}
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "customers.notes" in out  # the column is named...
    for fragment in (CANARY, "zzcanary", "@example", "Springfield", "user1", "n/a", "***"):
        assert fragment not in out  # ...but none of its values, masked or not


def test_discover_names_an_unreadable_target_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "auditor.yaml"
    config.write_text(
        "targets:\n  - name: gone\n    dsn: 'postgresql://auditor@127.0.0.1:1/app'\n"
        "    connect_timeout_seconds: 2\n"
    )
    proc = run_cli("discover", "-c", str(config))
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("auditor: gone: not discovered: unreachable")
    assert "sensitive_columns: []" in proc.stdout


def scan(cluster: Cluster, policy: str) -> dict[tuple[str, str | None], Status]:
    os.environ[ENV] = AUDITOR_PASSWORD
    text = (
        "targets:\n  - name: shop\n"
        f"    dsn: '{cluster.dsn('auditor')}'\n    password: {{env: {ENV}}}\n"
        "    sensitive_columns: [customers.email]\n" + policy
    )
    results, _ = run_scan(parse_config(text, "c.yaml"), Path.cwd())
    return {
        (f.check_id, f.resource): f.status
        for f in results.findings
        if f.check_id == "column.sensitive_encrypted"
    }


def test_ciphertext_columns_count_as_declared_by_policy(cluster: Cluster) -> None:
    plain = scan(cluster, "")
    assert plain == {("column.sensitive_encrypted", "customers.email"): Status.PASS}
    promoted = scan(cluster, "policy: {ciphertext_columns_are_sensitive: true}\n")
    assert promoted == {
        ("column.sensitive_encrypted", "customers.email"): Status.PASS,
        ("column.sensitive_encrypted", "customers.secret_note"): Status.PASS,
        # encrypted for 30 rows, 'n/a' in 10: now judged like a declared column
        ("column.sensitive_encrypted", "customers.contact"): Status.FAIL,
    }
