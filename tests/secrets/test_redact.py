"""The redaction policy (auditor.redact) on its own: what counts as a secret, what the marker
keeps, that redacting twice changes nothing, and that the config digest covers no secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from auditor import redact
from auditor.config import config_digest, parse_config, redacted_config
from auditor.facts import Facts, Gap, GapKind, TargetContext, redact_section
from auditor.redact import redact_setting, redact_text


@pytest.fixture(autouse=True)
def _no_known_secrets() -> Iterator[None]:
    redact.forget_secrets()
    yield
    redact.forget_secrets()


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("host=db password=s3cr3t-pw port=5432", "s3cr3t-pw", "host=db password=*** port=5432"),
        ("host=db password='two words' user=x", "two words", "host=db password=*** user=x"),
        ("postgresql://u:p@ss#w0rd@h/db", "p@ss#w0rd", "postgresql://u:***@h/db"),
        (
            "postgresql://u@h/db?sslpassword=k3y&sslmode=verify-full",
            "k3y",
            "postgresql://u@h/db?sslpassword=***&sslmode=verify-full",
        ),
        ("ldapbindpasswd=Bind-Pw ldapserver=x", "Bind-Pw", "ldapbindpasswd=*** ldapserver=x"),
        ('radiussecrets="a,b" radiusservers=x', '"a,b"', "radiussecrets=*** radiusservers=x"),
    ],
)
def test_credentials_in_text_are_masked(text: str, secret: str, kept: str) -> None:
    assert redact_text(text) == kept
    assert secret not in redact_text(text)


def test_known_secrets_are_masked_anywhere_but_short_ones_are_not_searched() -> None:
    redact.remember_secret("Quoted-Back-42")
    redact.remember_secret("abc")  # too short to search for without garbling text
    assert redact_text("FATAL: bad key Quoted-Back-42 for abc") == "FATAL: bad key *** for abc"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("app.enc_key", "k", "<redacted secret setting, 1 chars>"),
        ("myapp.api_token", "t0k", "<redacted secret setting, 3 chars>"),
        ("vault.secret", "x" * 24, "<redacted secret setting, 24 chars>"),
        ("app.blob", "Zq8Xw2Lm5Rt9Vb3Nc7Hj1Kp4", "<redacted high-entropy value, 24 chars>"),
        ("ssl_passphrase_command", "echo hunter2", "<redacted command, 12 chars>"),
        # descriptive names and PostgreSQL's own settings stay readable for the checks
        ("app.kms_key_id", "alias/pg", "alias/pg"),
        ("app.key_rotation_days", "90", "90"),
        ("password_encryption", "md5", "md5"),
        ("ssl_key_file", "/etc/ssl/private/server.key", "/etc/ssl/private/server.key"),
        ("app.region", "eu-west-1", "eu-west-1"),
        ("app.path", "/var/lib/pg/15/main/abcDEF123", "/var/lib/pg/15/main/abcDEF123"),
    ],
)
def test_settings_policy(name: str, value: str, expected: str) -> None:
    assert redact_setting(name, value) == expected


def test_primary_conninfo_keeps_everything_but_passwords() -> None:
    shown = redact_setting(
        "primary_conninfo", "host=10.0.0.5 port=5432 user=rep password='a b\\'c' sslpassword=kp"
    )
    assert shown is not None
    assert "a b" not in shown and "kp" not in shown
    assert {"host=10.0.0.5", "port=5432", "user=rep", "password=***", "sslpassword=***"} <= set(
        shown.split()
    )


@given(st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


@given(st.text(min_size=1, max_size=40).filter(lambda s: "'" not in s and "\\" not in s))
def test_any_conninfo_password_is_masked_whole(secret: str) -> None:
    shown = redact_setting("primary_conninfo", f"host=h password='{secret}' user=u")
    assert shown is not None and "password=***" in shown and "user=u" in shown


def test_facts_are_redacted_when_added_and_gaps_too() -> None:
    from auditor.collectors.hba_file import HbaFileFacts  # noqa: F401 (registers a section)
    from auditor.collectors.pg.server import ServerFacts, Setting

    facts = Facts(target=TargetContext(name="t", kind="postgres"))
    setting = Setting(name="primary_conninfo", value="host=h password=Canary-9", source="file")
    section = ServerFacts(
        server_version="15",
        server_version_num=150000,
        database="app",
        current_user="auditor",
        is_superuser=False,
        monitor_privileges=True,
        settings={"primary_conninfo": setting},
        extensions={},
        roles=(),
        backends=(),
        own_pid=1,
    )
    facts.add(section)
    kept = facts.get(ServerFacts).settings["primary_conninfo"].value
    assert set(kept.split()) == {"host=h", "password=***"}
    facts.mark_missing("tls", Gap(GapKind.ERROR, "connect failed: password=Canary-9 rejected"))
    assert "Canary-9" not in facts.gaps["tls"].reason
    # A section that cannot be rebuilt after redaction is not kept (fail closed).
    facts.add(ServerFacts.model_construct(settings={"primary_conninfo": setting}))
    assert "postgres" not in facts.sections and "redaction failed" in facts.gaps["postgres"].reason


CONFIG = """
targets:
  - name: db
    dsn: postgresql://auditor:{pw}@db.example.com/app?sslmode=verify-full&sslpassword={pw}
