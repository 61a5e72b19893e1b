"""The configuration reference (docs/configuration.md) and the config JSON Schema
(auditor/schemas/config.schema.json) are generated from the config models: these tests fail
when the checked-in copies drift from them, and prove the schema agrees with the loader."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from auditor.config import ScanConfig, parse_config
from auditor.config_docs import (
    FIELD_MEANINGS,
    MODEL_MEANINGS,
    REGENERATE,
    SHARED_MEANINGS,
    _models,
    config_schema,
    generated_files,
    meaning,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("relative", sorted(generated_files()))
def test_checked_in_reference_matches_the_models(relative: str) -> None:
    path = ROOT / relative
    expected = generated_files()[relative]
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == expected, (
        f"{relative} is out of date with the config models: run `{REGENERATE}`"
    )


def test_every_meaning_kept_aside_still_names_a_field() -> None:
    models = {m.__name__: m for m in _models(ScanConfig)}
    for key in FIELD_MEANINGS:
        model, field = key.split(".")
        assert model in models and field in models[model].model_fields, f"stale entry {key}"
    all_fields = {f for m in models.values() for f in m.model_fields}
    assert set(SHARED_MEANINGS) <= all_fields
    assert set(MODEL_MEANINGS) <= set(models)


def test_every_policy_key_and_target_kind_is_documented() -> None:
    from auditor.config import TARGET_KINDS
    from auditor.policy import Policy

    doc = (ROOT / "docs" / "configuration.md").read_text()
    for kind in TARGET_KINDS:
        assert f"### kind: {kind}\n" in doc
    for field in Policy.model_fields:
        assert f"| `{field}` |" in doc
        assert meaning(Policy, field), f"policy.{field} has no meaning: add a comment to it"


def _validator() -> jsonschema.protocols.Validator:
    schema = config_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


GOOD = """\
x-common: &common
  password: {env: DB_PASSWORD}
targets:
  - name: orders
    dsn: postgresql://auditor@db.example.internal/orders?sslmode=verify-full
    <<: *common
    sensitive_columns: [customers.email]
  - name: orders-rds
    kind: aws-rds
    region: eu-west-1
    db_instance: orders
policy:
  min_tls_version: TLSv1.3
  waiver_max_days: 180
  severity: {auth.password_encryption: critical}
"""


def test_the_schema_accepts_what_the_loader_accepts() -> None:
    parse_config(GOOD, "good.yaml")  # the loader's verdict
    _validator().validate(yaml.safe_load(GOOD))


@pytest.mark.parametrize(
    ("change", "loader_says"),
    [
        (("policy", "min_tls_version", "TLSv1.0"), "policy.min_tls_version"),
        (("policy", "waiver_max_dayz", 10), "unknown key"),
        (("policy", "certificate_min_days_left", -1), "policy.certificate_min_days_left"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(
    change: tuple[str, str, object], loader_says: str
) -> None:
    data = yaml.safe_load(GOOD)
    section, key, value = change
    data[section][key] = value
    text = yaml.safe_dump(data)
    with pytest.raises(Exception, match=loader_says):
        parse_config(text, "bad.yaml")
    assert list(_validator().iter_errors(data)), f"schema accepted {change}"


def test_the_schema_describes_policy_keys_for_editors() -> None:
    policy = config_schema()["$defs"]["Policy"]["properties"]
    assert "approval" in policy["waiver_max_days"]["description"]
    assert policy["waiver_max_days"]["default"] == 365


def test_the_cli_prints_the_same_schema_as_the_checked_in_file(tmp_path: Path) -> None:
    from tests.spine.test_cli import run_cli

    proc = run_cli("config-schema")
    assert proc.returncode == 0, proc.stderr
    shipped = (ROOT / "auditor" / "schemas" / "config.schema.json").read_text()
    assert proc.stdout == shipped
    out = tmp_path / "schema.json"
    assert run_cli("config-schema", "-o", str(out)).returncode == 0
    assert out.read_text() == shipped
