"""Exit codes, the contract CI pipelines gate on (documented in README.md):

0 no unwaived failure at or above --fail-on and every target scanned;
1 at least one unwaived failure at or above --fail-on (with --baseline … --new-only: only
  failures the baseline did not have);
2 usage or configuration error (nothing scanned) — raised by the CLI itself;
3 no gating failure, but a target or a check could not be evaluated (unless --allow-errors).

With --framework, only checks mapped to that framework's controls gate (their failures make
1, their errors 3); a target that could not be scanned is still incomplete.
"""

from __future__ import annotations

from collections.abc import Container

from auditor.model import Result, ScanResults, Severity, Status, TargetStatus

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


def exit_code(
    results: ScanResults,
    fail_on: Severity,
    allow_errors: bool = False,
    known_failures: Container[tuple[str, str, str]] = (),
    gating_checks: Container[str] | None = None,
) -> int:
    """`known_failures`: (target, check id, resource or "") keys that do not gate (the
    baseline's failures under --new-only). `gating_checks`: when given, only results of these
    check ids gate (the checks mapped to --framework)."""
    gating: list[Result] = [
        f for f in results.findings if gating_checks is None or f.check_id in gating_checks
    ]
    if any(
        f.status is Status.FAIL
        and f.severity.at_least(fail_on)
        and (f.target, f.check_id, f.resource or "") not in known_failures
        for f in gating
    ):
        return EXIT_FAILURES
    incomplete = any(t.status is not TargetStatus.SCANNED for t in results.targets) or any(
        f.status is Status.ERROR for f in gating
    )
    if incomplete and not allow_errors:
        return EXIT_INCOMPLETE
    return EXIT_OK
