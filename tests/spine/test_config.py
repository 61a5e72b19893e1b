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
         "a.yaml:8: policy.certificate_min_days_left: must be greater than or equal"),
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


# -- one run shows every problem, in plain words -------------------------------------------

MANY_MISTAKES = """\
targets:
  - name: a
    dsn: postgresql://h/d
    password: Canary-inline-pw-42
    sslmode: require
  - name: v
    kind: vault
    adress: https://vault
    secrets: [{name: s}]
policy:
  min_tls_version: "1.1"
  severity:
    transport.ssl_enabld: high
"""


def test_every_config_problem_is_reported_in_one_run() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(MANY_MISTAKES, "a.yaml")
    problems = caught.value.problems
    assert problems == [
        "a.yaml:4: targets[0].password: a secret is never written in the config: reference "
        "where it is kept, password: {env: VARIABLE} or password: {file: PATH}",
        "a.yaml:5: targets[0].sslmode: unknown key (sslmode is a connection parameter: put "
        "it in the dsn, ?sslmode=...)",
        "a.yaml:6: targets[1].address: required key is missing",
        "a.yaml:8: targets[1].adress: unknown key (did you mean 'address'?)",
        "a.yaml:11: policy.min_tls_version: must be 'TLSv1.2' or 'TLSv1.3'",
        "a.yaml:13: policy.severity.transport.ssl_enabld: unknown check id (did you mean "
        "'transport.ssl_enabled'?) (see `auditor checks list`)",
    ]
    assert "Canary-inline-pw-42" not in str(caught.value)
    assert "Input should" not in str(caught.value)


def test_a_known_severity_override_is_accepted() -> None:
    config = parse_config(GOOD + "  severity:\n    transport.ssl_enabled: low\n", "a")
    assert config.policy.severity == {"transport.ssl_enabled": "low"}


def test_waivers_naming_unknown_checks_are_errors() -> None:
    from auditor.waivers import WaiverError, parse_waivers

    text = (
        "waivers:\n"
        "  - check: auth.hba_no_trsut\n    reason: r\n    approved_by: a\n    expires: 2030-01-01\n"
        "  - check: nothing.*\n    reason: r\n    approved_by: a\n    expires: 2030-01-01\n"
        "  - check: auth.*\n    reason: r\n    approved_by: a\n    expires: 2030-01-01\n"
    )
    with pytest.raises(WaiverError) as caught:
        parse_waivers(text, "w.yaml")
    assert str(caught.value).split("\n") == [
        "w.yaml:2: waivers[0].check: unknown check id (did you mean 'auth.hba_no_trust'?) "
        "(see `auditor checks list`)",
        "w.yaml:6: waivers[1].check: matches no check id (see `auditor checks list`)",
    ]


@pytest.mark.parametrize(
    ("keywords", "url"),
    [
        ("host=db port=5433 dbname=app user=auditor sslmode=require",
         "postgresql://auditor@db:5433/app?sslmode=require"),
        ("host=db dbname='my app' sslrootcert=ca.pem",
         "postgresql://db/my%20app?sslrootcert=ca.pem"),
        ("host=a,b port=1,2 dbname=x", "postgresql:///x?host=a,b&port=1,2"),
    ],
)
def test_libpq_keyword_dsns_are_read_as_libpq_does(keywords: str, url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    config = parse_config(f'targets:\n  - name: a\n    dsn: "{keywords}"\n', "a.yaml")
    assert config.targets[0].dsn == url
    assert conninfo_to_dict(url) == conninfo_to_dict(keywords)  # libpq's own reading agrees


def test_libpq_keyword_dsn_errors_never_echo_the_password() -> None:
    for bad in ("host=h password='Canary#pw7 dbname=x", "host=h passwrd=Canary#pw7"):
        with pytest.raises(ConfigError) as caught:
            parse_config(f'targets:\n  - name: a\n    dsn: "{bad}"\n', "a.yaml")
        assert "Canary" not in str(caught.value)
        assert "a.yaml:3: targets[0].dsn:" in str(caught.value)


def test_application_dsns_in_keyword_form_are_linted_as_urls() -> None:
    config = parse_config(
        'targets:\n  - name: a\n    dsn: postgresql://h/d\n'
        '    application_dsns: ["host=h dbname=d sslmode=disable"]\n',
        "a.yaml",
    )
    assert config.targets[0].application_dsns == ("postgresql://h/d?sslmode=disable",)
