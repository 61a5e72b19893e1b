"""Compliance frameworks as data: one YAML file per framework version in this folder, each
listing controls, the check ids that evidence them and what they leave to manual review.
Checks know nothing of frameworks; results are mapped to controls here, after evaluation.

`_coverage.yaml` beside them lists checks deliberately mapped to no control (`unmapped`) and
catalog ids that are specified but not implemented yet (`planned`), so a test can prove that
every referenced id exists and every check is mapped or explicitly unmapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor.config import ConfigError, explain_errors, yaml_document
from auditor.model import ControlRef

FRAMEWORK_DIR = Path(__file__).parent
COVERAGE_FILE = FRAMEWORK_DIR / "_coverage.yaml"
CHECK_ID_PATTERN = r"^[a-z]+\.[a-z0-9_]+$"

M = TypeVar("M", bound=BaseModel)


class FrameworkError(Exception):
    """A framework file is broken; the message names file:line: key."""


CheckId = Annotated[str, Field(pattern=CHECK_ID_PATTERN)]


class Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    checks: tuple[CheckId, ...] = ()
    # Groups of `checks` that evidence one requirement on different platforms (storage
    # encryption on RDS, Azure, Cloud SQL or LUKS): a member that did not run is not missing
    # evidence when another member of its group ran (see auditor/control_verdicts.py).
    alternatives: tuple[tuple[CheckId, ...], ...] = ()
    # What the scan cannot evidence: the part an assessor reviews by hand.
    not_covered: str = ""

    @model_validator(mode="after")
    def _alternatives_are_mapped(self) -> Control:
        for group in self.alternatives:
            if len(group) < 2:
                raise ValueError("an alternatives group needs at least two checks")
            stray = [c for c in group if c not in self.checks]
            if stray:
                raise ValueError(f"alternatives name checks not in checks: {', '.join(stray)}")
        return self

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        # YAML reads `3.4` as a float; control ids are text.
        return str(value) if isinstance(value, int | float) else value


class Framework(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")]
    name: str
    version: str
    title: str
    url: str = ""
    controls: tuple[Control, ...]

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("controls")
    @classmethod
    def _unique_controls(cls, value: tuple[Control, ...]) -> tuple[Control, ...]:
        seen: set[str] = set()
        for control in value:
            if control.id in seen:
                raise ValueError(f"control id {control.id!r} appears twice")
            seen.add(control.id)
        return value

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


class UnmappedCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: CheckId
    reason: Annotated[str, Field(min_length=1)]


class Coverage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unmapped: tuple[UnmappedCheck, ...] = ()
    planned: tuple[CheckId, ...] = ()


def parse_yaml_model(text: str, source: str, model: type[M], error: type[Exception]) -> M:
    """YAML text -> validated `model`; any problem raises `error('file:line: key: what')`."""
    try:
        data, located = yaml_document(text, source)  # bounded, merge keys, duplicate keys
    except ConfigError as exc:
        raise error(str(exc)) from None
    if not isinstance(data, Mapping):
        raise error(f"{source}:1: the top level must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:  # every problem, one per line
        raise error("\n".join(explain_errors(exc, located, source))) from None


def load_framework(path: Path) -> Framework:
    try:
        text = path.read_text()
    except OSError as exc:
        raise FrameworkError(f"{path}: cannot read framework file: {exc.strerror}") from None
    framework = parse_yaml_model(text, str(path), Framework, FrameworkError)
    if framework.id != path.stem:
        raise FrameworkError(f"{path}:1: id: {framework.id!r} must match the file name")
    return framework


@cache
def frameworks() -> dict[str, Framework]:
    """Every built-in framework by id, sorted."""
    found = [
        load_framework(p)
        for p in sorted(FRAMEWORK_DIR.glob("*.yaml"))
        if not p.name.startswith("_")
    ]
    return {f.id: f for f in sorted(found, key=lambda f: f.id)}


@cache
def coverage() -> Coverage:
    return parse_yaml_model(COVERAGE_FILE.read_text(), str(COVERAGE_FILE), Coverage, FrameworkError)


def get_framework(framework_id: str) -> Framework:
    found = frameworks().get(framework_id)
    if found is None:
        raise FrameworkError(
            f"unknown framework {framework_id!r} (available: {', '.join(frameworks())})"
        )
    return found


@cache
def control_index() -> dict[str, tuple[ControlRef, ...]]:
    """check id -> the controls (of every framework) it evidences, sorted."""
    index: dict[str, set[ControlRef]] = {}
    for framework in frameworks().values():
        for control in framework.controls:
            for check_id in control.checks:
                index.setdefault(check_id, set()).add(ControlRef(framework.id, control.id))
    return {k: tuple(sorted(v, key=lambda c: (c.framework, c.id))) for k, v in index.items()}


def controls_for(check_id: str) -> tuple[ControlRef, ...]:
    return control_index().get(check_id, ())


def framework_checks(framework_id: str) -> frozenset[str]:
    """The check ids mapped to any control of one framework (what `--framework` gates on);
    FrameworkError for an unknown id."""
    return frozenset(c for control in get_framework(framework_id).controls for c in control.checks)


def referenced_checks() -> set[str]:
    return set(control_index())
