"""The auditor's HTML report: one self-contained static file (inline CSS and SVG, no script,
no network), rendered with jinja2 from the report model. The PDF formatter renders the very
same document; its print stylesheet is part of it (`@media print` / `@page`).

Charts are computed here as plain shapes (the template only loops over them), so the output
is deterministic: nothing depends on the clock, and every list is sorted in the report model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import Markup

from auditor.formatters.base import Formatter, RenderOptions
from auditor.frameworks import coverage
from auditor.model import ScanResults, Severity, Status
from auditor.report_model import (
    ATTESTATION_KEY,
    EXPIRED_ATTESTATION_KEY,
    EXPIRED_WAIVER_KEY,
    RESULT_KEYS,
    WAIVER_KEY,
    ControlStatus,
    Report,
    build_report,
    evidence_text,
    expected_actual,
    is_attested,
    short_message,
)
from auditor.safe_text import display_block, display_line
from auditor.template_dir import REPORT_TEMPLATE, TemplateDirError

STATUS_COLORS = {
    "fail": "#c62828",
    "error": "#e65100",
    "manual": "#6a1b9a",
    "waived": "#78909c",
    "pass": "#2e7d32",
    "partial": "#f9a825",
    "not_assessed": "#bdbdbd",
    "skip": "#bdbdbd",
}
CONTROL_ORDER = [s.value for s in ControlStatus]
DEFAULT_TITLE = "PostgreSQL encryption compliance report"


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    color: str
    status: str
    count: int


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar chart, already laid out in SVG user units."""

    title: str
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str, float], ...]  # (status, colour, x)


def stacked_chart(title: str, rows: list[tuple[str, dict[str, int]]], order: list[str]) -> Chart:
    label_width, bar_width, bar_height, gap = 190, 420, 18, 10
    bars = []
    for i, (label, counts) in enumerate(rows):
        total = sum(counts.get(s, 0) for s in order)
        x = float(label_width)
        segments = []
        for status in order:
            count = counts.get(status, 0)
            if count and total:
                width = round(bar_width * count / total, 2)
                segments.append(Segment(round(x, 2), width, STATUS_COLORS[status], status, count))
                x += width
        bars.append(Bar(label, float(i * (bar_height + gap)), total, tuple(segments)))
    used = [s for s in order if any(c.get(s, 0) for _, c in rows)]
    legend = tuple((s, STATUS_COLORS[s], float(label_width + i * 95)) for i, s in enumerate(used))
    height = len(rows) * (bar_height + gap) + 28
    return Chart(
        title, label_width + bar_width + 50, height, label_width, bar_height, tuple(bars), legend
    )


def charts_for(report: Report) -> list[Chart]:
    per_framework = [
        (view.framework.label, {s.value: n for s, n in view.totals.items()})
        for view in report.frameworks
    ]
    per_layer = [(g.title, g.counts) for g in report.layers]
    return [
        stacked_chart("Controls by status, per framework", per_framework, CONTROL_ORDER),
        stacked_chart("Check results by status, per layer", per_layer, list(RESULT_KEYS)),
    ]


# Longer runs without a space are shortened: they give the PDF layout nowhere to wrap, and
# its width search grows with the square of the run (5,000 characters took minutes).
# PostgreSQL names are at most 63 bytes, so only pathological text is ever cut.
MAX_UNBROKEN = 200
_LONG_RUN = re.compile(r"\S{" + str(MAX_UNBROKEN + 1) + ",}")


def _shorten(match: re.Match[str]) -> str:
    run = match.group(0)
    return f"{run[:MAX_UNBROKEN]}… ({len(run) - MAX_UNBROKEN} more characters in results.json)"


