"""What was examined, by whom and how: the run's metadata (scanner host and user, the policy
in force) and each target's asset inventory (endpoint, database, server version, cluster
settings that matter, cloud resource ids) with the database role it was scanned as and that
role's privileges.

Everything here is derived from facts the collectors already gathered — no extra query, no
connection — so `auditor evaluate` on a saved bundle reports the same inventory as the scan.
Values are data from the scanned system and are shown escaped like any other evidence.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

from auditor.facts import Facts
from auditor.policy import Policy

# Built-in roles whose membership changes what the scanning role can see (or could do).
PRIVILEGE_ROLES = ("pg_monitor", "pg_read_all_settings", "pg_read_all_stats", "pg_read_all_data")
# ServerFacts.unavailable items that are the file views; absent from it = readable.
FILE_VIEWS = {"file_settings": "pg_file_settings", "hba_rules": "pg_hba_file_rules"}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return None


def this_scanner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "user": _user()}


def run_metadata(policy: Policy, scanner: dict[str, Any] | None) -> dict[str, Any]:
    """Who ran the scan (None: not known, e.g. facts saved before it was recorded), where,
    and the policy in force (thresholds, TLS profile)."""
    return {"scanner": scanner, "policy": policy.model_dump(mode="json")}


def target_labels(facts: Facts) -> dict[str, str] | None:
    """The target's labels as the config gave them (None when it has none)."""
    labels = facts.target.options.get("labels")
    return (
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) and labels else None
    )


def target_inventory(facts: Facts) -> dict[str, Any]:
    """The asset inventory of one target from its facts bundle (missing parts stay absent)."""
    inventory: dict[str, Any] = {}
    options = facts.target.options
    if options.get("host") is not None:
        inventory["endpoint"] = f"{options['host']}:{options.get('port') or 5432}"
    labels = target_labels(facts)
    if labels:  # an asset register files each asset under its owner, business unit, zone
        inventory["labels"] = labels
    if isinstance(options.get("databases"), dict):  # a server target's databases, by outcome
        inventory["databases"] = options["databases"]
    _postgres(facts, inventory)
    _cloud(facts, inventory)
    _host(facts, inventory)
    return inventory


def _postgres(facts: Facts, inventory: dict[str, Any]) -> None:
    from auditor.collectors.pg.server import ServerFacts

    server = facts.sections.get(ServerFacts.section)
    if not isinstance(server, ServerFacts):
        return

    def setting(name: str) -> str | None:
        found = server.setting(name)
        return None if found is None else found.value

    inventory["database"] = server.database
    inventory["server_version"] = server.server_version
    inventory["ssl"] = setting("ssl")
    inventory["ssl_library"] = setting("ssl_library")
    checksums = setting("data_checksums")
    inventory["data_checksums"] = None if checksums is None else checksums == "on"
    own = next((r for r in server.roles if r.name == server.current_user), None)
    member_of = set(own.member_of) if own else set()
    inventory["role"] = {
        "name": server.current_user,
        "superuser": server.is_superuser,
        "bypass_rls": None if own is None else own.bypass_rls,
        # direct memberships, as pg_auth_members lists them
        "member_of": [r for r in PRIVILEGE_ROLES if r in member_of],
        "reads_all_settings_and_stats": server.monitor_privileges,
        "file_views": {view: item not in server.unavailable for item, view in FILE_VIEWS.items()},
        # what the role could not read, with the GRANT that would allow it
        "not_readable": dict(sorted(server.unavailable.items())),
    }


def _cloud(facts: Facts, inventory: dict[str, Any]) -> None:
    ids: list[str] = []
    section = facts.sections.get("aws_rds")
    if section is not None:
        db = getattr(section, "database", None)
        ids.append(str(getattr(db, "arn", None) or f"rds:{getattr(db, 'identifier', '?')}"))
        inventory["region"] = getattr(section, "region", None)
        inventory.setdefault("server_version", getattr(db, "engine_version", None))
    section = facts.sections.get("azure_postgres")
    if section is not None:
        ids.append(str(getattr(section, "resource_id", None) or getattr(section, "server", "?")))
        inventory.setdefault("server_version", getattr(section, "version", None))
    section = facts.sections.get("gcp_cloudsql")
    if section is not None:
        ids.append(f"{getattr(section, 'project', '?')}:{getattr(section, 'instance', '?')}")
        inventory.setdefault("server_version", getattr(section, "database_version", None))
    if ids:
        inventory["cloud_resource_ids"] = ids


def _host(facts: Facts, inventory: dict[str, Any]) -> None:
    section = facts.sections.get("host")
    if section is not None:
        inventory["host_evidence"] = getattr(section, "source", None)
