"""Database passwords fetched at scan time from secret stores and platform token services,
each logging in to a real cluster whose role has exactly that password: HashiCorp Vault KV v2
(real hvac client), Azure Key Vault (real azure-keyvault-secrets client, HTTPS, challenge
protocol) and Google Secret Manager (real client, REST) against local servers replaying their
answers; AWS Secrets Manager against the moto server; Azure AD tokens through azure-identity's
managed-identity protocol and Cloud SQL IAM tokens through google-auth's refresh, both replayed.
RDS IAM tokens are signed URLs; a fake server that asks for a cleartext password shows the
connection attempt carries one. Every fetched value is a canary that must appear nowhere: not
in results, reports, facts, history, the terminal, errors or the server log."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from auditor import redact
from auditor.config import ConfigError, parse_config
from auditor.lab.certs import CertSpec, IssuedCerts, issue
from auditor.lab.cluster import Cluster
from auditor.model import TargetStatus
from auditor.runner import run_scan
from tests.hostile.test_credentials import PasswordCatcher
from tests.support.replay import load_recording, replay_server

CHECK = {"transport.ssl_enabled"}  # any one check: the login is what is under test
REPO = Path(__file__).resolve().parents[2]


def canary(kind: str) -> str:
    # Characters a quoting bug would trip on, and unique per test so a leak is unambiguous.
    return f"Canary-{kind}-{uuid.uuid4().hex[:10]}#/?&'\""


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    redact.forget_secrets()


def login_role(cluster: Cluster, password: str) -> str:
    """A role of its own (with the scanner's grants) whose password is `password`."""
    role = f"store_{uuid.uuid4().hex[:8]}"
    with cluster.admin_connection(autocommit=True) as conn:
        conn.execute("SET log_statement = 'none'")  # the server log is checked for leaks
        conn.execute(f"CREATE ROLE {role} LOGIN IN ROLE auditor")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
    return role


def config_text(cluster: Cluster, role: str, password_yaml: str, extra: str = "") -> str:
    return (
        "targets:\n"
        f"  - name: db\n    dsn: '{cluster.dsn(role)}'\n    password: {password_yaml}\n" + extra
    )


def scan(text: str) -> tuple[TargetStatus, str | None, dict[str, Any] | None]:
    results, _ = run_scan(parse_config(text, "stores.yaml"), Path.cwd(), check_ids=CHECK)
    target = results.targets[0]
    return target.status, target.error, target.inventory


def logged_in_as(role: str, text: str) -> None:
    status, error, inventory = scan(text)
    assert (status, error) == (TargetStatus.SCANNED, None)
    assert inventory is not None and inventory["role"]["name"] == role


def cli_scan(tmp_path: Path, text: str, env: dict[str, str]) -> tuple[int, str, list[Path]]:
    """`auditor scan` in a child process writing every format, facts and history."""
    config = tmp_path / "auditor.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "scan",
            "-c",
            str(config),
            "-o",
            str(out),
            "--format",
            "json",
            "--format",
            "sarif",
            "--format",
            "html",
            "--format",
            "csv",
            "--format",
            "terminal",
            "--save-facts",
            str(tmp_path / "facts"),
            "--history",
            str(tmp_path / "history"),
            "--check",
            "transport.ssl_enabled",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env={**os.environ, **env, "AUDITOR_DEBUG": ""},
    )
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != config]
    return proc.returncode, proc.stdout + proc.stderr, files


def assert_nowhere(value: str, text: str, files: list[Path], cluster: Cluster) -> None:
    assert files, "the scan wrote nothing"
    for piece in (value, value[:-4]):
        assert piece not in text
        for path in files:
            assert piece.encode() not in path.read_bytes(), path
        assert piece not in cluster.log_text()


# -- HashiCorp Vault -------------------------------------------------------------------------

VAULT_TOKEN = "hvs.canary-vault-token-9e21"


def vault_recording(path: str, secret: dict[str, str]) -> dict[str, Any]:
    return {
        "interactions": [
            {
                "method": "GET",
                "path": f"/v1/secret/data/{path}",
                "status": 200,
                "body": {"data": {"data": secret, "metadata": {"version": 3}}},
            }
        ],
        "not_found": {"errors": []},
    }


