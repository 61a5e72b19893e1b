"""Which checks judge a whole PostgreSQL server and which one database of it.

A server target with `databases:` (auditor/server_scan.py) runs the server-wide checks once
(TLS probe, pg_hba, settings, roles, password storage, log settings) and the database checks
once per database. The split follows the facts a check reads, so a new or third-party check
needs no registration: one that reads a per-database section (sampled columns, function and
view bodies, the access-log table) is a database check, every other one a server check.
`column.key_in_logs` reads log settings but only applies where pgcrypto is used, which is a
property of each database, so it is a database check.
"""

from __future__ import annotations

from typing import Literal

from auditor.checks.base import Check
from auditor.facts import Facts

Scope = Literal["server", "database"]
SERVER: Scope = "server"
DATABASE: Scope = "database"

# Fact sections whose content belongs to the database the session is connected to (the rest
# of what a session reads, the `postgres` section's settings, roles and pg_hba, is shared by
# every database of the server). tests/spine/test_server_databases.py keeps this in step with
# the session collectors.
DATABASE_SECTIONS = frozenset({"columns", "code", "audit_log"})

# TargetContext.options key that marks a bundle as one part of a server target.
SCOPE_OPTION = "scope"


def check_scope(check: Check | type[Check]) -> Scope:
    return DATABASE if check.sections_read() & DATABASE_SECTIONS else SERVER


def applies_to(check: Check, facts: Facts) -> bool:
    """Whether the check belongs to the bundle's part of a server target (always, for a
    bundle of an ordinary target)."""
    scope = facts.target.options.get(SCOPE_OPTION)
    return scope is None or check_scope(check) == scope
