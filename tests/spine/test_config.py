"""Config errors are one line naming file, line and key; passwords are references."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import ConfigError, load_config, parse_config, redact_dsn

GOOD = """\
targets:
  - name: app-db
    kind: postgres
    dsn: postgresql://auditor@db.internal:5432/app?sslmode=verify-full&sslrootcert=ca.pem
    password: {env: AUDITOR_DB_PASSWORD}
    sensitive_columns: [users.email, users.phone, users.wallet_address]
policy:
  certificate_min_days_left: 14
"""


def test_good_config_parses_with_defaults() -> None:
    config = parse_config(GOOD, "a.yaml")
    target = config.targets[0]
    assert target.name == "app-db"
    assert target.sensitive_columns == ("users.email", "users.phone", "users.wallet_address")
    assert config.policy.certificate_min_days_left == 14
    assert config.policy.min_tls_version == "TLSv1.2"  # default kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("    kind: postgres\n", "    kind: postgres\n    colour: red\n"),
         "a.yaml:4: targets[0].colour: unknown key"),
        (GOOD.replace("postgresql://auditor@", "mysql://auditor@"),
         "a.yaml:4: targets[0].dsn: must start with postgresql://"),
        (GOOD.replace(":5432/", ":54x2/"), "a.yaml:4: targets[0].dsn: not a valid PostgreSQL URL"),
        (GOOD.replace("{env: AUDITOR_DB_PASSWORD}", "{env: X, from: y}"),
         "a.yaml:5: targets[0].password"),
        (GOOD.replace("users.phone", "phone"),
         "a.yaml:6: targets[0].sensitive_columns: 'phone' is not table.column"),
        (GOOD.replace("  certificate_min_days_left: 14", "  certificate_min_days_left: -1"),
         "a.yaml:8: policy.certificate_min_days_left: Input should be greater than or equal"),
        (GOOD.replace("policy:\n", "policy:\n  tls_profil: modern\n"),
         "a.yaml:8: policy.tls_profil: unknown key"),
        ("targets: [\n", "a.yaml:2: invalid YAML"),
        ("targets:\n  - name: a\n    name: b\n    dsn: postgresql://h/d\n",
         "a.yaml:3: key 'name' appears twice"),
        ("", "a.yaml: the file is empty"),
        ("- just a list\n", "a.yaml:1: the top level must be a mapping"),
        ("targets: []\n", "a.yaml:1: targets: "),
        (GOOD + "  - name: app-db\n", "a.yaml:"),
        (GOOD.replace("kind: postgres", "kind: oracle"),
         "a.yaml:2: targets[0]: kind 'oracle' is not supported"),
    ],
)
def test_bad_config_is_one_line_naming_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "a.yaml")
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_duplicate_target_names_are_refused() -> None:
    target = GOOD.split("targets:\n", 1)[1].split("policy:")[0]
    text = "targets:\n" + target + target
    with pytest.raises(ConfigError, match="target name 'app-db' is used twice"):
        parse_config(text, "a.yaml")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_password_references_resolve_and_fail_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw.txt").write_text("s3cret-from-file\n")
    config = parse_config(GOOD.replace("{env: AUDITOR_DB_PASSWORD}", "{file: pw.txt}"), "a.yaml")
    assert config.targets[0].resolve_password(tmp_path) == "s3cret-from-file"
    missing = parse_config(GOOD.replace("{env: AUDITOR_DB_PASSWORD}", "{file: no.txt}"), "a")
    with pytest.raises(ConfigError, match=r"cannot read password file .*no\.txt"):
        missing.targets[0].resolve_password(tmp_path)
    monkeypatch.delenv("AUDITOR_DB_PASSWORD", raising=False)
    env_config = parse_config(GOOD, "a.yaml")
    with pytest.raises(ConfigError, match="AUDITOR_DB_PASSWORD is not set"):
        env_config.targets[0].resolve_password(tmp_path)
    monkeypatch.setenv("AUDITOR_DB_PASSWORD", "from-env")
    assert env_config.targets[0].resolve_password(tmp_path) == "from-env"


def test_models_never_show_a_password_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_DB_PASSWORD", "canary-pw-3141")
    config = parse_config(GOOD, "a.yaml")
    assert "canary-pw-3141" not in repr(config) + str(config.model_dump())


def test_inline_dsn_passwords_are_redacted() -> None:
    assert redact_dsn("postgresql://u:hunter2@h:5432/d?sslmode=require&password=x") == (
        "postgresql://u:***@h:5432/d?sslmode=require&password=***"
    )


def test_relative_certificate_paths_follow_the_config_folder(tmp_path: Path) -> None:
    config = parse_config(GOOD, "a.yaml")
    assert config.targets[0].file_params(tmp_path) == {"sslrootcert": str(tmp_path / "ca.pem")}
