"""The one line every scan prints on stderr, whatever formats it writes, so a CI log or a
container's output always says what happened. Its counts are the results summary's, the
same numbers JUnit reports (tests = verdicts, failures = fail, errors = error, skipped =
skip + manual + waived)."""

from __future__ import annotations

from auditor.model import ScanResults


def summary_line(results: ScanResults, code: int) -> str:
    s = results.summary()
    by = s["by_status"]
    return (
        f"auditor: {s['targets_scanned']}/{s['targets']} target(s) scanned, "
        f"{s['findings']} verdict(s): {by['fail']} fail, {by['error']} error, "
        f"{by['pass']} pass, {by['skip']} skip, {by['manual']} manual, {by['waived']} waived; "
        f"exit {code}"
    )
