"""JUnit XML for CI test reports: one test suite per target, one test case per verdict (check,
target and resource), so the counts a pipeline shows are the scan's summary: tests = findings,
failures = fail, errors = error, skipped = skip + manual + waived (a waived failure is
skipped with the waiver named, a manual check awaits a person).

Names and messages come from the scanned systems: every attribute and text goes through
`safe_text.xml_text`, so characters XML 1.0 forbids (ESC, NUL, other controls) become
visible escapes and the document stays well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import groupby

from auditor.formatters.base import Formatter, RenderOptions
from auditor.model import Result, ScanResults, Status
from auditor.safe_text import xml_multiline, xml_text


def _describe(r: Result) -> str:
    where = f" [{r.resource}]" if r.resource else ""
    return xml_text(f"{r.severity.value}: {r.message}{where}")


def _case(suite: ET.Element, target: str, check_id: str, rs: list[Result]) -> None:
    resource = rs[0].resource
    name = f"{check_id} [{resource}]" if resource else check_id
    case = ET.SubElement(
        suite, "testcase", name=xml_text(name), classname=xml_text(f"auditor.{target}")
    )
    failed = [r for r in rs if r.status is Status.FAIL]
    errored = [r for r in rs if r.status is Status.ERROR]
    statuses = {r.status for r in rs}
    if failed:
        worst = max(failed, key=lambda r: r.severity.rank)
        node = ET.SubElement(
            case, "failure", message=xml_text(worst.message), type=worst.severity.value
        )
        node.text = "\n".join(_describe(r) for r in failed)
    elif errored:
        node = ET.SubElement(case, "error", message=xml_text(errored[0].message), type="error")
        node.text = "\n".join(_describe(r) for r in errored)
    elif statuses <= {Status.SKIP, Status.MANUAL, Status.WAIVED}:
        ET.SubElement(case, "skipped", message=xml_text(rs[0].message))
    lines = [
        xml_text(f"{r.status.value}: {r.message}" + (f" [{r.resource}]" if r.resource else ""))
        for r in rs
        if r.status not in (Status.FAIL, Status.ERROR)
    ]
    controls = sorted({f"{c.framework} {c.id}" for r in rs for c in r.controls})
    if controls:
        lines.append("controls: " + ", ".join(controls))
    if lines:
        ET.SubElement(case, "system-out").text = xml_multiline("\n".join(lines))


def render_junit(results: ScanResults) -> bytes:
    root = ET.Element("testsuites", name="auditor")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    by_target = {
        t.name: [r for r in results.findings if r.target == t.name] for t in results.targets
    }
    for target, findings in by_target.items():
        suite = ET.SubElement(
            root, "testsuite", name=xml_text(target), timestamp=xml_text(results.started_at)
        )
        ordered = sorted(findings, key=lambda r: (r.check_id, r.resource or ""))
        for (check_id, _), group in groupby(ordered, key=lambda r: (r.check_id, r.resource)):
            _case(suite, target, check_id, list(group))
        counts = {
            "tests": len(suite),
            "failures": sum(c.find("failure") is not None for c in suite),
            "errors": sum(c.find("error") is not None for c in suite),
            "skipped": sum(c.find("skipped") is not None for c in suite),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


class JunitFormatter(Formatter):
    name = "junit"
    extension = "results.junit.xml"
    description = "JUnit XML: one test case per check and target"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_junit(results)
