"""The scan session's pinned settings, read back as the server renders them, for timeouts that
are not round numbers too (a mismatch would refuse every scan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.secret_text import dsn_secrets, scrub
from auditor.collectors.pg.session import PgSession
from auditor.lab.cluster import Cluster
from tests.conftest import AUDITOR_PASSWORD, config_for


@pytest.mark.parametrize(
    ("timeout_ms", "shown"), [(1500, "1500ms"), (90_000, "90s"), (7_200_000, "2h")]
)
def test_any_statement_timeout_is_pinned_and_verified(
    compliant_cluster: Cluster, monkeypatch: pytest.MonkeyPatch, timeout_ms: int, shown: str
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    target = config_for(compliant_cluster, statement_timeout_ms=timeout_ms).targets[0]
    session = PgSession.open(CollectContext(target, AUDITOR_PASSWORD, Path.cwd()))
    try:
        assert session.value("SHOW statement_timeout") == shown
        assert session.value("SHOW search_path") == "pg_catalog,pg_temp"
    finally:
        session.close()


def test_dsn_passwords_are_found_however_the_url_splits() -> None:
    raw = "postgresql://u:Ab3#Cd4/Ef5?Gh6&Ij7@Kl8@db:5432/app?sslmode=require&password=Mn9%23"
    found = dsn_secrets(raw)
    assert "Ab3#Cd4/Ef5?Gh6&Ij7@Kl8" in found and "Mn9%23" in found
    text = "could not translate host name \"Kl8@db\"; port 'Ab3'; Mn9# and Gh6&Ij7"
    assert scrub(text, found) == (
        "could not translate host name \"***@db\"; port '***'; *** and ***&***"
    )
