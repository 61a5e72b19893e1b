"""Waivers and attestations: accepted risk and manual evidence, decided by people and kept
in a YAML file next to the config.

* A **waiver** turns matching failures into `waived` until it expires; the original severity
  and message stay, and the waiver (reason, approver, expiry) is recorded in the result's
  evidence. An expired waiver stops applying: the failure stays a failure and carries the
  expired waiver, so the report shows it.
* An **attestation** records who vouched for a `manual` check, when, and until when; a valid
  one is recorded in the result's evidence (the report counts it as met), an expired one is
  recorded as expired.

```yaml
waivers:
  - check: auth.hba_network_scope     # a check id (glob allowed)
    target: legacy-*                  # glob over target names (default *)
    resource: "pg_hba.conf:*"         # glob over the resource (default *), or the exact name
    reason: Replaced by the new VPC in Q1; network ACL restricts access meanwhile
    approved_by: Jane Roe (CISO)
    approved: 2026-10-01              # date of the decision (optional)
    ticket: SEC-142                   # change or risk ticket recording it (optional)
    expires: 2027-03-31
attestations:
  - check: keys.application_key_cache
    attested_by: John Doe (platform lead)
    attested_on: 2026-10-01
    valid_until: 2027-10-01
    statement: Key cache TTL 15 min, memory only, zeroised on shutdown (design doc KM-7)
```

Resources name database objects as PostgreSQL quotes them (`users.email`,
`"archive.customers".email` for a table whose name holds a dot, `archive.customers.email` for
table `customers` in schema `archive`), so a waiver written for one never covers the other.
A resource written exactly always matches itself; as a glob, `[` opens a character class
(`[[]` is a literal `[`).

Accepted risk is re-reviewed: a waiver runs at most `policy.waiver_max_days` (default 365)
from its `approved` date, or from today when it has none, and a waiver whose `check` matches
every check in the catalog (`"*"`) waives nothing in particular; both are file errors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.config import read_text_file
from auditor.frameworks import parse_yaml_model
from auditor.model import Result, ScanResults, Status
from auditor.report_model import (
    ATTESTATION_KEY,
    EXPIRED_ATTESTATION_KEY,
    EXPIRED_WAIVER_KEY,
    WAIVER_KEY,
)

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class WaiverError(Exception):
    """The waivers file is broken; the message names file:line: key."""


class _Match(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: Annotated[str, Field(pattern=r"^[a-z*?\[][a-z0-9_.*?\[\]!]*$")]
    target: Text = "*"
    resource: Text = "*"

    def matches(self, result: Result) -> bool:
        resource = result.resource or ""
        return (
            fnmatchcase(result.check_id, self.check)
            and (result.target == self.target or fnmatchcase(result.target, self.target))
            # Written exactly, a resource always matches itself, even when its name holds
            # glob characters (`[`, `*`, `?` are legal in PostgreSQL names).
            and (resource == self.resource or fnmatchcase(resource, self.resource))
        )


class Waiver(_Match):
    reason: Text
    approved_by: Text
    expires: dt.date
    # The change or risk ticket recording the decision, and the day it was taken.
    ticket: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    approved: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Waiver:
        if self.approved is not None and self.expires < self.approved:
            raise ValueError("expires is before approved")
        return self

    def active_on(self, today: dt.date) -> bool:
        return today <= self.expires

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "check": self.check,
            "target": self.target,
            "resource": self.resource,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
        }
        # Only when given, so results of waivers without them read as before.
        if self.ticket is not None:
            record["ticket"] = self.ticket
        if self.approved is not None:
            record["approved"] = self.approved.isoformat()
        return record


class Attestation(_Match):
    attested_by: Text
    attested_on: dt.date
    valid_until: dt.date
    statement: Text

    @model_validator(mode="after")
    def _ordered(self) -> Attestation:
        if self.valid_until < self.attested_on:
            raise ValueError("valid_until is before attested_on")
        return self

    def valid_on(self, today: dt.date) -> bool:
        return self.attested_on <= today <= self.valid_until

    def record(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "resource": self.resource,
            "attested_by": self.attested_by,
            "attested_on": self.attested_on.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "statement": self.statement,
        }


class WaiverFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    waivers: tuple[Waiver, ...] = ()
    attestations: tuple[Attestation, ...] = ()


# The Policy default (auditor.policy.Policy.waiver_max_days), for callers without a config.
DEFAULT_MAX_DAYS = 365


def parse_waivers(
    text: str,
    source: str = "<waivers>",
    max_days: int | None = None,
    today: dt.date | None = None,
) -> WaiverFile:
    """The validated file; WaiverError listing every problem, one per line. With `max_days`,
    a waiver running longer than that from its approval date (or from `today`, default the
    UTC date, when it has none) is a problem too."""
    parsed = parse_yaml_model(text, source, WaiverFile, WaiverError)
    problems = _unknown_checks(parsed, text, source)
    problems += _too_broad(parsed, text, source, max_days, today)
    if problems:
        raise WaiverError("\n".join(problems))
    return parsed


def _too_broad(
    parsed: WaiverFile, text: str, source: str, max_days: int | None, today: dt.date | None
) -> list[str]:
    """Waivers that would silence everything or for too long: `check: "*"` (any pattern
    matching every check in the catalog) and an expiry past the policy's maximum duration."""
    from auditor.catalog import all_checks
    from auditor.config import yaml_document

    catalog = list(all_checks())
    _, located = yaml_document(text, source)
    day = today or dt.datetime.now(dt.UTC).date()
    problems = []
    for i, waiver in enumerate(parsed.waivers):
        if len(catalog) > 1 and all(fnmatchcase(check_id, waiver.check) for check_id in catalog):
            line = located.line_for(("waivers", i, "check"))
            problems.append(
                f"{source}:{line}: waivers[{i}].check: {waiver.check!r} waives every check; "
                "name a check id or a family (transport.*)"
            )
        if max_days is None:
            continue
        start, since = (
            (waiver.approved, f"approved {waiver.approved.isoformat()}")
            if waiver.approved is not None
            else (day, f"today ({day.isoformat()}); add approved: DATE")
        )
        if (waiver.expires - start).days > max_days:
            line = located.line_for(("waivers", i, "expires"))
            problems.append(
                f"{source}:{line}: waivers[{i}].expires: {waiver.expires.isoformat()} is more "
                f"than {max_days} days after {since} (policy.waiver_max_days)"
            )
    return problems


