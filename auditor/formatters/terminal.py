"""Human summary for a terminal: a rich table on a colour TTY, plain aligned text when piped
or when NO_COLOR is set (stable for grep and logs).

Every name and message comes from the scanned systems, so it goes through
`safe_text.display_text` (one line, no control characters) and reaches rich as a `Text`
object, which rich never parses as markup: a table named `[/]` or `[link=...]` is shown as
written, not obeyed."""

from __future__ import annotations

import io
import re
import shutil
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.control_verdicts import ControlStatus, ControlVerdict, control_verdicts, is_attested
from auditor.formatters.base import Formatter, RenderOptions
from auditor.frameworks import frameworks, get_framework
from auditor.model import Result, ScanResults, Status, TargetOutcome, TargetStatus
from auditor.safe_text import display_text
from auditor.target_hints import likely_fix

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


def _names(message: str, resource: str) -> bool:
    """Whether the message names the resource as a whole word (role `app` is not named by
    `application`)."""
    return re.search(rf"(?<![\w.]){re.escape(resource)}(?![\w])", message) is not None


def _location(f: Result) -> str:
    # A message that already names its resource does not get it twice on the line.
    shown = f.resource if f.resource and not _names(f.message, f.resource) else None
    return display_text(f"{f.target}" + (f" / {shown}" if shown else ""))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_FAILURES = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class _View:
    """What the terminal shows: targets, the findings listed one per line, and per target
    that was not scanned the checks it could not evaluate (one group line each; the JSON
    keeps every per-check result)."""

    targets: tuple[TargetOutcome, ...]
    findings: list[Result]
    not_evaluated: dict[str, list[Result]]
    controls: bool


def _view(results: ScanResults, options: RenderOptions) -> _View:
    failed_targets = {t.name for t in results.targets if t.status is not TargetStatus.SCANNED}
    grouped: dict[str, list[Result]] = {}
    listed: list[Result] = []
    for f in _ordered(results.findings):
        if f.status is Status.ERROR and f.target in failed_targets:
            grouped.setdefault(f.target, []).append(f)
        elif options.quiet:
            if f.status is Status.FAIL:
                listed.append(f)
        elif not options.failures_only or f.status in _FAILURES:
            listed.append(f)
    targets = results.targets
    if options.quiet:
        targets = tuple(t for t in targets if t.name in failed_targets)
    return _View(targets, listed, grouped, controls=not options.quiet)


def _target_line(t: TargetOutcome) -> str:
    line = f"target {t.name} ({t.kind}): {t.status.value}" + (f" - {t.error}" if t.error else "")
    fix = likely_fix(t)
    return display_text(line + (f"; likely fix: {fix}" if fix else ""))


def _group_line(target: str, results: list[Result]) -> str:
    return (
        f"NOT EVALUATED {_plural(len(results), 'check')} on {display_text(target)}: the target "
        "was not "
        "scanned (see its line above; --format json lists each check)"
    )


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


def _plain(results: ScanResults, options: RenderOptions) -> str:
    view = _view(results, options)
    out: list[str] = [_target_line(t) for t in view.targets]
    out.append("")
    for f in view.findings:
        sev = f.severity.value if f.status in (Status.FAIL, Status.WAIVED) else "-"
        out.append(
            f"{f.status.value.upper():7} {sev:8} {f.check_id:40} {_location(f)}: "
            + display_text(_message(f))
        )
    out.extend(_group_line(target, grouped) for target, grouped in view.not_evaluated.items())
    if view.controls:
        out.append("")
        out.extend(_control_lines(results, options.framework))
    out.append("")
    out.append(_summary_line(results))
    return "\n".join(line for line in out if line or not options.quiet).strip("\n") + "\n"


def _summary_line(results: ScanResults) -> str:
    counts = Counter(f.status for f in results.findings)
    parts = [f"{counts.get(s, 0)} {s.value}" for s in _STATUS_ORDER]
    scanned = sum(t.status.value == "scanned" for t in results.targets)
    return (
        f"{_plural(len(results.findings), 'result')}: "
        + ", ".join(parts)
        + f" ({scanned} of {_plural(len(results.targets), 'target')} scanned)"
    )


def _width(options: RenderOptions) -> int:
    # The terminal's own width (COLUMNS wins, as for every POSIX tool); 160 when unknown.
    return options.width or shutil.get_terminal_size(fallback=(160, 24)).columns


def _styled(value: str, style: str) -> Text:
    # A span over the word only (a base style would colour the cell's padding too).
    return Text.assemble((value, style))


def _rich(results: ScanResults, options: RenderOptions) -> str:
    view = _view(results, options)
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, width=_width(options), color_system="standard"
    )
    if view.targets:
        targets = Table(title="Targets", show_lines=False)
        for col in ("target", "kind", "status", "error"):
            targets.add_column(col, overflow="fold")
        for t in view.targets:
            style = "green" if t.status.value == "scanned" else "bold red"
            fix = likely_fix(t)
            error = display_text(t.error or "") + (
                f"\nlikely fix: {display_text(fix)}" if fix else ""
            )
            targets.add_row(
                Text(display_text(t.name)),
                Text(t.kind),
                _styled(t.status.value, style),
                Text(error),
            )
        console.print(targets)
    if view.findings or view.not_evaluated:
        findings = Table(title="Findings")
        for col in ("status", "severity", "check", "where", "message"):
            findings.add_column(col, overflow="fold")
        for f in view.findings:
            findings.add_row(
                _styled(f.status.value, _STYLE[f.status]),
                Text(f.severity.value),
                Text(f.check_id),
                Text(_location(f)),
                Text(display_text(_message(f))),
            )
        for target, grouped in view.not_evaluated.items():
            findings.add_row(
                _styled("not evaluated", "magenta"),
                Text("-"),
                Text(_plural(len(grouped), "check")),
                Text(display_text(target)),
                Text("the target was not scanned (see Targets; --format json lists each check)"),
            )
        console.print(findings)
    if view.controls:
        for line in _control_lines(results, options.framework):
            console.print(Text(line))
    console.print(Text(_summary_line(results)))
    return buffer.getvalue()


class TerminalFormatter(Formatter):
    name = "terminal"
    extension = "summary.txt"
    description = "human summary (colour table on a TTY, plain text otherwise)"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        render = _rich if options.color else _plain
        return render(results, options).encode()
