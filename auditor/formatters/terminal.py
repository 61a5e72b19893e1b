"""Human summary for a terminal: a rich table on a colour TTY, plain aligned text when piped
or when NO_COLOR is set (stable for grep and logs).

Every name and message comes from the scanned systems, so it goes through
`safe_text.display_text` (one line, no control characters) and reaches rich as a `Text`
object, which rich never parses as markup: a table named `[/]` or `[link=...]` is shown as
written, not obeyed."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.control_verdicts import ControlStatus, ControlVerdict, control_verdicts, is_attested
from auditor.formatters.base import Formatter, RenderOptions
from auditor.frameworks import frameworks, get_framework
from auditor.model import Result, ScanResults, Status
from auditor.safe_text import display_text

_STATUS_ORDER = {
    s: i
    for i, s in enumerate(
        [Status.FAIL, Status.ERROR, Status.WAIVED, Status.MANUAL, Status.SKIP, Status.PASS]
    )
}
_STYLE = {
    Status.FAIL: "bold red",
    Status.ERROR: "magenta",
    Status.WAIVED: "yellow",
    Status.MANUAL: "cyan",
    Status.SKIP: "dim",
    Status.PASS: "green",
}


def _ordered(findings: tuple[Result, ...]) -> list[Result]:
    return sorted(
        findings,
        key=lambda f: (
            _STATUS_ORDER[f.status],
            -f.severity.rank,
            f.target,
            f.check_id,
            f.resource or "",
        ),
    )


def _location(f: Result) -> str:
    return display_text(f"{f.target}" + (f" / {f.resource}" if f.resource else ""))


def _message(f: Result) -> str:
    # The status stays MANUAL in every output; the attestation is a qualifier beside it.
    return f"(attested) {f.message}" if is_attested(f) else f.message


# Controls listed one per line in the control view; the others are only counted.
_LISTED = (ControlStatus.FAIL, ControlStatus.PARTIAL, ControlStatus.NOT_ASSESSED)


def _control_lines(results: ScanResults, framework: str | None) -> list[str]:
    """Per framework: counts by control status, then each control that failed or was not
    (fully) assessed, naming the failing targets and what was not assessed."""
    chosen = [get_framework(framework)] if framework else list(frameworks().values())
    verdicts = control_verdicts(results, chosen)
    out: list[str] = []
    for fw in chosen:
        mine = [v for v in verdicts if v.framework_id == fw.id]
        counts = ", ".join(f"{sum(v.status is s for v in mine)} {s.label}" for s in ControlStatus)
        out.append(f"controls {fw.label}: {counts}")
        out.extend(_verdict_line(v) for v in mine if v.status in _LISTED)
    return [display_text(line) for line in out]  # target and check names are data


def _verdict_line(v: ControlVerdict) -> str:
    parts = [f"fails on {t.target}: {t.text}" for t in v.failing_targets]
    missing = sorted({g.check_id + (f" ({g.target})" if g.target else "") for g in v.not_assessed})
    if missing:
        parts.append("not assessed: " + ", ".join(missing))
    return f"  {v.status.label.upper():12} {v.control.id:14} " + "; ".join(parts)


def _plain(results: ScanResults, framework: str | None = None) -> str:
    out: list[str] = []
    for t in results.targets:
        line = f"target {display_text(t.name)} ({t.kind}): {t.status.value}"
        out.append(line + (f" - {display_text(t.error)}" if t.error else ""))
    out.append("")
    for f in _ordered(results.findings):
        sev = f.severity.value if f.status in (Status.FAIL, Status.WAIVED) else "-"
        out.append(
            f"{f.status.value.upper():7} {sev:8} {f.check_id:40} {_location(f)}: "
            + display_text(_message(f))
        )
    out.append("")
    out.extend(_control_lines(results, framework))
    out.append("")
    out.append(_summary_line(results))
    return "\n".join(out) + "\n"


def _summary_line(results: ScanResults) -> str:
    counts = Counter(f.status for f in results.findings)
    parts = [f"{counts.get(s, 0)} {s.value}" for s in _STATUS_ORDER]
    scanned = sum(t.status.value == "scanned" for t in results.targets)
    return (
        f"{len(results.findings)} results: "
        + ", ".join(parts)
        + (f" ({scanned}/{len(results.targets)} targets scanned)")
    )


def _styled(value: str, style: str) -> Text:
    # A span over the word only (a base style would colour the cell's padding too).
    return Text.assemble((value, style))


def _rich(results: ScanResults, framework: str | None = None) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system="standard")
    targets = Table(title="Targets", show_lines=False)
    for col in ("target", "kind", "status", "error"):
        targets.add_column(col)
    for t in results.targets:
        style = "green" if t.status.value == "scanned" else "bold red"
        targets.add_row(
            Text(display_text(t.name)),
            Text(t.kind),
            _styled(t.status.value, style),
            Text(display_text(t.error or "")),
        )
    console.print(targets)
    findings = Table(title="Findings")
    for col in ("status", "severity", "check", "where", "message"):
        findings.add_column(col, overflow="fold")
    for f in _ordered(results.findings):
        findings.add_row(
            _styled(f.status.value, _STYLE[f.status]),
            Text(f.severity.value),
            Text(f.check_id),
            Text(_location(f)),
            Text(display_text(_message(f))),
        )
    console.print(findings)
    for line in _control_lines(results, framework):
        console.print(Text(line))
    console.print(Text(_summary_line(results)))
    return buffer.getvalue()


class TerminalFormatter(Formatter):
    name = "terminal"
    extension = "summary.txt"
    description = "human summary (colour table on a TTY, plain text otherwise)"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        render = _rich if options.color else _plain
        return render(results, options.framework).encode()