def _unknown_checks(parsed: WaiverFile, text: str, source: str) -> list[str]:
    """A `check:` that names no check in the catalog (or a glob that matches none) would
    silently waive nothing: each is an error naming file:line, with a 'did you mean'."""
    from auditor.catalog import all_checks
    from auditor.config import did_you_mean, yaml_document

    catalog = all_checks()
    _, located = yaml_document(text, source)
    problems = []
    for section, entries in (("waivers", parsed.waivers), ("attestations", parsed.attestations)):
        for i, entry in enumerate(entries):
            if any(fnmatchcase(check_id, entry.check) for check_id in catalog):
                continue
            what = (
                "matches no check id"
                if any(c in entry.check for c in "*?[")
                else ("unknown check id" + did_you_mean(entry.check, catalog))
            )
            line = located.line_for((section, i, "check"))
            problems.append(
                f"{source}:{line}: {section}[{i}].check: {what} (see `auditor checks list`)"
            )
    return problems


def load_waivers(
    path: Path, max_days: int = DEFAULT_MAX_DAYS, today: dt.date | None = None
) -> WaiverFile:
    """The waivers file (UTF-8 YAML, bounded in size, nesting and alias expansion), each
    waiver within `max_days` (policy.waiver_max_days) of its approval date or `today`."""
    text = read_text_file(path, "waivers", WaiverError)
    return parse_waivers(text, str(path), max_days, today)


def max_days_of(results: ScanResults) -> int:
    """The waiver duration limit of the policy a saved scan ran under (the default for
    results recorded before the policy had it)."""
    policy = (results.run_metadata or {}).get("policy")
    value = policy.get("waiver_max_days") if isinstance(policy, dict) else None
    return value if isinstance(value, int) and value >= 1 else DEFAULT_MAX_DAYS


def scan_day(results: ScanResults) -> dt.date:
    """The UTC date the scan finished (waivers are judged as of that day)."""
    return _scan_day(results)


def _waive(result: Result, waivers: WaiverFile, today: dt.date) -> Result:
    matching = [w for w in waivers.waivers if w.matches(result)]
    active = next((w for w in matching if w.active_on(today)), None)
    if active is not None:
        return replace(
            result, status=Status.WAIVED, evidence={**result.evidence, WAIVER_KEY: active.record()}
        )
    if matching:  # only expired ones: the failure stands, and the report says why
        latest = max(matching, key=lambda w: w.expires)
        return replace(result, evidence={**result.evidence, EXPIRED_WAIVER_KEY: latest.record()})
    return result


def _attest(result: Result, waivers: WaiverFile, today: dt.date) -> Result:
    matching = [a for a in waivers.attestations if a.matches(result)]
    valid = next((a for a in matching if a.valid_on(today)), None)
    if valid is not None:
        return replace(result, evidence={**result.evidence, ATTESTATION_KEY: valid.record()})
    if matching:
        latest = max(matching, key=lambda a: a.valid_until)
        return replace(
            result, evidence={**result.evidence, EXPIRED_ATTESTATION_KEY: latest.record()}
        )
    return result


def apply_waivers(
    results: ScanResults, waivers: WaiverFile, today: dt.date | None = None
) -> ScanResults:
    """Failures matched by an active waiver become `waived`; manual results matched by an
    attestation carry it. `today` defaults to the UTC date when the scan finished, so
    re-rendering saved results gives the same answer tomorrow."""
    day = today or _scan_day(results)
    findings = []
    for result in results.findings:
        if result.status is Status.FAIL:
            result = _waive(result, waivers, day)
        elif result.status is Status.MANUAL:
            result = _attest(result, waivers, day)
        findings.append(result)
    return replace(results, findings=tuple(findings))


def _scan_day(results: ScanResults) -> dt.date:
    try:
        return dt.datetime.fromisoformat(results.finished_at).astimezone(dt.UTC).date()
    except ValueError:
        return dt.datetime.now(dt.UTC).date()