def test_vault_password_logs_in_and_appears_nowhere(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    password = canary("vault")
    role = login_role(compliant_cluster, password)
    recording = vault_recording("app/prod/db", {"username": role, "password": password})
    with replay_server(recording) as vault:
        ref = f"{{vault: app/prod/db, address: '{vault.url}', token: {{env: T_VAULT}}}}"
        missing = f"{{vault: app/prod/gone, address: '{vault.url}', token: {{env: T_VAULT}}}}"
        text = config_text(compliant_cluster, role, ref) + (
            f"  - name: other\n    dsn: '{compliant_cluster.dsn(role)}'\n    password: {missing}\n"
        )
        code, said, files = cli_scan(tmp_path, text, {"T_VAULT": VAULT_TOKEN})
        assert {h.get("x-vault-token") for _, _, h in vault.requests} == {VAULT_TOKEN}
        assert {(m, p) for m, p, _ in vault.requests} == {
            ("GET", "/v1/secret/data/app/prod/db"),
            ("GET", "/v1/secret/data/app/prod/gone"),
        }
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    targets = {t["name"]: t for t in results["targets"]}
    # The first target logged in with the fetched password; the second could not get its
    # own, is an error with one line naming target and store, and did not stop the first.
    assert targets["db"]["status"] == "scanned"
    assert targets["db"]["inventory"]["role"]["name"] == role
    assert targets["other"]["status"] == "error"
    assert targets["other"]["error"] == (
        "target 'other': cannot get the password from Vault secret/data/app/prod/gone key "
        "password: no such secret"
    )
    assert code == 3
    assert_nowhere(password, said, files, compliant_cluster)
    assert VAULT_TOKEN not in said


def test_vault_secret_without_the_key(
    compliant_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = canary("vault-key")
    recording = vault_recording("app/db", {"user": "x", "pass": value})
    monkeypatch.setenv("T_VAULT", VAULT_TOKEN)
    with replay_server(recording) as vault:
        ref = f"{{vault: app/db, address: '{vault.url}', token: {{env: T_VAULT}}}}"
        status, error, _ = scan(config_text(compliant_cluster, "auditor", ref))
        # The address is VAULT_ADDR's when the reference gives none.
        monkeypatch.setenv("VAULT_ADDR", vault.url)
        ref = "{vault: app/db, key: pass, token: {env: T_VAULT}}"
        _, other, _ = scan(config_text(compliant_cluster, "auditor", ref))
    assert status is TargetStatus.ERROR
    assert error == ("target 'db': cannot get the password from Vault secret/data/app/db key "
                     "password: the secret has no string under key 'password'")
    # key: pass is found; that value is not the scanner role's password, so the login fails,
    # with no trace of the value in the reason.
    assert other is not None and "password authentication failed" in other
    assert value not in other


# -- AWS Secrets Manager (moto) -------------------------------------------------------------


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """moto's emulator, in process (its server mode needs Flask, which is not installed):
    botocore signs and sends each request, moto answers at the default endpoints."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARYTESTKEY001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-aws-secret-access-key")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def put_aws_secret(name: str, value: str, region: str = "eu-west-1") -> str:
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    arn: str = client.create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def test_aws_secret_json_and_plain_log_in(compliant_cluster: Cluster, moto: None) -> None:
    password = canary("aws")
    role = login_role(compliant_cluster, password)
    name = f"prod/{role}"
    arn = put_aws_secret(name, json.dumps({"username": role, "password": password}))
    # By ARN (the region comes from it) with the JSON key RDS uses by default.
    logged_in_as(role, config_text(compliant_cluster, role, f"{{aws_secret: '{arn}'}}"))
    # By name, a plain-string secret, region given.
    put_aws_secret(name + "-plain", password, region="us-east-2")
    logged_in_as(
        role,
        config_text(compliant_cluster, role, f"{{aws_secret: {name}-plain, region: us-east-2}}"),
    )
    # A JSON secret whose key is named.
    put_aws_secret(name + "-k", json.dumps({"pw": password}))
    logged_in_as(
        role,
        config_text(
            compliant_cluster, role, f"{{aws_secret: {name}-k, key: pw, region: eu-west-1}}"
        ),
    )


def test_aws_secret_failures_are_one_line(compliant_cluster: Cluster, moto: None) -> None:
    status, error, _ = scan(
        config_text(compliant_cluster, "auditor", "{aws_secret: prod/absent, region: eu-west-1}")
    )
    assert status is TargetStatus.ERROR
    assert error == (
        "target 'db': cannot get the password from AWS Secrets Manager secret "
        "prod/absent (eu-west-1): ResourceNotFoundException"
    )
    value = canary("aws-plain")
    put_aws_secret("prod/plain-but-key", value)
    _, error, _ = scan(
        config_text(
            compliant_cluster,
            "auditor",
            "{aws_secret: prod/plain-but-key, key: password, region: eu-west-1}",
        )
    )
    assert error is not None and error.endswith(
        "the secret is a plain string, not a JSON object with key 'password'"
    )
    assert value not in error
    # An endpoint that does not answer (endpoint_url is where requests go).
    _, error, _ = scan(
        config_text(
            compliant_cluster,
            "auditor",
            "{aws_secret: prod/x, region: eu-west-1, endpoint_url: 'http://127.0.0.1:9'}",
        )
    )
    assert error is not None and error.endswith(": cannot reach the endpoint")


# -- RDS IAM authentication tokens -----------------------------------------------------------


def test_rds_iam_token_is_the_password_sent(aws_env: None) -> None:
    catcher = PasswordCatcher()
    try:
        dsn = f"postgresql://iam_user@127.0.0.1:{catcher.port}/app?sslmode=prefer"
        text = (
            f"targets:\n  - name: rds\n    dsn: '{dsn}'\n"
            "    password: {rds_iam: true, region: eu-west-1}\n"
        )
        results, bundles = run_scan(parse_config(text, "rds.yaml"), Path.cwd(), check_ids=CHECK)
    finally:
        catcher.close()
    assert len(catcher.caught) >= 1
    token = catcher.caught[0].decode()
    # A SigV4-presigned connect URL for this host, port and user, signed with our key.
    assert token.startswith(f"127.0.0.1:{catcher.port}/?Action=connect&DBUser=iam_user&")
    assert "X-Amz-Credential=AKIACANARYTESTKEY001%2F" in token
    assert "%2Feu-west-1%2Frds-db%2Faws4_request" in token and "X-Amz-Signature=" in token
    everything = json.dumps([b.to_json() for b in bundles]) + repr(results)
    assert token not in everything and token.split("X-Amz-Signature=")[1] not in everything
    assert results.targets[0].status is not TargetStatus.SCANNED


def test_rds_iam_needs_a_region_and_one_host(
    monkeypatch: pytest.MonkeyPatch, aws_env: None
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    text = (
        "targets:\n  - name: rds\n    dsn: 'postgresql://u@db.example:5432/app'\n"
        "    password: {rds_iam: true}\n"
    )
    results, _ = run_scan(parse_config(text, "rds.yaml"), Path.cwd(), check_ids=CHECK)
    assert results.targets[0].error == (
        "target 'rds': cannot get the password from RDS IAM authentication token: "
        "no AWS region: give region:"
    )


# -- Azure Key Vault (HTTPS replay with the challenge protocol) ------------------------------

KV_TOKEN = "canary-kv-token-73aa"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> IssuedCerts:
    return issue(tmp_path_factory.mktemp("kv-pw-tls"), CertSpec(hostnames=("localhost",)))


def key_vault_recording(secret: str, value: str) -> dict[str, Any]:
    """A Key Vault that holds `value` as `secret` (the challenge recorded from Azure)."""
    body = {
        "value": value,
        "id": f"https://pw-kv.vault.azure.net/secrets/{secret}/abc123",
        "attributes": {"enabled": True},
    }
    return {
        "challenge": load_recording("azure-key-vault-compliant")["challenge"],
        "interactions": [
            {"method": "GET", "path": f"/secrets/{secret}{tail}", "status": 200, "body": body}
            for tail in ("", "/")
        ],
    }


def key_vault_ref(secret: str, url: str, certs: IssuedCerts) -> str:
    """A password reference to `secret` in the replayed vault at `url` (token from T_KV)."""
    return (
        f"{{azure_key_vault: 'https://pw-kv.vault.azure.net', secret: {secret}, "
        f"endpoint: '{url}', ca_bundle: '{certs.ca_cert}', access_token: {{env: T_KV}}}}"
    )


def test_azure_key_vault_password_logs_in(
    compliant_cluster: Cluster, certs: IssuedCerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = canary("akv")
    role = login_role(compliant_cluster, password)
    recording = key_vault_recording("db-password", password)
    monkeypatch.setenv("T_KV", KV_TOKEN)
    with replay_server(recording, (certs.server_cert, certs.server_key)) as kv:
        ref = key_vault_ref("db-password", kv.url, certs)
        logged_in_as(role, config_text(compliant_cluster, role, ref))
        authorised = [h["authorization"] for _, _, h in kv.requests if "authorization" in h]
        assert authorised == [f"Bearer {KV_TOKEN}"]
        missing = ref.replace("secret: db-password", "secret: nope")
        status, error, _ = scan(config_text(compliant_cluster, role, missing))
    assert status is TargetStatus.ERROR
    assert error == (
        "target 'db': cannot get the password from Azure Key Vault "
        "https://pw-kv.vault.azure.net secret nope: no such secret (or version)"
    )


def test_a_secret_shared_by_targets_is_fetched_once_per_scan(
    compliant_cluster: Cluster, certs: IssuedCerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five targets naming the same Key Vault secret: one fetch in the scan, every target
    logs in with it, and the next scan fetches it again (nothing is kept between scans)."""
    password = canary("akv-shared")
    role = login_role(compliant_cluster, password)
    recording = key_vault_recording("shared", password)
    monkeypatch.setenv("T_KV", KV_TOKEN)
    with replay_server(recording, (certs.server_cert, certs.server_key)) as kv:
        ref = key_vault_ref("shared", kv.url, certs)
        text = "targets:\n" + "".join(
            f"  - name: db{i}\n    dsn: '{compliant_cluster.dsn(role)}'\n    password: {ref}\n"
            for i in range(5)
        )
        fetches = []
        for _ in range(2):
            before = len(kv.requests)
            results, _ = run_scan(parse_config(text, "stores.yaml"), Path.cwd(), check_ids=CHECK)
            assert [(t.status, t.error) for t in results.targets] == [
                (TargetStatus.SCANNED, None)
            ] * 5
            assert {t.inventory["role"]["name"] for t in results.targets if t.inventory} == {role}
            fetches.append(
                sum(
                    1
                    for _, path, headers in kv.requests[before:]
                    if path.startswith("/secrets/shared") and "authorization" in headers
                )
            )
    assert fetches == [1, 1]


# -- Google Secret Manager (REST replay) -----------------------------------------------------


def test_gcp_secret_password_logs_in(
    compliant_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = canary("gsm")
    role = login_role(compliant_cluster, password)
    name = "projects/agentauri/secrets/db-password/versions/7"
    recording = {
        "interactions": [
            {
                "method": "GET",
                "path": f"/v1/{name}:access",
                "status": 200,
                "body": {
                    "name": name,
                    "payload": {"data": base64.b64encode(password.encode()).decode()},
                },
            }
        ]
    }
    monkeypatch.setenv("T_GCP", "canary-gcp-token-aa01")
    with replay_server(recording) as sm:
        ref = f"{{gcp_secret: {name}, endpoint: '{sm.url}', access_token: {{env: T_GCP}}}}"
        logged_in_as(role, config_text(compliant_cluster, role, ref))
        assert [h.get("authorization") for _, _, h in sm.requests] == [
            "Bearer canary-gcp-token-aa01"
        ]
        latest = ref.replace("/versions/7", "")
        status, error, _ = scan(config_text(compliant_cluster, role, latest))
    assert status is TargetStatus.ERROR
    assert error == (
        "target 'db': cannot get the password from Google Secret Manager "
        "projects/agentauri/secrets/db-password/versions/latest: no such secret "
        "(or version)"
    )


# -- Platform tokens: Azure AD (managed identity) and Cloud SQL IAM (OAuth refresh) ----------


def test_azure_ad_token_from_managed_identity_logs_in(
    compliant_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = canary("entra").replace("#", "").replace("'", "").replace('"', "")
    role = login_role(compliant_cluster, token)
    recording = {
        "interactions": [
            {
                "method": "GET",
                "path": "/msi/token",
                "status": 200,
                "body": {
                    "access_token": token,
                    "expires_on": "4102444800",
                    "token_type": "Bearer",
                    "resource": "https://ossrdbms-aad.database.windows.net",
                },
            }
        ]
    }
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
        "MSI_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    with replay_server(recording) as identity:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{identity.url}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "canary-identity-header")
        logged_in_as(role, config_text(compliant_cluster, role, "{azure_ad: true}"))
        asked = [(p, h.get("x-identity-header")) for _, p, h in identity.requests]
    assert asked == [("/msi/token", "canary-identity-header")]


def test_cloud_sql_iam_token_from_adc_logs_in(
    compliant_cluster: Cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = canary("gcpiam").replace("#", "").replace("'", "").replace('"', "")
    role = login_role(compliant_cluster, token)
    recording = {
        "interactions": [
            {
                "method": "POST",
                "path": "/token",
                "status": 200,
                "body": {"access_token": token, "expires_in": 3600, "token_type": "Bearer"},
            }
        ]
    }
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with replay_server(recording) as oauth:
        # A service-account key file as application default credentials: google-auth signs
        # a JWT grant and trades it at token_uri for the access token.
        adc = tmp_path / "adc.json"
        adc.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "agentauri",
                    "private_key_id": "k1",
                    "private_key": key,
                    "client_email": "scanner@agentauri.iam.gserviceaccount.com",
                    "client_id": "1",
                    "token_uri": f"{oauth.url}/token",
                }
            )
        )
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        logged_in_as(role, config_text(compliant_cluster, role, "{gcp_iam: true}"))
        assert [(m, p) for m, p, _ in oauth.requests] == [("POST", "/token")]


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("{aws_secret: x, colour: red}", "targets[0].password.colour: unknown key"),
        ("{vault: /abs/path}", "targets[0].password.vault: '/abs/path' is not a KV path"),
        ("{gcp_secret: db-password}", "targets[0].password.gcp_secret: does not have the expected"),
        (
            "{azure_key_vault: 'http://v', secret: s}",
            "targets[0].password.azure_key_vault: does not have the expected form",
        ),
        ("{rds_iam: false}", "targets[0].password.rds_iam: must be True"),
        ("{from: somewhere}", "targets[0].password: must be a password reference: {env: VARIABLE}"),
        ("Canary-inline-77", "targets[0].password: a secret is never written in the config"),
    ],
)
def test_reference_shapes_are_checked(password: str, expected: str) -> None:
    text = f"targets:\n  - name: db\n    dsn: postgresql://h/d\n    password: {password}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "a.yaml")
    assert caught.value.problems[0].startswith(f"a.yaml:4: {expected}"), caught.value.problems
    assert "Canary-inline-77" not in str(caught.value)


