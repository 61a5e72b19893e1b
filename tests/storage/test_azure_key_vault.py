"""Key Vault secrets and key rotation policies for `azure-postgres` targets, through the real
azure-keyvault-secrets / azure-keyvault-keys clients against a local HTTPS server replaying
recorded Key Vault answers (fixtures/cloud/azure-key-vault-*.json). That server answers an
unauthenticated request with Key Vault's 401 challenge, so the SDK's challenge protocol runs
for real; Resource Manager (the server itself) is a second replay server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.collectors.azure import StaticToken
from auditor.collectors.azure_key_vault import KeyVaultScoped, duration_days
from auditor.config import ConfigError, parse_config
from auditor.lab.certs import CertSpec, IssuedCerts, issue
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.support.replay import Replay, replay_server

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
VAULT = "https://agentauri-kv.vault.azure.net"
ARM_TOKEN = "canary-azure-token-51fa"
KV_TOKEN = "canary-keyvault-token-0c7e"
CANARY = "canary-azure-secret-value-8b3a"  # the value recorded behind GET /secrets/{name}
CHECKS = {"keys.secret_rotation_age", "keys.auto_rotation_enabled", "keys.kms_key_rotation"}
Found = dict[tuple[str, str | None], Result]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> IssuedCerts:
    return issue(tmp_path_factory.mktemp("kv-tls"), CertSpec(hostnames=("localhost",)))


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZ_TOKEN", ARM_TOKEN)
    monkeypatch.setenv("KV_TOKEN", KV_TOKEN)


def config(arm: str, kv: str, server: str, ca: Path, body: str, kv_token: bool = True) -> str:
    return (
        "targets:\n  - name: azure\n    kind: azure-postgres\n"
        f"    subscription_id: '{SUBSCRIPTION}'\n    resource_group: agentauri-prod\n"
        f"    server: {server}\n    access_token: {{env: AZ_TOKEN}}\n"
        f"    management_endpoint: '{arm}'\n    ca_bundle: '{ca}'\n"
        f"    key_vault: {VAULT}\n    key_vault_endpoint: '{kv}'\n"
        + ("    key_vault_access_token: {env: KV_TOKEN}\n" if kv_token else "")
        + body
    )


def scan(certs: IssuedCerts, server: str, recording: str, body: str, kv_token: bool = True,
         checks: set[str] = CHECKS) -> tuple[Found, TargetStatus, Replay, str]:
    tls = (certs.server_cert, certs.server_key)
    arm_recording = ("azure-flexible-server-compliant" if server == "agentauri-prod"
                     else "azure-flexible-server-weak")
    with replay_server(arm_recording, tls) as arm, replay_server(recording, tls) as kv:
        text = config(arm.url, kv.url, server, certs.ca_cert, body, kv_token)
        results, bundles = run_scan(parse_config(text, "azure.yaml"), Path.cwd(),
                                    check_ids=checks)
        # Resource Manager only ever saw its own token.
        assert all(h.get("authorization") == f"Bearer {ARM_TOKEN}" for _, _, h in arm.requests)
    found = {(r.check_id, r.resource): r for r in results.findings}
    return found, results.targets[0].status, kv, json.dumps([b.to_json() for b in bundles])


def assert_read_only_metadata(kv: Replay) -> None:
    # The challenge dance: each client's first request goes out without a token and gets
    # the 401; every other request carries the Key Vault token (never the ARM one).
    anonymous = [h for _, _, h in kv.requests if "authorization" not in h]
    assert anonymous, "the SDK's challenge protocol did not run"
    assert all(h["authorization"] == f"Bearer {KV_TOKEN}"
               for _, _, h in kv.requests if "authorization" in h)
    assert {m for m, _, _ in kv.requests} == {"GET"}
    # Attributes only: /secrets/{name}/versions, never /secrets/{name}[/{version}].
    for _, path, _ in kv.requests:
        assert path.endswith(("/versions", "/rotationpolicy")), path


COMPLIANT = (
    "    secrets:\n"
    "      - {name: agentauri-db-encryption-key, purpose: encryption-key}\n"
    "      - {name: agentauri-db-master-password, purpose: master-password}\n"
)
WEAK = (
    "    secrets:\n"
    "      - {name: legacy-db-master-password, purpose: master-password}\n"
    "      - {name: retired-db-password, purpose: master-password}\n"
    "      - {name: audit-hmac-key, max_age_days: 365}\n"
    "    keys: [legacy-cmk, backup-kek, archive-kek, hsm-kek]\n"
)


def test_compliant_vault_passes_age_and_the_cmk_rotation_policy(certs: IssuedCerts) -> None:
    found, status, kv, facts = scan(certs, "agentauri-prod", "azure-key-vault-compliant",
                                    COMPLIANT)
    assert status is TargetStatus.SCANNED
    enc, master = "agentauri-db-encryption-key", "agentauri-db-master-password"
    age = found[("keys.secret_rotation_age", enc)]
    assert (age.status, age.message) == (
        Status.PASS, f"{enc}: last rotated 45 days ago (policy 365)")
    assert age.evidence["reference"] == f"{VAULT}/secrets/{enc}"
    age = found[("keys.secret_rotation_age", master)]
    assert (age.status, age.message) == (
        Status.PASS, f"{master}: last rotated 20 days ago (policy 90)")
    # Key Vault cannot rotate a secret by itself: an auditor needs the rotating job attested.
    auto = found[("keys.auto_rotation_enabled", master)]
    assert auto.status is Status.MANUAL
    assert auto.message == (f"{master}: azure-keyvault has no built-in rotation; attest the "
                            "job that rotates it")
    assert auto.evidence["expires"]  # the near-expiry hook such a job hangs on
    # The server's CMK (from dataEncryption.primaryKeyURI) is judged without being declared.
    key = found[("keys.kms_key_rotation", f"{VAULT}/keys/pg-tde")]
    assert (key.status, key.message) == (
        Status.PASS, f"{VAULT}/keys/pg-tde: rotates every 90 days")
    assert key.evidence["role"] == "server CMK"
    assert key.evidence["lifetimeActions"][0] == {
        "action": "Rotate", "time_after_create": "P90D", "time_before_expiry": None}
    assert_read_only_metadata(kv)
    # One challenge per client (secrets, keys), then its cached answer authorises the rest.
    assert [(p, h.get("authorization")) for _, p, h in kv.requests] == [
        (f"/secrets/{enc}/versions", None),
        (f"/secrets/{enc}/versions", f"Bearer {KV_TOKEN}"),
        (f"/secrets/{master}/versions", f"Bearer {KV_TOKEN}"),
        ("/keys/pg-tde/rotationpolicy", None),
        ("/keys/pg-tde/rotationpolicy", f"Bearer {KV_TOKEN}"),
    ]
    for secret in (ARM_TOKEN, KV_TOKEN, CANARY):
        assert secret not in facts and secret not in repr(found)


def test_weak_vault_fails_each_with_evidence(certs: IssuedCerts) -> None:
    found, status, kv, facts = scan(certs, "legacy-pg", "azure-key-vault-weak", WEAK)
    assert status is TargetStatus.SCANNED
    master = "legacy-db-master-password"
    age = found[("keys.secret_rotation_age", master)]
    assert (age.status, age.message) == (
        Status.FAIL, f"{master}: created, never rotated 200 days ago (policy 90)")
    assert age.evidence["age_days"] == 200
    missing = found[("keys.secret_rotation_age", "retired-db-password")]
    assert (missing.status, missing.message) == (
        Status.FAIL, "declared secret retired-db-password does not exist")
    denied = found[("keys.secret_rotation_age", "audit-hmac-key")]
    assert (denied.status, denied.message) == (
        Status.SKIP, "needs the Key Vault permission Microsoft.KeyVault/vaults/secrets/"
        "readMetadata/action (access policy: secrets List)")

    def key(name: str) -> Result:
        return found[("keys.kms_key_rotation", f"{VAULT}/keys/{name}")]

    assert (key("legacy-cmk").status, key("legacy-cmk").message) == (
        Status.FAIL, f"{VAULT}/keys/legacy-cmk: rotation policy has no Rotate action (the "
        "vault's default policy): the key never rotates automatically")
    assert key("legacy-cmk").evidence["lifetimeActions"] == [
        {"action": "Notify", "time_after_create": None, "time_before_expiry": "P30D"}]
    assert (key("backup-kek").status, key("backup-kek").message) == (
        Status.FAIL, f"{VAULT}/keys/backup-kek: rotates every 730 days (policy 365)")
    assert key("archive-kek").status is Status.FAIL
    assert "never fires" in key("archive-kek").message
    assert (key("hsm-kek").status, key("hsm-kek").message) == (
        Status.SKIP, "needs the Key Vault permission Microsoft.KeyVault/vaults/keys/"
        "rotationpolicy/read (access policy: keys GetRotationPolicy)")
    # The weak server is service-managed: no CMK of its own to add.
    assert len([k for k in found if k[0] == "keys.kms_key_rotation"]) == 4
    assert_read_only_metadata(kv)
    assert CANARY not in facts and CANARY not in repr(found)


def test_an_arm_token_is_not_sent_to_key_vault(certs: IssuedCerts) -> None:
    found, status, kv, _ = scan(certs, "agentauri-prod", "azure-key-vault-compliant",
                                COMPLIANT, kv_token=False,
                                checks=CHECKS | {"storage.azure_postgres_encrypted"})
    assert status is TargetStatus.ERROR
    assert kv.requests == []
    (storage,) = [r for (cid, _), r in found.items() if cid == "storage.azure_postgres_encrypted"]
    assert storage.status is Status.PASS
    age = found[("keys.secret_rotation_age", None)]
    assert age.status is Status.ERROR and "key_vault_access_token" in age.message


def test_key_vault_tokens_are_limited_to_key_vault_audiences() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    scoped = KeyVaultScoped(StaticToken("t"))
    assert scoped.get_token("https://vault.azure.net/.default").token == "t"
    with pytest.raises(ClientAuthenticationError, match="not a Key Vault audience"):
        scoped.get_token("https://management.azure.com/.default")


@pytest.mark.parametrize(("text", "days"), [
    ("P90D", 90), ("P1Y", 365), ("P3M", 90), ("P2W", 14), ("PT12H", 0.5), ("P", None),
    ("90D", None), (None, None)])
def test_iso_durations(text: str | None, days: float | None) -> None:
    assert duration_days(text) == days


@pytest.mark.parametrize(("extra", "error"), [
    ("    secrets: [{name: a/b}]\n    key_vault: https://kv.vault.azure.net\n",
     "is not a Key Vault secret name"),
    ("    keys: [pg-tde]\n", "secrets and keys need key_vault"),
    ("    key_vault: http://kv.vault.azure.net\n", "key_vault"),
])
def test_key_vault_config_is_validated(extra: str, error: str) -> None:
    text = ("targets:\n  - name: azure\n    kind: azure-postgres\n"
            f"    subscription_id: s\n    resource_group: g\n    server: s\n{extra}")
    with pytest.raises(ConfigError, match=error):
        parse_config(text, "azure.yaml")


@pytest.mark.parametrize(("encryption", "status", "message"), [
    ("SystemManaged", Status.PASS, "service-managed encryption key: rotated by Microsoft"),
    ("AzureKeyVault", Status.SKIP,
     f"customer-managed key {VAULT}/keys/pg-tde/0123: set key_vault: to the vault that holds "
     "it to read its rotation policy"),
])
def test_server_key_without_a_key_vault(encryption: str, status: Status, message: str) -> None:
    from auditor.checks.keys import KmsKeyRotation
    from auditor.collectors.azure import AzurePostgresFacts
    from auditor.facts import Facts, TargetContext

    facts = Facts(TargetContext("azure", "azure-postgres"))
    facts.add(AzurePostgresFacts(
        resource_id=None, server="s", version="15", state="Ready",
        data_encryption_type=encryption,
        primary_key_uri=f"{VAULT}/keys/pg-tde/0123" if encryption == "AzureKeyVault" else None,
        backup_retention_days=7, geo_redundant_backup=None, parameters={}))
    [result] = KmsKeyRotation().run(facts)
    assert (result.status, result.message) == (status, message)