"""


def test_config_digest_covers_the_config_but_not_its_secrets() -> None:
    one = parse_config(CONFIG.format(pw="hunter2"), "a.yaml")
    other = parse_config(CONFIG.format(pw="correct-horse"), "a.yaml")
    assert "hunter2" not in str(redacted_config(one))
    # a guessed password cannot be confirmed from the digest: it does not depend on it...
    assert config_digest(one) == config_digest(other)
    # ...while a change of what is scanned changes it
    moved = parse_config(CONFIG.format(pw="hunter2").replace("db.example", "db2.example"), "a")
    assert config_digest(moved) != config_digest(one)
    assert config_digest(CONFIG.format(pw="hunter2")) == config_digest(one)  # text form too


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:Canary-Cfg-1@h/d?nosuchparam=1",
        "postgresql://u:Canary-Cfg-1@h:99999999/d",
        "postgresql://u@h/d?sslpassword=Canary-Cfg-1&sslmode=bogus",
    ],
)
def test_config_errors_never_quote_an_inline_secret(tmp_path: Path, dsn: str) -> None:
    from click.testing import CliRunner

    from auditor.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(f"targets:\n  - name: a\n    dsn: '{dsn}'\n")
    for args in (["validate", "-c", str(path)], ["scan", "-c", str(path)]):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 2 and "Canary-Cfg-1" not in done.output, done.output


# -- the whole-section gate (facts.redact_section): a section none of whose text holds what a
# rule looks for is kept as it is without walking every string; it must never keep a section
# that the walk would have changed.

_PIECES = st.sampled_from(
    [
        "password=pw1",
        "PassWord = 'x y'",
        "u:p@h",
        "postgresql://u:pw@h/db",
        "://",
        "ldapbindpasswd=b",
        "RadiusSecrets={a}",
        "setting",
        "settings",
        "Known-Secret-1",
        'Kn"own\\2',
        "Ünïcode-Sécret",
        "app.enc_key",
        "Zq8Xw2Lm5Rt9Vb3Nc7Hj1Kp4",
        "public",
        "SKU-1",
        "\n",
        "\x00",
    ]
)
_TEXTS = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=4).map("".join)


class _ProbeSection(BaseModel):
    """Shaped like a fact section, but not one (the section registry stays the product's)."""

    texts: tuple[str, ...]
    keyed: dict[str, str]
    rows: tuple[dict[str, str], ...]


class _SettingsProbe(_ProbeSection):
    settings: tuple[dict[str, str], ...]


@given(
    texts=st.lists(_TEXTS, max_size=4),
    keyed=st.dictionaries(_TEXTS, _TEXTS, max_size=3),
    rows=st.lists(
        st.dictionaries(st.sampled_from(["name", "value", "setting", "other"]), _TEXTS),
        max_size=2,
    ),
    secrets_=st.lists(st.sampled_from(["Known-Secret-1", 'Kn"own\\2', "Ünïcode-Sécret"])),
)
def test_the_section_gate_keeps_only_what_the_full_walk_would_keep(
    texts: list[str], keyed: dict[str, str], rows: list[dict[str, str]], secrets_: list[str]
) -> None:
    redact.forget_secrets()
    for secret in secrets_:
        redact.remember_secret(secret)
    section = _ProbeSection(texts=tuple(texts), keyed=keyed, rows=tuple(rows))
    walked = redact.redact_tree(section.model_dump())
    assert redact_section(section).model_dump()  # type: ignore[type-var] == walked
    if walked != section.model_dump():
        assert redact.json_may_need_redaction(section.model_dump_json())


def test_the_section_gate_lets_plain_sections_through_unwalked() -> None:
    redact.remember_secret("Canary-Pw-77")
    plain = _ProbeSection(texts=("public", "SKU-1", "aes256"), keyed={"t1": "text"}, rows=())
    assert not redact.json_may_need_redaction(plain.model_dump_json())
    assert redact_section(plain) is plain
    leaked = _ProbeSection(texts=("found Canary-Pw-77 here",), keyed={}, rows=())
    assert redact_section(leaked).texts == ("found *** here",)
    # Settings rules judge by name, not by what the text holds: rows under a `settings` key and
    # evidence rows {"setting", "value"} always take the walk.
    evidence = _ProbeSection(texts=(), keyed={}, rows=({"setting": "app.enc_key", "value": "k"},))
    assert redact_section(evidence).rows[0]["value"] == "<redacted secret setting, 1 chars>"
    listed = _SettingsProbe(
        texts=(), keyed={}, rows=(), settings=({"name": "app.api_token", "value": "t0k"},)
    )
    assert redact_section(listed).settings[0]["value"] == "<redacted secret setting, 3 chars>"
    escaped = 'Quote"And\\Back'  # JSON writes it escaped: the gate must not miss it
    redact.remember_secret(escaped)
    assert redact.json_may_need_redaction(plain.model_dump_json())
    assert redact_section(_ProbeSection(texts=(escaped,), keyed={}, rows=())).texts == ("***",)
