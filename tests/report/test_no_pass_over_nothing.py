"""No verdict over nothing, catalog-wide: every check, run over facts whose sections are present
but hold zero objects (no pg_hba rule, no client, no column, no function, an empty sample...),
must not PASS. A PASS there would put "compliant" into an evidence report about nothing.

The facts are built generically from the section models (empty collections, None, zero,
false), so a check added later is walked too. The scanning role is made as privileged as
possible, so that checks meet the emptiness itself instead of skipping for a missing GRANT.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import auditor.collectors
import auditor.tls
from auditor.catalog import all_checks
from auditor.collectors.pg.columns import ColumnFacts, ColumnSample
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts, FactSection, TargetContext
from auditor.model import Result, Status
from auditor.runner import evaluate

# Verdicts about one observed object, not over a list of them: a Cloud SQL instance with no
# CMEK uses a Google-managed key, which Google rotates; the "empty samples" variant observes
# pgcrypto 1.3 installed.
ABOUT_THE_TARGET_ITSELF = {
    ("keys.kms_key_rotation", "gcp-cloudsql"),
    ("column.pgcrypto_installed", "postgres"),
}


def _load_sections() -> dict[str, type[FactSection]]:
    for package in (auditor.collectors, auditor.tls):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    return FactSection.registry()


def _empty(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in args else _empty(args[0])
    if origin is typing.Annotated:
        return _empty(args[0])
    if origin is typing.Literal:
        return args[0]
    container = origin or annotation
    if container in (list, tuple, set, frozenset, dict):
        return container()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _empty_model(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    for kind, value in ((bool, False), (int, 0), (float, 0.0), (str, "")):
        if annotation is kind:
            return value
    raise TypeError(f"no empty value for {annotation!r}")


def _empty_model(model: type[BaseModel]) -> Any:
    required = {
        name: _empty(f.annotation)
        for name, f in model.model_fields.items()
        if f.default is PydanticUndefined and f.default_factory is None
    }
    return model(**required)


def _empty_facts(kind: str, options: dict[str, Any], extra: list[FactSection]) -> Facts:
    facts = Facts(TargetContext("empty", kind, options=options))
    for model in _load_sections().values():
        facts.add(_empty_model(model))
    server = facts.get(ServerFacts)
    # Privileged enough that nothing skips for a missing GRANT.
    facts.add(server.model_copy(update={"is_superuser": True, "monitor_privileges": True}))
    for section in extra:
        facts.add(section)
    return facts


def _empty_samples() -> ColumnFacts:
    """The declared column and an undeclared one exist, but their samples hold no value."""

    def sample(table: str, column: str, declared: bool) -> ColumnSample:
        return ColumnSample(
            schema_name="public",
            table=table,
            column=column,
            data_type="text",
            declared=declared,
            estimated_rows=0,
            method="TABLESAMPLE SYSTEM (100%) LIMIT 200",
            sampled=0,
        )

    base = _empty_model(ColumnFacts)
    return typing.cast(
        ColumnFacts,
        base.model_copy(
            update={
                "pgcrypto_version": "1.3",
                "declared": ("public.users.email",),
                "samples": (
                    sample("users", "email", True),
                    sample("notes", "body", False),
                ),
            }
        ),
    )


VARIANTS = {
    "nothing declared": ({}, []),
    "a sensitive column declared": ({"sensitive_columns": ["users.email"]}, []),
    "empty samples": ({"sensitive_columns": ["users.email"]}, [_empty_samples()]),
}


def _walk(options: dict[str, Any], extra: list[FactSection]) -> dict[tuple[str, str], list[Result]]:
    found = {}
    for check_id, check in all_checks().items():
        for kind in sorted(check.kinds):
            found[(check_id, kind)] = evaluate(_empty_facts(kind, options, extra), [check])
    return found


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_check_passes_over_zero_inspected_objects(variant: str) -> None:
    options, extra = VARIANTS[variant]
    walked = _walk(options, extra)
    assert len({c for c, _ in walked}) == len(all_checks())
    passed = {
        f"{check_id} ({kind}): {r.message}"
        for (check_id, kind), results in walked.items()
        if (check_id, kind) not in ABOUT_THE_TARGET_ITSELF
        for r in results
        if r.status is Status.PASS
    }
    assert not passed, "PASS over nothing:\n" + "\n".join(sorted(passed))


def test_every_check_says_something_over_empty_facts() -> None:
    """A check that returns no result at all leaves a silent hole in the report: it must at
    least skip with its reason."""
    walked = _walk({}, [])
    silent = sorted(f"{c} ({k})" for (c, k), results in walked.items() if not results)
    assert not silent, f"checks returning no result over empty facts: {silent}"
    reasons = [r.message for results in walked.values() for r in results]
    assert all(reasons), "every result over empty facts carries its reason"


def test_the_walk_catches_a_pass_over_nothing() -> None:
    """The walk itself is honest: an empty hba rule set would have passed before the fix."""
    walked = _walk({}, [])
    hba = walked[("auth.hba_no_trust", "postgres")]
    assert [r.status for r in hba] == [Status.SKIP]
    assert "nothing to judge" in hba[0].message
    clients = walked[("transport.client_connections_encrypted", "postgres")]
    assert [r.status for r in clients] == [Status.SKIP]
    assert "no TCP client connection" in clients[0].message
