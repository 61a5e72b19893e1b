"""Compliance frameworks as data: one YAML file per framework version in this folder, each
listing controls and the check ids that evidence them. Checks know nothing of frameworks;
results are mapped to controls here, after evaluation."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from auditor.model import ControlRef

FRAMEWORK_DIR = Path(__file__).parent


@cache
def control_index() -> dict[str, tuple[ControlRef, ...]]:
    """check id -> the controls (of every framework) it evidences, sorted."""
    index: dict[str, set[ControlRef]] = {}
    for path in sorted(FRAMEWORK_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        framework = str(data.get("id", path.stem))
        for control in data.get("controls", []) or []:
            for check_id in control.get("checks", []) or []:
                index.setdefault(check_id, set()).add(ControlRef(framework, str(control["id"])))
    return {k: tuple(sorted(v, key=lambda c: (c.framework, c.id))) for k, v in index.items()}


def controls_for(check_id: str) -> tuple[ControlRef, ...]:
    return control_index().get(check_id, ())