def test_validate_checks_what_a_reference_needs_here(tmp_path: Path) -> None:
    from tests.spine.test_cli import run_cli

    config = tmp_path / "stores.yaml"
    config.write_text(
        "targets:\n"
        "  - name: a\n    dsn: postgresql://u@h/app\n"
        "    password: {vault: app/db, ca_bundle: no-ca.pem}\n"
        "  - name: b\n    dsn: postgresql://u@h/app\n"
        "    password: {aws_secret: prod/db, region: eu-west-1}\n"
    )
    proc = run_cli("validate", "-c", str(config))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"auditor: error: {config}:4: targets[0].password (target 'a'): ca_bundle: file "
        f"{tmp_path}/no-ca.pem not found",
        f"auditor: error: {config}:4: targets[0].password (target 'a'): no Vault address: give "
        "address: or set VAULT_ADDR",
        f"auditor: error: {config}:4: targets[0].password (target 'a'): no Vault token: give "
        "token: {env: NAME} or set VAULT_TOKEN",
    ]
    (tmp_path / "no-ca.pem").write_text("x")
    proc = run_cli("validate", "-c", str(config),
                   env={"VAULT_ADDR": "https://v:8200", "VAULT_TOKEN": "t"})
    assert proc.returncode == 0, proc.stderr
    offline = run_cli("validate", "-c", str(config), "--offline")
    assert offline.returncode == 0 and "references not checked" in offline.stdout


