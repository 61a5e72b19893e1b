"""Period evidence as JSON, HTML (inline SVG trend charts, no script, no external file) and
PDF (the same HTML laid out by WeasyPrint, as the scan report's PDF)."""

from __future__ import annotations

import datetime as dt
import json
from importlib.resources import files

from auditor.control_verdicts import ControlStatus
from auditor.period import ControlPeriod, PeriodEvidence, iso

COLORS = {
    ControlStatus.PASS: "#2e7d32",
    ControlStatus.FAIL: "#c62828",
    ControlStatus.PARTIAL: "#f9a825",
    ControlStatus.MANUAL: "#6a1b9a",
    ControlStatus.NOT_ASSESSED: "#bdbdbd",
}
_WORST = [
    ControlStatus.FAIL,
    ControlStatus.NOT_ASSESSED,
    ControlStatus.PARTIAL,
    ControlStatus.MANUAL,
    ControlStatus.PASS,
]
STRIP_CELLS = 120  # a year of daily runs is drawn as 120 cells, each its worst status


def render_json(evidence: PeriodEvidence) -> bytes:
    return (json.dumps(evidence.as_dict(), indent=2) + "\n").encode()


def _x(evidence: PeriodEvidence, moment: dt.datetime, width: float) -> float:
    start, end = evidence.period.start, evidence.generated_until
    span = max((end - start).total_seconds(), 1.0)
    offset = (moment - start).total_seconds()
    return round(min(max(offset / span, 0.0), 1.0) * width, 1)


def trend_svg(evidence: PeriodEvidence, framework: str) -> str:
    """Share of the framework's controls passing in each run, over the period."""
    width, height, pad = 720.0, 160.0, 28.0
    rows = [c for c in evidence.controls if c.framework == framework]
    points = []
    for i, run in enumerate(evidence.runs):
        statuses = [c.trend[i][1] for c in rows if i < len(c.trend) and c.trend[i][0] == run]
        if statuses:
            share = sum(s is ControlStatus.PASS for s in statuses) / len(statuses)
            x = pad + _x(evidence, run.finished_at, width - 2 * pad)
            points.append((x, pad + (1 - share) * (height - 2 * pad), share))
    line = " ".join(f"{x},{round(y, 1)}" for x, y, _ in points)
    dots = "".join(f'<circle cx="{x}" cy="{round(y, 1)}" r="2"/>' for x, y, _ in points[-400:])
    inner = width - 2 * pad
    spans = [(_x(evidence, g.start, inner), _x(evidence, g.end, inner)) for g in evidence.gaps]
    gaps = "".join(
        f'<rect x="{pad + a}" y="{pad}" width="{max(1.0, b - a)}" '
        f'height="{height - 2 * pad}" fill="#fde0dc"/>'
        for a, b in spans
    )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#5f6b7a"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#5f6b7a"/>'
        f'<text x="2" y="{pad + 4}" font-size="10">100%</text>'
        f'<text x="8" y="{height - pad + 4}" font-size="10">0%</text>'
        f'<text x="{pad}" y="{height - 8}" font-size="10">{evidence.period.start.date()}</text>'
        f'<text x="{width - pad - 60}" y="{height - 8}" font-size="10">'
        f"{evidence.generated_until.date()}</text>"
    )
    path = (
        f'<polyline points="{line}" fill="none" stroke="#1f4e8c" stroke-width="1.5"/>'
        if line
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {int(width)} {int(height)}" '
        f'width="{int(width)}" height="{int(height)}" role="img" '
        f'aria-label="share of {framework} controls passing per run">'
        f'{gaps}{axis}{path}<g fill="#1f4e8c">{dots}</g></svg>'
    )


def strip_svg(control: ControlPeriod) -> str:
    """The control's status in each run, worst first within each cell."""
    width, height = 150, 14
    trend = control.trend
    if not trend:
        return ""
    cells = min(STRIP_CELLS, len(trend))
    out = []
    for i in range(cells):
        chunk = trend[i * len(trend) // cells : (i + 1) * len(trend) // cells] or [trend[-1]]
        worst = min((s for _, s in chunk), key=_WORST.index)
        x = i * width / cells
        out.append(
            f'<rect x="{round(x, 2)}" y="0" width="{round(width / cells + 0.2, 2)}" '
            f'height="{height}" fill="{COLORS[worst]}"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="status per run">'
        + "".join(out)
        + "</svg>"
    )


def render_html(evidence: PeriodEvidence, title: str | None = None) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditor", "report_templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    frameworks = sorted({c.framework for c in evidence.controls})
    css = files("auditor").joinpath("report_templates/report.css").read_text()
    return env.get_template("period.html.j2").render(
        e=evidence,
        title=title or f"Period evidence {evidence.period.label}",
        frameworks=frameworks,
        trend={fw: Markup(trend_svg(evidence, fw)) for fw in frameworks},
        strip=lambda c: Markup(strip_svg(c)),
        iso=iso,
        css=Markup(css),
        ControlStatus=ControlStatus,
    )


def render_pdf(evidence: PeriodEvidence, title: str | None = None) -> bytes:
    from weasyprint import HTML

    document = HTML(string=render_html(evidence, title)).render()
    stamp = iso(evidence.generated_until)
    document.metadata.created = stamp  # no clock: equal evidence gives equal bytes
    document.metadata.modified = stamp
    pdf: bytes = document.write_pdf()
    return pdf