def _finalize(value: object) -> object:
    """Every `{{ ... }}` value on its way out: text from the scanned systems loses control
    and invisible characters (bidi overrides, zero-width, lone surrogates) before jinja
    escapes its markup, so a name is shown as written and cannot reorder or hide the text
    around it. Our own Markup (stylesheets) passes untouched."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _LONG_RUN.sub(_shorten, display_block(value))
    return value


def _one_line(value: object) -> object:
    """The `one_line` filter: a value inside a block of lines (`<pre>`) keeps to its line
    (see `display_line`). Our own macros' output is already escaped markup; an escape adds
    no markup character, so it stays markup."""
    if isinstance(value, Markup):
        return Markup(display_line(str(value)))
    return display_line(str(value))


@cache
def _environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The built-in templates, with `template_dir`'s files in front of them when given."""
    builtin = jinja2.PackageLoader("auditor", "report_templates")
    loader: jinja2.BaseLoader = builtin
    if template_dir is not None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(template_dir), builtin])
    env = jinja2.Environment(
        finalize=_finalize,
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["one_line"] = _one_line
    env.globals.update(
        evidence_text=evidence_text,
        short_message=short_message,
        expected_actual=expected_actual,
        is_attested=is_attested,
        WAIVER_KEY=WAIVER_KEY,
        RESULT_KEYS=RESULT_KEYS,
        EXPIRED_WAIVER_KEY=EXPIRED_WAIVER_KEY,
        ATTESTATION_KEY=ATTESTATION_KEY,
        EXPIRED_ATTESTATION_KEY=EXPIRED_ATTESTATION_KEY,
    )
    return env


@cache
def _stylesheet(name: str, template_dir: Path | None = None) -> Markup:
    # Our own file (or the organisation's), not data: it must reach <style> unescaped.
    if template_dir is not None and (template_dir / name).is_file():
        return Markup((template_dir / name).read_text("utf-8"))
    return Markup(files("auditor").joinpath("report_templates", name).read_text("utf-8"))


def compile_error(template_dir: Path) -> str | None:
    """Why `template_dir`'s report template does not compile ("FILE:LINE: message"), or None."""
    try:
        _environment(template_dir).get_template(REPORT_TEMPLATE)
    except jinja2.TemplateSyntaxError as exc:
        return f"{template_dir / REPORT_TEMPLATE}:{exc.lineno}: {exc.message}"
    except jinja2.TemplateError as exc:  # e.g. an {% include %} of a file that is not there
        return f"{template_dir / REPORT_TEMPLATE}: {exc.message or type(exc).__name__}"
    return None


def manifest_chunks(report: Report, size: int = 60) -> list[str]:
    """The evidence digests as fixed-width text, two entries a line, in blocks of `size`
    lines: text blocks lay out many times faster in the PDF than a thousand-row table (and
    short blocks faster than one long one), and they copy cleanly from the browser. Entry
    numbers are the `#` shown beside each finding and the index in manifest.json."""
    width = len(str(max(len(report.evidence) - 1, 0)))
    entries = [f"{e.index:>{width}} {e.sha256}" for e in report.evidence]
    lines = ["   ".join(entries[i : i + 2]) for i in range(0, len(entries), 2)]
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


# The cover lists this many targets; the full inventory is Appendix A.
COVER_TARGETS = 10
# The printed report names at most this many targets in one list ("and N more"); the HTML
# names all of them (a browser searches, a page count does not grow).
PRINTED_NAMES = 20
# A check with at most this many failures lists them under "Findings by severity" too; past
# that, they are only in the per-target detail (a fleet report would list them twice).
FEW_FINDINGS = 10


def render_html(results: ScanResults, options: RenderOptions, paged: bool = False) -> str:
    """The report; `paged` makes the printed variant (PDF): lists of targets are cut at
    PRINTED_NAMES and passes are summarised per check instead of listed one by one."""
    if options.template_dir is None:
        return _render_html(results, options, paged)
    try:
        return _render_html(results, options, paged)
    except Exception as exc:
        # The organisation's template asked for something the report does not have (or a
        # file vanished): one line naming the folder, not a traceback. (The built-in
        # templates failing is our bug and keeps its traceback.)
        raise TemplateDirError(
            f"--template-dir {options.template_dir}: the report could not be rendered: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _render_html(results: ScanResults, options: RenderOptions, paged: bool) -> str:
    report = build_report(results, options.framework)
    template = _environment(options.template_dir).get_template(REPORT_TEMPLATE)
    return template.render(
        report=report,
        results=results,
        title=options.title or DEFAULT_TITLE,
        charts=charts_for(report),
        severities=[s for s in sorted(Severity, key=lambda s: -s.rank)],
        Status=Status,
        ControlStatus=ControlStatus,
        unmapped=coverage().unmapped,
        manifest_chunks=[] if paged else manifest_chunks(report),
        paged=paged,
        name_limit=PRINTED_NAMES if paged else None,
        cover_targets=COVER_TARGETS,
        few_findings=FEW_FINDINGS,
        screen_css=_stylesheet("report.css", options.template_dir),
        print_css=_stylesheet("print.css", options.template_dir),
    )


class HtmlFormatter(Formatter):
    name = "html"
    extension = "report.html"
    description = "auditor report: one self-contained HTML file"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_html(results, options).encode("utf-8")