def test_platform_tokens_without_credentials_fail_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "GOOGLE_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no cached logins, no ~/.aws
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    text = "targets:\n" + "".join(
        f"  - name: {name}\n    dsn: postgresql://u@127.0.0.1:1/app\n    password: {ref}\n"
        for name, ref in [("ad", "{azure_ad: true}"), ("iam", "{gcp_iam: true}"),
                          ("rds", "{rds_iam: true, region: eu-west-1}")]
    )
    from tests.spine.test_cli import run_cli

    (tmp_path / "t.yaml").write_text(text)
    out = tmp_path / "results.json"
    proc = run_cli("scan", "-c", str(tmp_path / "t.yaml"), "--check", "transport.ssl_enabled",
                   "--format", "json", "-o", str(out))
    assert proc.returncode == 3
    errors = {t["name"]: t["error"] for t in json.loads(out.read_text())["targets"]}
    assert errors == {
        "ad": "target 'ad': cannot get the password from Azure AD (Microsoft Entra ID) token: "
              "no Azure credential could get a token (DefaultAzureCredential: environment, "
              "workload identity, managed identity, Azure CLI)",
        "iam": "target 'iam': cannot get the password from Cloud SQL IAM database "
               "authentication token: no Google application default credentials",
        "rds": "target 'rds': cannot get the password from RDS IAM authentication token: no "
               "AWS credentials (environment, profile or instance role)",
    }
    # No SDK's many-line warning (azure-identity logs every credential it tried).
    assert proc.stdout == ""
    assert all(line.startswith(("auditor:", "wrote ")) for line in proc.stderr.splitlines()), (
        proc.stderr)
