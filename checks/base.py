"""The Check interface: an id, a title, a default severity, a rationale and `run(facts)`.

A check never does I/O and never names a compliance framework; the runner maps results to
controls afterwards. Subclass `Check` in any module of `auditor.checks` (or expose one through
the `auditor.checks` entry-point group) and it is discovered.
"""

from __future__ import annotations

from typing import Any, ClassVar

from auditor.facts import FACETS, Facts, FactSection
from auditor.model import Result, Severity, Status

# Evidence key of a finding's policy value and observed value (see `Check.result`).
EXPECTED_VS_ACTUAL = "expected_vs_actual"


class Check:
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    rationale: ClassVar[str]
    remediation: ClassVar[str] = ""
    # Fact sections the check reads; when one is missing the runner reports error/skip itself.
    requires: ClassVar[tuple[type[FactSection], ...]] = ()
    # Sections the check also reads when they are there (it judges without them). With
    # `requires` they tell the runner what a narrowed scan must collect, and a check that
    # reads an undeclared section gets an error instead of quietly depending on it.
    reads: ClassVar[tuple[type[FactSection], ...]] = ()
    # Which parts (auditor.facts.FACETS) of those sections the check reads; None: all of them.
    facets: ClassVar[frozenset[str] | None] = None
    # Target kinds the check applies to.
    kinds: ClassVar[frozenset[str]] = frozenset({"postgres"})

    def run(self, facts: Facts) -> list[Result]:
        raise NotImplementedError

    @classmethod
    def sections_read(cls) -> frozenset[str]:
        """Every fact section the check may look at: what a scan of it must collect."""
        return frozenset(model.section for model in (*cls.requires, *cls.reads))

    @classmethod
    def facets_read(cls) -> frozenset[str]:
        """The parts of its sections the check reads (all of them unless it says fewer)."""
        if cls.facets is not None:
            return cls.facets
        return frozenset(f for s in cls.sections_read() for f in FACETS.get(s, ()))

    # -- helpers that keep check bodies short ------------------------------------------------

    def effective_severity(self, facts: Facts, default: Severity | None = None) -> Severity:
        return facts.target.policy.severity.get(self.id, default or self.severity)

    def result(
        self,
        facts: Facts,
        status: Status,
        message: str,
        *,
        resource: str | None = None,
        evidence: dict[str, Any] | None = None,
        severity: Severity | None = None,
        expected: Any = None,
        actual: Any = None,
    ) -> Result:
        if expected is not None:
            # The policy value beside the observed one, as compliance audits show them; kept
            # in the evidence so the manifest digest and the scan signature cover it.
            comparison = {"expected": expected, "actual": actual}
            evidence = {EXPECTED_VS_ACTUAL: comparison, **(evidence or {})}
        return Result(
            check_id=self.id,
            target=facts.target.name,
            status=status,
            severity=self.effective_severity(facts, severity),
            title=self.title,
            message=message,
            resource=resource,
            evidence=evidence or {},
            remediation=self.remediation,
        )

    def passed(self, facts: Facts, message: str, **kw: Any) -> Result:
        return self.result(facts, Status.PASS, message, **kw)

    def failed(self, facts: Facts, message: str, **kw: Any) -> Result:
        return self.result(facts, Status.FAIL, message, **kw)

    def skipped(self, facts: Facts, message: str, **kw: Any) -> Result:
        return self.result(facts, Status.SKIP, message, **kw)

    def errored(self, facts: Facts, message: str, **kw: Any) -> Result:
        return self.result(facts, Status.ERROR, message, **kw)

    def manual(self, facts: Facts, message: str, **kw: Any) -> Result:
        return self.result(facts, Status.MANUAL, message, **kw)
