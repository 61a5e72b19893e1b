"""Column-layer verdicts on real clusters: the design-like fixture passes every check; the
weak fixture fails the right check on the right table.column or function, with evidence,
while innocent columns are not flagged and no sampled value or key leaks anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from auditor.catalog import all_checks
from auditor.collectors.base import CollectContext
from auditor.collectors.pg.audit_log import AuditLogCollector, AuditLogFacts
from auditor.collectors.pg.code import CodeFacts
from auditor.collectors.pg.columns import ColumnCollector, ColumnFacts, ColumnSample, sample_plan
from auditor.collectors.pg.server import ServerFacts, Setting
from auditor.collectors.pg.session import PgSession
from auditor.facts import Facts, FactSection, TargetContext
from auditor.formatters.json_results import results_to_dict
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status
from auditor.policy import Policy
from auditor.runner import evaluate
from tests.column.conftest import (
    CANARY_CARD,
    CANARY_DEFAULT_KEY,
    CANARY_EMAIL,
    CANARY_KEY,
    DESIGN_COLUMNS,
    WEAK_COLUMNS,
    columns_config,
)
from tests.conftest import AUDITOR_PASSWORD

Scan = tuple[ScanResults, Facts]


def _ours(results: ScanResults, prefix: str = "column.") -> list[Result]:
    return [r for r in results.findings if r.check_id.startswith(prefix)]


def _find(results: ScanResults, check_id: str, resource: str | None = None) -> Result:
    matches = [
        r
        for r in results.findings
        if r.check_id == check_id and (resource is None or r.resource == resource)
    ]
    assert len(matches) == 1, (check_id, resource, matches)
    return matches[0]


def test_design_fixture_passes_every_column_check(design_scan: Scan) -> None:
    results, _ = design_scan
    ours = _ours(results)
    assert {r.check_id for r in ours} == {
        "column.pgcrypto_installed",
        "column.sensitive_encrypted",
        "column.cipher_strength",
        "column.cipher_failure_plaintext",
        "column.plaintext_pii",
        "column.key_in_code",
        "column.key_in_logs",
        "column.crypto_function_privileges",
    }
    assert [(r.check_id, r.resource, r.message) for r in ours if r.status is not Status.PASS] == []
    for column in DESIGN_COLUMNS:
        enc = _find(results, "column.sensitive_encrypted", column)
        assert enc.evidence["sampled"] == enc.evidence["ciphertext"] == 40
        assert enc.evidence["encodings"] == {"base64": 40}
        strength = _find(results, "column.cipher_strength", column)
        assert strength.evidence["ciphers"] == {"aes256": 40}
        assert strength.evidence["s2k_digests"] == {"sha256": 40}
    failure = _find(results, "column.cipher_failure_plaintext")
    assert failure.evidence["messages_inspected"] == 120
    # The access log's identity columns (addresses, who accessed) are audit data, not PII
    # to encrypt: they are set aside by name, on every partition.
    pii = _find(results, "column.plaintext_pii")
    assert sorted(pii.evidence["audit_trail_columns"]) == [
        "encrypted_data_access_log_current.accessed_by",
        "encrypted_data_access_log_current.client_ip",
        "encrypted_data_access_log_old.accessed_by",
        "encrypted_data_access_log_old.client_ip",
    ]


def test_design_security_definer_decryptor_is_examined_and_passes(design_scan: Scan) -> None:
    results, facts = design_scan
    privileges = _find(results, "column.crypto_function_privileges")
    assert privileges.status is Status.PASS
    examined = {f["function"]: f for f in privileges.evidence["decrypt_functions"]}
    wrapper = examined["public.read_user_email(p_id bigint, p_key text)"]
    assert wrapper["security_definer"] is True
    assert "PUBLIC" not in wrapper["executors"] and "app" in wrapper["executors"]
    # It takes the key as a parameter: learnt as a key wrapper, not a literal key.
    code = facts.get(CodeFacts)
    assert code.key_functions.get("read_user_email") == 2
    key_in_code = _find(results, "column.key_in_code")
    assert key_in_code.status is Status.PASS


def test_plaintext_declared_column_fails_with_its_shape(weak_scan: Scan) -> None:
    results, _ = weak_scan
    email = _find(results, "column.sensitive_encrypted", "users.email")
    assert email.status is Status.FAIL and email.severity is Severity.CRITICAL
    assert email.message == (
        "users.email: 31 of 31 sampled values (100%) are not OpenPGP ciphertext (email 31)"
    )
    phone = _find(results, "column.sensitive_encrypted", "users.phone")
    assert phone.status is Status.PASS


@pytest.mark.parametrize(
    ("column", "severity", "words"),
    [
        ("vault.aes128", Severity.MEDIUM, "cipher aes128 on 25 values"),
        ("vault.des3", Severity.HIGH, "cipher 3des on 25 values"),
        ("vault.cast5", Severity.HIGH, "cipher cast5 on 25 values"),
        ("vault.blowfish", Severity.HIGH, "cipher blowfish on 25 values"),
        ("vault.s2k_simple", Severity.HIGH, "S2K mode 0 (simple, unsalted) on 25 values"),
        ("vault.s2k_salted", Severity.LOW, "S2K mode 1 (salted, not iterated) on 25 values"),
        ("vault.s2k_md5", Severity.MEDIUM, "S2K digest MD5 on 25 values"),
        ("vault.no_mdc", Severity.HIGH, "no integrity protection (tag 9, disable-mdc)"),
    ],
)
def test_weak_ciphers_fail_on_their_column(
    weak_scan: Scan, column: str, severity: Severity, words: str
) -> None:
    result = _find(weak_scan[0], "column.cipher_strength", column)
    assert result.status is Status.FAIL
    assert result.severity is severity
    assert words in result.message


@pytest.mark.parametrize(
    "column", ["vault.aes256_ok", "vault.armored_ok", "vault.bytea_ok", "users.phone"]
)
def test_strong_columns_of_the_weak_cluster_pass(weak_scan: Scan, column: str) -> None:
    results, _ = weak_scan
    assert _find(results, "column.cipher_strength", column).status is Status.PASS
    assert _find(results, "column.sensitive_encrypted", column).status is Status.PASS


def test_encodings_are_told_apart(weak_scan: Scan) -> None:
    columns = weak_scan[1].get(ColumnFacts)
    assert columns.sample("vault.armored_ok").encodings == {"armor": 25}  # type: ignore[union-attr]
    assert columns.sample("vault.bytea_ok").encodings == {"bytea": 25}  # type: ignore[union-attr]


def test_declared_column_without_values_skips(weak_scan: Scan) -> None:
    results, _ = weak_scan
    empty = _find(results, "column.sensitive_encrypted", "vault.not_filled")
    assert empty.status is Status.SKIP
    assert empty.message == "vault.not_filled: no non-null values sampled: nothing to judge"
    assert empty.evidence["sampled"] == 0 and empty.evidence["estimated_rows"] == 25
    # Its filled neighbours in the same table are judged.
    assert _find(results, "column.sensitive_encrypted", "vault.aes256_ok").status is Status.PASS


def _offline(*sections: FactSection) -> Facts:
    facts = Facts(target=TargetContext(name="db", kind="postgres"))
    for section in sections:
        facts.add(section)
    return facts


def _sample(column: str, sampled: int, openpgp: int = 0) -> ColumnSample:
    return ColumnSample(
        schema_name="public",
        table="users",
        column=column,
        data_type="text",
        declared=True,
        estimated_rows=sampled,
        method=f"LIMIT {sampled or 200}",
        sampled=sampled,
        openpgp=openpgp,
        encodings={"base64": openpgp} if openpgp else {},
        ciphers={"aes256": openpgp} if openpgp else {},
    )


def _column_facts(pgcrypto: str | None, *samples: ColumnSample) -> ColumnFacts:
    return ColumnFacts(
        current_user="auditor",
        server_version_num=150018,
        pgcrypto_version=pgcrypto,
        declared=tuple(s.name for s in samples),
        samples=samples,
        rows_per_column=200,
        budget_seconds=30.0,
        elapsed_seconds=0.1,
    )


def _run(facts: Facts, check_id: str) -> list[Result]:
    return [r for r in evaluate(facts, all_checks().values()) if r.check_id == check_id]


def test_missing_pgcrypto_fails_where_columns_are_declared() -> None:
    facts = _offline(_column_facts(None, _sample("email", 5, openpgp=5)))
    (result,) = _run(facts, "column.pgcrypto_installed")
    assert result.status is Status.FAIL and result.severity is Severity.HIGH
    assert result.message == "pgcrypto is not installed in this database"
    assert result.evidence == {"pgcrypto_version": None, "sensitive_columns": ["users.email"]}
    (installed,) = _run(
        _offline(_column_facts("1.3", _sample("email", 5, openpgp=5))), "column.pgcrypto_installed"
    )
    assert installed.status is Status.PASS


def test_zero_values_or_zero_messages_skip_instead_of_passing() -> None:
    facts = _offline(_column_facts("1.3", _sample("email", 0), _sample("phone", 3, openpgp=3)))
    encrypted = {r.resource: r for r in _run(facts, "column.sensitive_encrypted")}
    assert encrypted["users.email"].status is Status.SKIP
    assert encrypted["users.email"].message == (
        "users.email: no non-null values sampled: nothing to judge"
    )
    assert encrypted["users.phone"].status is Status.PASS
    (inspected,) = _run(facts, "column.cipher_failure_plaintext")
    assert inspected.status is Status.PASS and inspected.evidence["messages_inspected"] == 3

    nothing = _offline(_column_facts("1.3", _sample("email", 0), _sample("phone", 4)))
    (failure,) = _run(nothing, "column.cipher_failure_plaintext")
    assert failure.status is Status.SKIP
    assert failure.message.startswith("no OpenPGP message was found in the sampled columns")
    assert failure.evidence["messages_inspected"] == 0


def _with_setting(facts: Facts, name: str, value: str) -> Facts:
    server = facts.get(ServerFacts)
    changed = Setting(
        name=name,
        value=value,
        unit="ms",
        source="configuration file",
        sourcefile="/etc/postgresql/postgresql.conf",
        sourceline=12,
    )
    return _offline(
        server.model_copy(update={"settings": {**server.settings, name: changed}}),
        facts.get(CodeFacts),
        facts.get(ColumnFacts),
    )


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("log_min_duration_statement", "250", "statements over the threshold are logged"),
        ("log_min_duration_sample", "0", "statements over the threshold are logged"),
        ("log_transaction_sample_rate", "0.01", "every statement of a sampled transaction"),
        ("auto_explain.log_min_duration", "0", "auto_explain logs slow statements' text"),
    ],
)
def test_duration_logging_fails_key_in_logs(
    design_scan: Scan, name: str, value: str, why: str
) -> None:
    facts = design_scan[1]
    # The recorded design facts pass as they are (pgcrypto in use, nothing logs by duration,
    # auto_explain not loaded) ...
    (before,) = _run(_offline(facts.get(ServerFacts), facts.get(CodeFacts)), "column.key_in_logs")
    assert before.status is Status.PASS
    if name.startswith("auto_explain."):
        assert name not in before.evidence
    else:
        assert before.evidence[name]["value"] in ("-1", "0")
    # ... and fail on exactly that setting once it logs statements.
    (after,) = _run(_with_setting(facts, name, value), "column.key_in_logs")
    assert after.status is Status.FAIL and after.severity is Severity.MEDIUM
    assert after.message.startswith(f"{name} = {value} (/etc/postgresql/postgresql.conf:12): ")
    assert why in after.message
    assert after.evidence[name]["value"] == value


def test_bf_and_cast5_plaintext_failure_is_critical_with_server_version(weak_scan: Scan) -> None:
    results, _ = weak_scan
    failing = {
        r.resource: r for r in results.findings if r.check_id == "column.cipher_failure_plaintext"
    }
    assert set(failing) == {"vault.blowfish", "vault.cast5"}
    for r in failing.values():
        assert r.status is Status.FAIL and r.severity is Severity.CRITICAL
        assert r.evidence["server_version"] == "15.18"
        assert r.evidence["release_has_fix"] is False
        assert r.evidence["exposed"] == r.evidence["messages"] == 25
    # Those messages are not counted as encrypted either.
    cast5 = _find(results, "column.sensitive_encrypted", "vault.cast5")
    assert cast5.status is Status.FAIL
    assert "OpenPGP header over clear literal data 25" in cast5.message


def test_plaintext_pii_in_undeclared_columns(weak_scan: Scan) -> None:
    results, _ = weak_scan
    failing = {
        r.resource: r
        for r in results.findings
        if r.check_id == "column.plaintext_pii" and r.status is Status.FAIL
    }
    assert set(failing) == {
        "legacy_payments.card_number",
        "legacy_payments.ssn",
        "legacy_payments.iban",
        "legacy_payments.wallet",
        "legacy_payments.note",
        "support_tickets.body",
        "profiles.aliases",
        "profiles.prefs",
        "profiles.card",
        "profiles.home",
        "profiles.raw",
        "profiles.last_ip",
    }
    for column in ("aliases", "prefs", "card", "home", "raw"):
        (kind,) = failing[f"profiles.{column}"].evidence["pii"]
        assert kind["kind"] == "email" and kind["count"] == 12, column
    (ip,) = failing["profiles.last_ip"].evidence["pii"]
    assert ip["kind"] == "ip_address" and set(ip["examples"]) == {"198.51.***.***"}
    # A network is not an address, and a known-invalid SSN is not personal data.
    columns = weak_scan[1].get(ColumnFacts)
    for name in ("profiles.office_net", "profiles.reviewer_ssn"):
        sample = columns.sample(name)
        assert sample is not None and sample.sampled == 12 and sample.pii == (), name
    card = failing["legacy_payments.card_number"]
    assert card.severity is Severity.CRITICAL
    (kind,) = card.evidence["pii"]
    assert kind["kind"] == "card_number" and kind["count"] == 21 and kind["fraction"] == 1.0
    assert set(kind["examples"]) <= {
        "411111******1111",
        "550000******0004",
        "378282*****0005",
        "424242******4242",
    }
    body = failing["support_tickets.body"]
    assert body.severity is Severity.HIGH
    assert body.evidence["pii"][0]["kind"] == "email"
    assert body.evidence["pii"][0]["fraction"] == 0.5
    assert body.evidence["pii"][0]["examples"] == ["c***@m***.org"]
    # Innocent look-alikes are sampled and pass silently.
    columns = weak_scan[1].get(ColumnFacts)
    for name in (
        "products.sku",
        "products.order_no",
        "products.ref_text",
        "products.price_text",
        "support_tickets.subject",
    ):
        sample = columns.sample(name)
        assert sample is not None and sample.sampled > 0 and sample.pii == ()


def test_missing_select_privilege_skips_with_the_grant(weak_scan: Scan) -> None:
    results, _ = weak_scan
    grant = "GRANT USAGE ON SCHEMA public TO auditor; GRANT SELECT ON public.hr_private TO auditor;"
    declared = _find(results, "column.sensitive_encrypted", "hr_private.salary_note")
    assert declared.status is Status.SKIP and grant in declared.message
    pii_skip = _find(results, "column.plaintext_pii", "hr_private")
    assert pii_skip.status is Status.SKIP and grant in pii_skip.message


def test_literal_keys_cite_function_view_and_trigger(weak_scan: Scan) -> None:
    results, _ = weak_scan
    failing = {r.resource: r for r in results.findings if r.check_id == "column.key_in_code"}
    assert set(failing) == {
        "function public.register_user(p_email text)",
        "function public.rotate_phone(p_id bigint)",
        "view public.users_clear",
        "trigger users_encrypt on public.users",
        "function public.encrypt_note(p_note text, p_key text)",
        "column default public.api_tokens.token",
        "function public.store_note(p_note text)",
        "function public.seal(p_x text)",
        "ALTER DATABASE app SET app.encryption_key",
        "ALTER ROLE app SET app.role_key",
        "app.master_secret (" + _conf_location(failing) + ")",
        "key_store.secret",
    }
    wrapped = failing["function public.store_note(p_note text)"]
    assert wrapped.evidence["call"] == "pgp_wrap_encrypt"
    assert wrapped.evidence["snippet"] == "pgp_wrap_encrypt(p_note, '***', '***')"
    assert all(
        r.status is Status.FAIL and r.severity is Severity.CRITICAL for r in failing.values()
    )
    reg = failing["function public.register_user(p_email text)"]
    assert reg.evidence["snippet"] == "encrypt_text(p_email, '***')"
    assert failing["function public.rotate_phone(p_id bigint)"].evidence["via"] == (
        "constant variable k"
    )
    note = failing["function public.encrypt_note(p_note text, p_key text)"]
    assert note.evidence["via"] == "default of parameter p_key"
    assert note.evidence["snippet"] == "p_key ... DEFAULT '***'"
    default = failing["column default public.api_tokens.token"]
    assert default.evidence["kind"] == "column default"
    assert default.evidence["call"] == "pgp_sym_encrypt"
    assert default.evidence["via"] == "literal"
    assert "'***'" in default.evidence["snippet"]
    assert "cipher-algo=aes256" in default.evidence["snippet"]
    # The wrappers themselves take the key as a parameter: not flagged.
    assert not any("encrypt_text(plaintext" in (r or "") for r in failing)


def _conf_location(failing: dict[str | None, Result]) -> str:
    (name,) = [r for r in failing if r and r.startswith("app.master_secret (")]
    return name.removeprefix("app.master_secret (").removesuffix(")")


def test_keys_kept_in_settings_and_key_tables_fail_masked(weak_scan: Scan) -> None:
    results, _ = weak_scan
    db = _find(results, "column.key_in_code", "ALTER DATABASE app SET app.encryption_key")
    assert db.status is Status.FAIL
    assert db.message == (
        "database setting ALTER DATABASE app SET app.encryption_key holds a key (key-like "
        "name, value '***' (25 characters)): every session can read it with current_setting()"
    )
    role = _find(results, "column.key_in_code", "ALTER ROLE app SET app.role_key")
    assert role.evidence["kind"] == "role setting"
    conf = [r for r in results.findings if (r.resource or "").startswith("app.master_secret (")]
    assert len(conf) == 1 and conf[0].evidence["kind"] == "server setting"
    assert conf[0].resource.endswith("postgresql.conf:" + conf[0].resource.rsplit(":")[-1])
    table = _find(results, "column.key_in_code", "key_store.secret")
    assert table.evidence["key_like"] == table.evidence["sampled"] == 8
    # The label column of the same table and ordinary text columns are not key stores.
    assert not any(
        r.resource == "key_store.label"
        for r in results.findings
        if r.check_id == "column.key_in_code"
    )


def test_key_in_logs(weak_scan: Scan, design_scan: Scan) -> None:
    weak = _find(weak_scan[0], "column.key_in_logs")
    assert weak.status is Status.FAIL
    assert weak.message.startswith("log_statement = all (")
    assert "with its text (literal keys) and its bind parameters" in weak.message
    assert "log_parameter_max_length = -1 (default): bind parameters of logged" in weak.message
    # Error logging as CIS wants it is not a problem in itself.
    assert "log_min_error_statement = error" not in weak.message
    assert weak.evidence["log_statement"]["value"] == "all"
    assert weak.evidence["reaches_log"] == {
        "statement_text": ["log_statement", "log_min_error_statement"],
        "bind_parameters": ["log_statement"],
    }
    design = _find(design_scan[0], "column.key_in_logs")
    assert design.status is Status.PASS
    assert design.evidence["log_min_error_statement"]["value"] == "error"
    assert design.evidence["log_parameter_max_length_on_error"]["value"] == "0"
    assert design.evidence["log_parameter_max_length"]["value"] == "0"
    assert design.evidence["reaches_log"]["bind_parameters"] == []
    assert "logs the text of failing statements (as CIS recommends)" in design.message


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("log_parameter_max_length_on_error", "-1", "a failed decrypt writes its bind"),
        ("log_parameter_max_length_on_error", "64", "a failed decrypt writes its bind"),
        ("pgaudit.log_parameter", "on", "pgaudit logs bind parameters"),
    ],
)
def test_bind_parameters_written_on_error_fail(
    design_scan: Scan, name: str, value: str, words: str
) -> None:
    (after,) = _run(_with_setting(design_scan[1], name, value), "column.key_in_logs")
    assert after.status is Status.FAIL
    assert after.message.startswith(f"{name} = {value} (/etc/postgresql/postgresql.conf:12): ")
    assert words in after.message
    assert name in after.evidence["reaches_log"]["bind_parameters"]


def test_statement_logging_with_parameters_cut_still_logs_literal_keys(design_scan: Scan) -> None:
    facts = _with_setting(design_scan[1], "log_statement", "mod")
    (result,) = _run(facts, "column.key_in_logs")
    assert result.status is Status.FAIL
    assert "with its text (literal keys)" in result.message
    assert "bind parameters" not in result.message  # log_parameter_max_length = 0 there
    assert result.evidence["reaches_log"]["bind_parameters"] == []


def test_public_security_definer_decryptor(weak_scan: Scan) -> None:
    results, _ = weak_scan
    r = _find(results, "column.crypto_function_privileges")
    assert r.status is Status.FAIL
    assert r.resource == "public.reveal_phone(p_id bigint, p_key text)"
    assert "PUBLIC" in r.evidence["executors"]


def test_canary_value_and_key_never_leave_the_scan(weak_scan: Scan) -> None:
    results, facts = weak_scan
    # The canaries were really seen (masked), so their absence below means something.
    card = _find(results, "column.plaintext_pii", "legacy_payments.card_number")
    assert card.evidence["pii"][0]["count"] == 21
    for location in (
        "function public.register_user(p_email text)",
        "column default public.api_tokens.token",
        "function public.store_note(p_note text)",
    ):
        assert _find(results, "column.key_in_code", location).status is Status.FAIL
    outputs = json.dumps(results_to_dict(results)) + json.dumps(facts.to_json())
    # Server settings in the facts are redacted by the server collector's own policy; the
    # results and this layer's sections never carry a stored key.
    ours = json.dumps(results_to_dict(results)) + "".join(
        json.dumps(facts.get(m).model_dump(mode="json"))
        for m in (ColumnFacts, CodeFacts, AuditLogFacts)
    )
    for stored in (
        "conf-canary-secret-1618",
        "dbsetting-canary-key-2718",
        "rolesetting-canary-key-3141",
    ):
        assert stored not in ours
    for canary in (
        CANARY_EMAIL,
        CANARY_CARD,
        CANARY_KEY,
        "another-inline-key",
        "view-inline-key",
        "default-inline-key",
        CANARY_DEFAULT_KEY,
        "trigger-inline-key",
        "pgpwrap-canary-key-5150",
        "cast-canary-key-1414",
        "secret value 1",
        "user1@example.com",
        "customer2@mail.example.org",
        "DE89370400440532013000",
    ):
        assert canary not in outputs


def test_sampling_plan_scales_with_the_sample_not_the_table() -> None:
    assert sample_plan(1_000, 200, 500_000, seed=42) == (
        None,
        "all rows in random order (seed 42) LIMIT 200",
    )
    pct, method = sample_plan(10_000_000, 200, 2_000_000_000, seed=42)
    assert pct is not None and pct < 0.01
    assert method.startswith("TABLESAMPLE SYSTEM (") and "REPEATABLE (42)" in method
    # A stale row estimate cannot make a big table look small: its pages count too.
    pct, _ = sample_plan(10, 200, 2_000_000_000, seed=1, pages=250_000)
    assert pct is not None and pct < 0.1


@dataclass(frozen=True)
class _PolicyContext(CollectContext):
    """A collect context carrying a policy (what the runner hands collectors once wired)."""

    policy: Policy = field(default_factory=Policy)


def _collect_with(cluster: Cluster, policy: Policy, collector: object) -> object:
    config = columns_config(cluster, WEAK_COLUMNS)
    ctx = _PolicyContext(config.targets[0], AUDITOR_PASSWORD, Path.cwd(), policy)
    session = PgSession.open(ctx)
    try:
        return collector.collect(session, ctx)  # type: ignore[attr-defined]
    finally:
        session.close()


def test_big_table_is_sampled_with_tablesample(column_weak_cluster: Cluster) -> None:
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bulk")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bulk.events AS "
            "SELECT g AS id, 'event ' || g AS label FROM generate_series(1, 200000) g"
        )
        conn.execute("ANALYZE bulk.events")
        conn.execute("GRANT USAGE ON SCHEMA bulk TO auditor")
        conn.execute("GRANT SELECT ON bulk.events TO auditor")
        conn.commit()
    facts = _collect_with(column_weak_cluster, Policy(sample_rows_per_column=50), ColumnCollector())
    assert isinstance(facts, ColumnFacts)
    sample = facts.sample("bulk.events.label")
    assert sample is not None
    assert sample.method.startswith("TABLESAMPLE SYSTEM (")
    assert f"REPEATABLE ({facts.sample_seed})" in sample.method
    assert 0 < sample.sampled <= 50 and sample.estimated_rows == 200000
    assert facts.rows_per_column == 50


def test_each_scan_draws_a_fresh_seed_and_reads_rows_the_owner_cannot_choose(
    column_weak_cluster: Cluster, weak_scan: Scan
) -> None:
    """The owner put 50 ciphertext rows first and 450 plaintext e-mails after them: a plain
    LIMIT read the ciphertext only; a random order finds the e-mails."""
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS gamed (id int, note text)")
        conn.execute("TRUNCATE gamed")
        conn.execute(
            "INSERT INTO gamed SELECT g, encrypt_text('n' || g, 'k') FROM generate_series(1, 50) g"
        )
        conn.execute(
            "INSERT INTO gamed SELECT g, 'gamed' || g || '@mail.example.org' "
            "FROM generate_series(51, 500) g"
        )
        conn.execute("GRANT SELECT ON gamed TO auditor")
        conn.commit()
    seeds = set()
    for _ in range(2):
        facts = _collect_with(
            column_weak_cluster, Policy(sample_rows_per_column=50), ColumnCollector()
        )
        assert isinstance(facts, ColumnFacts) and facts.sample_seed is not None
        seeds.add(facts.sample_seed)
        sample = facts.sample("gamed.note")
        assert sample is not None and sample.sampled == 50
        assert sample.method == f"all rows in random order (seed {facts.sample_seed}) LIMIT 50"
        (email,) = sample.pii
        assert email.kind == "email" and email.count > 25
    assert len(seeds) == 2
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("DROP TABLE gamed")  # the shared cluster's other verdicts stay as seeded
        conn.commit()


def test_time_budget_leaves_tables_out_and_says_so(column_weak_cluster: Cluster) -> None:
    facts = _collect_with(
        column_weak_cluster, Policy(sample_budget_seconds=1e-9), ColumnCollector()
    )
    assert isinstance(facts, ColumnFacts)
    assert facts.samples == () and "vault" in facts.not_sampled


def test_configured_access_log_name_is_used(column_weak_cluster: Cluster) -> None:
    facts = _collect_with(
        column_weak_cluster, Policy(access_log_table="no_such_log"), AuditLogCollector()
    )
    assert facts.found is False and facts.table == "no_such_log"  # type: ignore[attr-defined]


def test_saved_bundle_gives_the_same_verdicts_offline(weak_scan: Scan) -> None:
    results, facts = weak_scan
    reloaded = Facts.from_json(json.loads(json.dumps(facts.to_json())), facts.target)
    again = evaluate(reloaded, all_checks().values())

    def key(rs: Iterable[Result]) -> list[tuple[str, str | None, str, str]]:
        return sorted(
            (r.check_id, r.resource, r.status.value, r.message)
            for r in rs
            if r.check_id.startswith(("column.", "audit."))
        )

    assert key(again) == key(results.findings)


def test_a_grant_on_a_log_partition_is_found(column_weak_cluster: Cluster) -> None:
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS audit2")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS audit2.access_log (accessed_at timestamptz) "
            "PARTITION BY RANGE (accessed_at)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS audit2.access_log_all PARTITION OF audit2.access_log "
            "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
        )
        conn.execute("GRANT DELETE ON audit2.access_log_all TO app")
        conn.commit()
    facts = _collect_with(
        column_weak_cluster, Policy(access_log_table="audit2.access_log"), AuditLogCollector()
    )
    assert isinstance(facts, AuditLogFacts)
    assert facts.found and facts.partitioned and facts.partitions == 1
    assert [g.model_dump() for g in facts.rewrite_grants] == [
        {
            "role": "app",
            "privileges": ("DELETE",),
            "how": "granted directly on partition audit2.access_log_all",
        }
    ]


def test_rls_filtered_table_skips_instead_of_passing(weak_scan: Scan) -> None:
    results, facts = weak_scan
    skip = _find(results, "column.plaintext_pii", "rls_contacts")
    assert skip.status is Status.SKIP
    assert "ALTER ROLE auditor BYPASSRLS;" in skip.message
    assert "pg_read_all_data does not bypass row-level security" in skip.message
    # The filtered table was not sampled at all (its visible rows are the encrypted ones).
    assert facts.get(ColumnFacts).sample("rls_contacts.contact") is None


def test_plaintext_pii_never_passes_on_what_it_could_not_read() -> None:
    clean = _sample("notes", 10).model_copy(update={"declared": False})
    read_all = _column_facts("1.3", clean)
    (passed,) = _run(_offline(read_all), "column.plaintext_pii")
    assert passed.status is Status.PASS
    assert passed.message.startswith("no personal data found in 1 undeclared")
    partial = read_all.model_copy(
        update={"unreadable": {"hr": "GRANT SELECT ON public.hr TO auditor;"}}
    )
    results = _run(_offline(partial), "column.plaintext_pii")
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP]
    assert results[0].resource == "hr"
    assert results[1].message.endswith("but 1 tables were not read: not a pass until they are")
    nothing = _column_facts("1.3").model_copy(
        update={"rls_filtered": {"t": "row-level security is enabled on t"}}
    )
    summary = _run(_offline(nothing), "column.plaintext_pii")[-1]
    assert summary.status is Status.SKIP
    assert summary.message.startswith("no undeclared text-like column could be sampled")
