"""The scanned database's owner cannot run code in the scan session, nor loosen it: a
shadowing function, operator or type placed first on the database's and the scanner role's
search path is never called, and hostile ALTER DATABASE/ROLE defaults never hold."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg import session as session_module
from auditor.collectors.pg.server import ServerFacts
from auditor.collectors.pg.session import ConnectFailed, PgSession
from auditor.lab.cluster import Cluster
from auditor.model import Status, TargetStatus
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, config_for
from tests.hostile.conftest import MARKER, scanner_markers

# Reads, plus the column sampler's own transaction that turns row security off for itself
# (so a policy raises instead of silently hiding rows from the scan).
READ_ONLY_STATEMENT = re.compile(
    r"^\s*(SELECT|WITH|SHOW|BEGIN|COMMIT|ROLLBACK|SET LOCAL row_security = off)\b", re.I
)
LOGGED_STATEMENT = re.compile(r"^auditor\|.*?(?:statement|execute [^:]*): (.*)$", re.M)


def _control(cluster: Cluster, options: str = "-c local_preload_libraries=") -> psycopg.Connection:
    """The scanner's role, logged in the way a plain client would (no pinned settings)."""
    return psycopg.connect(
        cluster.dsn("auditor"),
        password=AUDITOR_PASSWORD,
        application_name="control",
        options=options,
        autocommit=True,
    )


def test_the_traps_fire_in_a_session_that_is_not_pinned(hostile_cluster: Cluster) -> None:
    """Control: proves each trap is live, so their silence in a scan means something."""
    with pytest.raises(psycopg.OperationalError, match="hostile_absent"):
        _control(hostile_cluster, options="").close()
    with _control(hostile_cluster) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("evil, pg_catalog, public",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("off",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert conn.execute("SELECT current_user").fetchone() == ("lowly",)
        assert conn.execute("SHOW client_encoding").fetchone() == ("SJIS",)
        fake = conn.execute("SELECT left('078-05-1120', 1024)").fetchone()
        assert fake is not None and fake[0].startswith("ww0E")  # plaintext turned "encrypted"
        conn.execute(
            "SELECT lower('A'), 'a'::name = 'b'::name, 'x'::text, current_setting('server_version')"
        )
    fired = "\n".join(scanner_markers(hostile_cluster, app="control"))
    for trap in (
        "left(text, integer)",
        "lower(text)",
        "=(name, name)",
        "domain check",
        "current_setting(text)",
    ):
        assert f"{MARKER} {trap}" in fired


def _ctx(cluster: Cluster) -> CollectContext:
    target = config_for(cluster).targets[0]
    return CollectContext(target, AUDITOR_PASSWORD, Path.cwd())


def test_the_pinned_session_resolves_only_built_ins(hostile_cluster: Cluster) -> None:
    session = PgSession.open(_ctx(hostile_cluster))
    try:
        assert session.value("SHOW search_path") == "pg_catalog,pg_temp"
        assert session.value("SHOW default_transaction_read_only") == "on"
        assert session.value("SHOW statement_timeout") == "5s"
        assert session.value("SHOW lock_timeout") == "1s"
        assert session.value("SHOW idle_in_transaction_session_timeout") == "1min"
        assert session.value("SHOW local_preload_libraries") == ""
        assert session.value("SHOW client_encoding") == "UTF8"
        assert session.value("SHOW bytea_output") == "hex"
        # The same unqualified SQL the control session ran, resolved to the built-ins.
        row = session.rows(
            "SELECT left('078-05-1120', 3) AS l, lower('A') AS lo, 'a'::name = 'b'::name AS eq, "
            "'x'::text AS t, current_setting('server_version') AS v, current_user AS u, "
            "now()::text AS at"
        )[0]
        assert row["l"] == "078" and row["lo"] == "a" and row["eq"] is False
        assert row["u"] == "auditor"
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", row["at"])  # DateStyle ISO, not German
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.rows("CREATE TABLE public.auditor_probe (x int)")
    finally:
        session.close()
    assert scanner_markers(hostile_cluster) == []


def test_a_full_scan_never_runs_the_owners_code(hostile_cluster: Cluster) -> None:
    config = config_for(hostile_cluster, sensitive_columns="[users.ssn, users.email]")
    log_before = len(hostile_cluster.log_text())
    results, bundles = run_scan(config, Path.cwd())
    assert results.targets[0].status is TargetStatus.SCANNED, results.targets[0].error
    assert scanner_markers(hostile_cluster) == []
    server = bundles[0].get(ServerFacts)
    assert server.current_user == "auditor" and server.is_superuser  # not switched to 'lowly'
    assert server.password_kinds is not None and "dbowner" in server.password_kinds
    # evil.left would have handed every sampled value back as ciphertext: the plaintext
    # column still fails, the encrypted one still passes.
    verdicts = {
        f.resource: f.status for f in results.findings if f.check_id == "column.sensitive_encrypted"
    }
    assert verdicts == {"users.ssn": Status.FAIL, "users.email": Status.PASS}
    sent = LOGGED_STATEMENT.findall(hostile_cluster.log_text()[log_before:])
    assert len(sent) > 20 and any("pg_authid" in s for s in sent)
    assert [s for s in sent if not READ_ONLY_STATEMENT.match(s)] == []


def test_a_session_whose_pins_did_not_hold_is_refused(
    hostile_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As behind a pooler that drops startup options: the scan refuses rather than run."""
    monkeypatch.setattr(
        session_module, "startup_options", lambda target: "-c local_preload_libraries="
    )
    with pytest.raises(ConnectFailed, match=r"search_path is 'evil, pg_catalog, public'"):
        PgSession.open(_ctx(hostile_cluster))
    results, _ = run_scan(
        config_for(hostile_cluster), Path.cwd(), check_ids={"auth.password_encryption"}
    )
    assert results.targets[0].status is TargetStatus.ERROR
    assert "refusing to scan" in (results.targets[0].error or "")
    assert scanner_markers(hostile_cluster) == []
