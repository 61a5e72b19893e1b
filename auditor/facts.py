"""Facts: the evidence bundle that collectors produce and checks read.

A bundle holds one typed section per collector (PostgreSQL session, TLS probe, cloud API...)
plus a record of what could not be collected and why. Sections are pydantic models so a
bundle can be saved as JSON and the checks re-run offline on it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from auditor.policy import Policy
from auditor.redact import json_may_need_redaction, redact_text, redact_tree


class FactSection(BaseModel):
    """Base of every collector's output. `section` names it inside a bundle."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    section: ClassVar[str]

    @classmethod
    def registry(cls) -> dict[str, type[FactSection]]:
        """All section models known to this process, by name (used to load saved bundles)."""
        found: dict[str, type[FactSection]] = {}
        stack = list(cls.__subclasses__())
        while stack:
            sub = stack.pop()
            stack.extend(sub.__subclasses__())
            name = getattr(sub, "section", None)
            if isinstance(name, str):
                found[name] = sub
        return found


S = TypeVar("S", bound=FactSection)


class GapKind(enum.StrEnum):
    """Why something is missing: checks that depend on it report `error` or `skip`."""

    ERROR = "error"  # the collector failed (unreachable, timeout, unexpected answer)
    SKIP = "skip"  # deliberately not collected: missing privilege, not configured


@dataclass(frozen=True)
class Gap:
    kind: GapKind
    reason: str  # one line; for missing privileges it names the exact GRANT

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "reason": self.reason}


@dataclass(frozen=True)
class TargetContext:
    """What checks may know about the target besides observed facts: its declared intent."""

    name: str
    kind: str
    policy: Policy = field(default_factory=Policy)
    options: dict[str, Any] = field(default_factory=dict)


class MissingFacts(Exception):
    """Raised by Facts.get when a section is absent; the runner turns it into error/skip."""

    def __init__(self, section: str, gap: Gap) -> None:
        super().__init__(f"{section}: {gap.reason}")
        self.section = section
        self.gap = gap


class UndeclaredFacts(Exception):
    """A check read a section it does not declare in `requires`/`reads`: a bug in the check,
    which the runner reports as an error rather than let a narrowed scan judge it blind."""


# Why a section is absent from a narrowed scan: no selected check reads it.
NOT_COLLECTED = "not collected: the scan was narrowed to checks that do not read it"

# Parts of a section that a collector can leave out when no selected check reads them (the
# costly ones): column sampling of declared columns, and of every other column (PII search).
FACETS: dict[str, tuple[str, ...]] = {
    "columns": ("columns:declared", "columns:undeclared"),
}


def redact_section(section: S) -> S:
    """The section with every secret replaced by a redaction marker (the same object when
    nothing needed redacting)."""
    if not json_may_need_redaction(section.model_dump_json()):
        return section  # nothing in it that any redaction rule looks for
    dumped = section.model_dump()
    cleaned = redact_tree(dumped)
    if cleaned == dumped:
        return section
    return type(section).model_validate(cleaned)


@dataclass
class Facts:
    target: TargetContext
    sections: dict[str, FactSection] = field(default_factory=dict)
    gaps: dict[str, Gap] = field(default_factory=dict)
    # When, by which run and scanner the facts were observed (empty until the scan ends).
    collected: dict[str, Any] = field(default_factory=dict)
    # The sections the scan set out to collect (None: all); saved with the bundle so that a
    # later `auditor evaluate` can tell "not collected" from "collected and found nothing".
    requested: frozenset[str] | None = None
    # When set, only these sections may be read: the view of one check (see `scoped`).
    scope: frozenset[str] | None = None

    def scoped(self, names: frozenset[str]) -> Facts:
        """The same bundle, readable only through the given sections."""
        return Facts(
            target=self.target,
            sections=self.sections,
            gaps=self.gaps,
            requested=self.requested,
            scope=names,
        )

    def wants(self, section: str) -> bool:
        return self.requested is None or section in self.requested

    def _may_read(self, model: type[FactSection]) -> None:
        if self.scope is not None and model.section not in self.scope:
            raise UndeclaredFacts(f"the check reads the undeclared {model.section} section")

    def add(self, section: FactSection) -> None:
        """Store a collector's section, redacted first (auditor.redact): what a bundle holds
        is what may be saved, so no secret of the scanned server reaches checks, results or
        `--save-facts` files."""
        try:
            clean = redact_section(section)
        except ValueError as exc:  # fail closed: a section that cannot be redacted is not kept
            self.sections.pop(section.section, None)
            self.gaps[section.section] = Gap(
                GapKind.ERROR,
                f"{section.section} facts not kept: redaction failed ({type(exc).__name__})",
            )
            return
        self.sections[section.section] = clean
        self.gaps.pop(section.section, None)

    def mark_missing(self, section: str, gap: Gap) -> None:
        if section not in self.sections:
            self.gaps[section] = Gap(gap.kind, redact_text(gap.reason))

    def has(self, model: type[FactSection]) -> bool:
        self._may_read(model)
        return model.section in self.sections

    def get(self, model: type[S]) -> S:
        self._may_read(model)
        found = self.sections.get(model.section)
        if found is None:
            gap = self.gaps.get(model.section) or Gap(
                GapKind.SKIP, f"no {model.section} facts were collected for this target"
            )
            raise MissingFacts(model.section, gap)
        assert isinstance(found, model)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "auditor/facts/v1",
            "target": {
                "name": self.target.name,
                "kind": self.target.kind,
                "options": redact_tree(self.target.options),
                "policy": self.target.policy.model_dump(mode="json"),
            },
            "requested_sections": None if self.requested is None else sorted(self.requested),
            "sections": {k: v.model_dump(mode="json") for k, v in sorted(self.sections.items())},
            "gaps": {k: v.as_dict() for k, v in sorted(self.gaps.items())},
            **({"collected": self.collected} if self.collected else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], target: TargetContext | None = None) -> Facts:
        """Rebuild a saved bundle; its own target context is used unless one is given."""
        if data.get("schema") != "auditor/facts/v1":
            raise ValueError(f"not an Auditor facts bundle (schema {data.get('schema')!r})")
        if target is None:
            saved = data["target"]
            target = TargetContext(
                name=saved["name"],
                kind=saved["kind"],
                policy=Policy.model_validate(saved.get("policy") or {}),
                options=saved.get("options") or {},
            )
        registry = FactSection.registry()
        requested = data.get("requested_sections")
        facts = cls(
            target=target,
            requested=None if requested is None else frozenset(str(r) for r in requested),
        )
        for name, body in data.get("sections", {}).items():
            model = registry.get(name)
            if model is not None:
                facts.add(model.model_validate(body))
        for name, gap in data.get("gaps", {}).items():
            facts.mark_missing(name, Gap(GapKind(gap["kind"]), gap["reason"]))
        collected = data.get("collected") or {}
        if not isinstance(collected, dict):
            raise ValueError("'collected' is not an object")
        facts.collected = collected
        return facts
