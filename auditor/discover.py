"""`auditor discover`: propose `sensitive_columns` from what the databases hold.

It connects like a scan (the same pinned, read-only session and sampling as the column
checks: auditor/collectors/pg/columns.py, which runs the OpenPGP parser of auditor/pgp.py and
the personal-data detectors of auditor/pii.py over each sample) and lists two kinds of column:

* columns already holding OpenPGP ciphertext: declaring them makes every scan prove they stay
  encrypted (or set `policy: {ciphertext_columns_are_sensitive: true}`);
* columns holding plaintext personal data: to encrypt, then declare.

The answer is a YAML snippet for a person to review, never applied by itself. It holds column
names, counts and kinds only: no sampled value and no masked example is ever printed. Names
come from the scanned database (untrusted): they are written as one-line double-quoted scalars
and comments carry JSON-escaped text, so a name cannot add lines or keys to the snippet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from auditor.collectors.base import CollectContext
from auditor.config import ConfigError, PostgresTarget, ScanConfig

COLUMN_SECTIONS = frozenset({"columns", "columns:declared", "columns:undeclared"})


@dataclass(frozen=True)
class Found:
    """One column worth declaring and why (counts and labels only)."""

    name: str  # table.column as results name it (quoted like PostgreSQL when needed)
    reason: str  # "ciphertext" | "personal data"
    detail: str  # e.g. "50 of 50 sampled values are OpenPGP ciphertext (aes256)"
    declared: bool  # already in sensitive_columns


@dataclass
class PartReport:
    target: str  # the config target
    database: str | None  # the database, for a server target with `databases:`
    found: list[Found] = field(default_factory=list)
    problem: str | None = None  # one line when the part could not be read


def _parts(target: PostgresTarget, config: ScanConfig, config_dir: Path) -> list[PartReport]:
    """The target itself, or each database of a server target (as the scan selects them)."""
    if not target.scans_databases:
        return [PartReport(target.name, None)]
    from auditor.server_scan import ListingFailed, list_databases, select_databases

    try:
        password = target.resolve_password(config_dir)
        rows, role = list_databases(target, password, config_dir, config)
    except (ConfigError, ListingFailed) as exc:
        reason = exc.reason if isinstance(exc, ListingFailed) else str(exc)
        return [PartReport(target.name, None, problem=reason)]
    selection = select_databases(target, rows, role)
    reports = [PartReport(target.name, name) for name in selection.scanned]
    reports.extend(
        PartReport(target.name, name, problem=reason) for name, reason in selection.refused.items()
    )
    return reports


def _read(part: PartReport, target: PostgresTarget, config: ScanConfig, config_dir: Path) -> None:
    from auditor.collectors.pg.columns import ColumnCollector
    from auditor.collectors.pg.session import ConnectFailed, PgSession, safe_error_text
    from auditor.server_scan import database_part

    scanned = target if part.database is None else database_part(target, part.database)
    try:
        password = scanned.resolve_password(config_dir)
    except ConfigError as exc:
        part.problem = str(exc)
        return
    # The policy's own promotion is left out: discovery reports what was declared by hand.
    policy = config.policy.model_copy(update={"ciphertext_columns_are_sensitive": False})
    ctx = CollectContext(
        target=scanned,
        password=password,
        config_dir=config_dir,
        policy=policy,
        needed=COLUMN_SECTIONS,
    )
    try:
        session = PgSession.open(ctx)
    except ConnectFailed as exc:
        part.problem = f"{exc.what}: {exc.reason}"
        return
    try:
        columns = ColumnCollector().collect(session, ctx)
    except Exception as exc:  # one database's failure never stops the others
        part.problem = safe_error_text(exc)
        return
    finally:
        session.close()
    for s in columns.samples:
        if s.openpgp:
            ciphers = ", ".join(sorted(s.ciphers)) or "cipher unknown"
            detail = f"{s.openpgp} of {s.sampled} sampled values are OpenPGP ciphertext ({ciphers})"
            part.found.append(Found(s.name, "ciphertext", detail, s.declared))
            continue
        hits = [p for p in s.pii if p.fraction >= policy.pii_min_fraction]
        if hits and not s.audit_trail:
            kinds = ", ".join(f"{p.kind} in {p.count} of {s.sampled}" for p in hits)
            part.found.append(Found(s.name, "personal data", f"plaintext {kinds}", s.declared))


def discover(
    config: ScanConfig, config_dir: Path, names: Iterable[str] | None = None
) -> list[PartReport]:
    wanted = set(names) if names is not None else None
    reports: list[PartReport] = []
    for target in config.targets:
        if not isinstance(target, PostgresTarget):
            continue
        if wanted is not None and target.name not in wanted:
            continue
        for part in _parts(target, config, config_dir):
            if part.problem is None:
                _read(part, target, config, config_dir)
            reports.append(part)
    return reports


def _comment(text: str) -> str:
    """Text from the scanned system, safe inside a YAML comment (one line, escaped)."""
    return json.dumps(text, ensure_ascii=True)


def _scalar(text: str) -> str:
    """A YAML scalar on one line: a JSON string is a YAML double-quoted scalar."""
    return json.dumps(text, ensure_ascii=True)


def snippet(reports: list[PartReport]) -> str:
    """The proposal as YAML: one entry per config target, its columns commented by why."""
    out = [
        "# auditor discover: proposed sensitive_columns. Review before use: names and counts",
        "# only, no sampled value is shown. Merge each list into its target in the config.",
        "targets:",
    ]
    by_target: dict[str, list[PartReport]] = {}
    for report in reports:
        by_target.setdefault(report.target, []).append(report)
    for target, parts in by_target.items():
        out.append(f"  - name: {_scalar(target)}")
        columns: dict[str, list[str]] = {}  # name -> comments (a column may be in several dbs)
        for part in parts:
            where = "" if part.database is None else f" in database {_comment(part.database)}"
            for found in part.found:
                note = f"{found.reason}{where}: {found.detail}"
                if found.declared:
                    note += " (already declared)"
                columns.setdefault(found.name, []).append(note)
        if not columns:
            out.append("    sensitive_columns: []  # nothing found to propose")
            continue
        out.append("    sensitive_columns:")
        for name in sorted(columns):
            for note in columns[name]:
                out.append(f"      # {note}")
            out.append(f"      - {_scalar(name)}")
    if any(f.reason == "ciphertext" for r in reports for f in r.found):
        out.append("# Or declare every ciphertext-bearing column at once:")
        out.append("# policy: {ciphertext_columns_are_sensitive: true}")
    return "\n".join(out) + "\n"
