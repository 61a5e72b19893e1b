"""Framework files: valid, complete against the check catalog, and strict about mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.catalog import all_checks
from auditor.frameworks import (
    FrameworkError,
    controls_for,
    coverage,
    frameworks,
    load_framework,
    referenced_checks,
)
from auditor.model import ControlRef

# The controls the issue names, per framework: the files must keep at least these.
REQUIRED_CONTROLS = {
    "gdpr": {
        "Art. 32(1)(a)",
        "Art. 32(1)(b)",
        "Art. 32(1)(c)",
        "Art. 32(1)(d)",
        "Art. 5(2)",
        "Art. 30",
    },
    "hipaa-164.312": {"(a)(2)(iv)", "(b)", "(c)(1)", "(d)", "(e)(1)", "(e)(2)(ii)"},
    "pci-dss-3.2.1": {"3.4", "3.5", "3.6", "4.1", "8.2", "8.2.1", "10.2", "10.3", "10.5"},
    "pci-dss-4.0.1": {
        "3.5.1",
        "3.5.1.2",
        "3.6.1",
        "3.7.4",
        "4.2.1",
        "8.3.1",
        "8.3.2",
        "10.2.1.1",
        "10.2.1.2",
        "10.2.1.4",
        "10.2.1.7",
        "10.2.2",
    },
    "soc2-tsc-2017": {"CC6.1", "CC6.6", "CC6.7", "CC7.2", "A1.2"},
}


def test_every_framework_loads_with_the_required_controls() -> None:
    found = frameworks()
    assert set(found) == set(REQUIRED_CONTROLS)
    for framework_id, required in REQUIRED_CONTROLS.items():
        ids = {c.id for c in found[framework_id].controls}
        assert required <= ids, f"{framework_id} lacks {sorted(required - ids)}"


def test_every_referenced_check_exists_or_is_planned() -> None:
    known = set(all_checks()) | set(coverage().planned)
    dangling = sorted(referenced_checks() - known)
    assert not dangling, f"framework files reference unknown check ids: {dangling}"


def test_every_check_is_mapped_or_explicitly_unmapped() -> None:
    unmapped = {u.check for u in coverage().unmapped}
    orphans = sorted(set(all_checks()) - referenced_checks() - unmapped)
    assert not orphans, f"checks mapped to no control (map them or list them unmapped): {orphans}"


def test_planned_and_unmapped_lists_are_consistent() -> None:
    planned, unmapped = set(coverage().planned), {u.check for u in coverage().unmapped}
    assert not planned & unmapped
    # A planned id is specified with its controls, so it must be mapped somewhere already.
    assert planned <= referenced_checks()
    # An unmapped id must be a real check, and really unmapped.
    assert unmapped <= set(all_checks()) and not unmapped & referenced_checks()
    # Once a planned check exists it must leave the planned list.
    landed = sorted(planned & set(all_checks()))
    assert not landed, f"drop from planned in auditor/frameworks/_coverage.yaml: {landed}"


def test_controls_for_maps_a_check_into_every_framework_that_cites_it() -> None:
    refs = controls_for("transport.ssl_enabled")
    assert ControlRef("pci-dss-4.0.1", "4.2.1") in refs
    assert ControlRef("gdpr", "Art. 32(1)(a)") in refs
    assert ControlRef("hipaa-164.312", "(e)(1)") in refs
    assert controls_for("no.such_check") == ()


def _checks(framework_id: str, control_id: str) -> set[str]:
    control = frameworks()[framework_id].control(control_id)
    assert control is not None
    return set(control.checks)


def test_mis_citations_stay_fixed() -> None:
    """Each of these was cited where the framework text says something else (see the
    comments in the framework files)."""
    access_log = {"audit.access_log_present", "audit.access_log_active"}
    # An access log of who decrypted data is security evidence, not a record of processing.
    assert not _checks("gdpr", "Art. 30")
    assert access_log <= _checks("gdpr", "Art. 32(1)(b)")
    assert access_log <= _checks("gdpr", "Art. 5(2)")
    # A trust rule is no authentication at all, not unreadable authentication factors.
    assert "auth.hba_no_trust" in _checks("pci-dss-4.0.1", "8.3.1")
    assert "auth.hba_no_trust" not in _checks("pci-dss-4.0.1", "8.3.2")
    assert "auth.hba_no_trust" in _checks("pci-dss-3.2.1", "8.2")
    assert "auth.hba_no_trust" not in _checks("pci-dss-3.2.1", "8.2.1")
    # Disk-level encryption does not meet 3.5.1.2 by itself: its other mechanism does.
    assert "storage.luks_data_directory" not in _checks("pci-dss-4.0.1", "3.5.1.2")
    assert "column.sensitive_encrypted" in _checks("pci-dss-4.0.1", "3.5.1.2")
    # Backup retention is availability (A1.2), not protected transmission (CC6.7).
    assert "storage.aws_rds_backups" not in _checks("soc2-tsc-2017", "CC6.7")
    assert "storage.aws_rds_backups" in _checks("soc2-tsc-2017", "A1.2")


def test_storage_dependent_controls_group_their_platform_alternatives() -> None:
    for framework_id, control_id in (("gdpr", "Art. 32(1)(a)"), ("pci-dss-4.0.1", "3.5.1")):
        control = frameworks()[framework_id].control(control_id)
        assert control is not None
        (group,) = control.alternatives
        assert {"storage.aws_rds_encrypted", "storage.luks_data_directory"} <= set(group)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id: broken\nname: X\nversion: '1'\ntitle: T\ncontrols:\n  - id: A\n    title: t\n"
            "    checks: [a.b, a.c]\n    alternatives: [[a.b, a.d]]\n",
            "broken.yaml:6: controls[0]: alternatives name checks not in checks: a.d",
        ),
        (
            "id: broken\nname: X\nversion: '1'\ntitle: T\ncontrols:\n  - id: A\n    title: t\n"
            "    checks: [a.b, a.c]\n    alternatives: [[a.b]]\n",
            "an alternatives group needs at least two checks",
        ),
        (
            "id: broken\nname: X\nversion: '1'\ntitle: T\ncontrols:\n  - id: A\n    title: t\n"
            "    checks: [Not-An-Id]\n",
            "broken.yaml:8: controls[0].checks[0]:",
        ),
        (
            "id: broken\nname: X\nversion: '1'\ntitle: T\ncontrols:\n  - id: A\n    title: t\n"
            "    chekcs: [a.b]\n",
            "broken.yaml:8: controls[0].chekcs: unknown key",
        ),
        (
            "id: broken\nname: X\nversion: '1'\ntitle: T\ncontrols:\n  - {id: A, title: t}\n"
            "  - {id: A, title: u}\n",
            "broken.yaml:5: controls: control id 'A' appears twice",
        ),
        (
            "id: other\nname: X\nversion: '1'\ntitle: T\ncontrols: []\n",
            "broken.yaml:1: id: 'other' must match the file name",
        ),
        ("id: [unclosed\n", "broken.yaml:2: invalid YAML"),
    ],
)
def test_a_broken_framework_file_names_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(FrameworkError) as caught:
        load_framework(path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path)) and expected in message, message
    assert "\n" not in message
