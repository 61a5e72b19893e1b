"""Secrets of the scanned server and of the scanner's own config never land in Auditor's files
or output: a real cluster holds canary values where owners put secrets (primary_conninfo set
with ALTER SYSTEM, a custom GUC holding a key, pg_hba LDAP/RADIUS credentials), the scanner's
DSN carries an sslpassword, and one target has an inline password and is unreachable. After a
full scan to every format with --save-facts and --history, no canary appears in any file, on
stdout or on stderr, while the facts still show that something was there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.lab.cluster import Cluster, Variant, free_port
from tests.conftest import AUDITOR_PASSWORD, PG_VARIANTS, ClusterFactory

PRIMARY_PW = "CANARY-primary-pw-7731"
PRIMARY_SSLPW = "CANARY-primary-sslpw-7732"
GUC_KEY = "CANARY-enc-key-7733"
GUC_BLOB = "Zq8Xw2Lm5Rt9Vb3Nc7Hj1Kp4CANARY"  # a token under an innocent name
LDAP_PW = "CANARY-ldap-bind-7734"
RADIUS_SECRET = "CANARY-radius-7735"
DSN_SSLPW = "CANARY-dsn-sslpw-7736"
APP_DSN_PW = "CANARY-app-dsn-pw-7737"
INLINE_PW = "CANARY-inline-pw-7738"
CANARIES = (
    PRIMARY_PW,
    PRIMARY_SSLPW,
    GUC_KEY,
    GUC_BLOB,
    LDAP_PW,
    RADIUS_SECRET,
    DSN_SSLPW,
    APP_DSN_PW,
    INLINE_PW,
    AUDITOR_PASSWORD,
)

SECRET_HBA = (
    "host all ldapuser 10.9.0.0/16 ldap ldapserver=ldap.example.com "
    'ldapbasedn="dc=example,dc=com" ldapbinddn="cn=reader,dc=example,dc=com" '
    f"ldapbindpasswd={LDAP_PW}\n"
    f"host all raduser 10.8.0.0/16 radius radiusservers=127.0.0.1 radiussecrets={RADIUS_SECRET}\n"
)


def _variant() -> Variant:
    base = PG_VARIANTS / "compliant"
    return Variant(
        name="secrets-canary",
        settings=(base / "postgresql.conf").read_text() + f"\napp.enc_key = '{GUC_KEY}'\n"
        f"app.settings_blob = '{GUC_BLOB}'\n",
        hba=(base / "pg_hba.conf").read_text() + SECRET_HBA,
        seed_sql=(base / "seed.sql").read_text(),
    )


@pytest.fixture(scope="module")
def canary_cluster(start_cluster: ClusterFactory) -> Cluster:
    cluster = start_cluster(_variant())
    with cluster.admin_connection() as conn:
        conn.autocommit = True
        conn.execute(
            "ALTER SYSTEM SET primary_conninfo = "
            f"'host=10.1.1.1 user=rep password={PRIMARY_PW} sslpassword={PRIMARY_SSLPW}'"
        )
        conn.execute("SELECT pg_reload_conf()")
        for _ in range(100):  # the reload is asynchronous
            if PRIMARY_PW in conn.execute("SHOW primary_conninfo").fetchone()[0]:
                break
            time.sleep(0.05)
        # The canaries really are on the server: the scan has something to leak.
        assert PRIMARY_PW in conn.execute("SHOW primary_conninfo").fetchone()[0]
        assert conn.execute("SHOW app.enc_key").fetchone()[0] == GUC_KEY
    return cluster


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.pop("AUDITOR_DEBUG", None)
    env["CANARY_AUDITOR_PW"] = AUDITOR_PASSWORD
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_no_canary_in_any_file_or_output(canary_cluster: Cluster, tmp_path: Path) -> None:
    hba_copy = tmp_path / "pg_hba.conf"
    hba_copy.write_text(SECRET_HBA)
    dsn = canary_cluster.dsn("auditor", sslpassword=DSN_SSLPW)
    app_dsn = f"postgresql://app:{APP_DSN_PW}@db.internal/app?sslmode=require"
    dead = f"postgresql://auditor:{INLINE_PW}@127.0.0.1:{free_port()}/app?sslmode=require"
    config = tmp_path / "auditor.yaml"
    config.write_text(
        "targets:\n"
        "  - name: canary\n"
        f"    dsn: '{dsn}'\n"
        "    password: {env: CANARY_AUDITOR_PW}\n"
        f"    application_dsns: ['{app_dsn}']\n"
        "    hba_file: pg_hba.conf\n"
        "    tls_probe: false\n"
        "  - name: unreachable\n"
        f"    dsn: '{dead}'\n"
        "    connect_timeout_seconds: 3\n"
        "    tls_probe: false\n"
    )
    formats = [
        a for f in ("json", "html", "sarif", "junit", "csv", "terminal") for a in ("--format", f)
    ]
    proc = _run(
        "scan", "-c", str(config), *formats, "-o", "out", "--save-facts", "facts",
        "--history", "hist/history.db", "--allow-errors", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr

    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for folder in ("out", "facts", "hist"):
        for path in (tmp_path / folder).rglob("*"):
            if path.is_file():
                texts[str(path.relative_to(tmp_path))] = path.read_bytes().decode(
                    "utf-8", "replace"
                )
    assert any(name.startswith("facts/") for name in texts)
    assert any(name.startswith("hist/") for name in texts)
    for name, text in texts.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary!r} leaked into {name}"

    # Redacted, not dropped: the facts still say that something was there.
    facts = json.loads((tmp_path / "facts" / "canary.facts.json").read_text())
    postgres = facts["sections"]["postgres"]
    from_files = {r["name"]: r["setting"] for r in postgres["file_settings"]}
    assert from_files["app.enc_key"] == f"<redacted secret setting, {len(GUC_KEY)} chars>"
    assert from_files["app.settings_blob"].startswith("<redacted high-entropy value")
    conninfo = postgres["settings"]["primary_conninfo"]["value"]
    assert "password=***" in conninfo and "sslpassword=***" in conninfo and "10.1.1.1" in conninfo
    options = [o for rule in facts["sections"]["postgres"]["hba_rules"] for o in rule["options"]]
    assert "ldapbindpasswd=***" in options and "radiussecrets=***" in options
    file_options = [
        o for r in facts["sections"]["hba_file"]["rules"]["rules"] for o in r["options"]
    ]
    assert "ldapbindpasswd=***" in file_options
    assert facts["target"]["options"]["dsn_params"].get("sslpassword") is None
    # The unreachable target failed (its error is reported, without its password).
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    dead_target = next(t for t in results["targets"] if t["name"] == "unreachable")
    assert dead_target["status"] == "unreachable" and dead_target["error"]
    # The application DSN is judged and named, its password masked.
    assert any(
        (f["resource"] or "").startswith("postgresql://app:***@db.internal")
        for f in results["findings"]
    )
