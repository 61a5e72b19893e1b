"""Discovers checks: every concrete `Check` subclass in the `auditor.checks` package and every
object published under the `auditor.checks` entry-point group (a Check subclass or a module).
Duplicate ids are refused, because reports, waivers and history key on them.
"""

from __future__ import annotations

import inspect
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

import auditor.checks
from auditor.checks.base import Check
from auditor.discovery import package_modules, subclasses_in

ENTRY_POINT_GROUP = "auditor.checks"


class CatalogError(Exception):
    pass


def _checks_in_module(module: ModuleType) -> list[type[Check]]:
    return subclasses_in(module, Check, "id")  # abstract intermediates define no id


def _plugin_checks() -> list[type[Check]]:
    found: list[type[Check]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the scanner down
            raise CatalogError(f"plugin entry point {ep.name!r} failed to load: {exc}") from exc
        if inspect.ismodule(obj):
            found.extend(_checks_in_module(obj))
        elif inspect.isclass(obj) and issubclass(obj, Check):
            found.append(obj)
        else:
            raise CatalogError(f"plugin entry point {ep.name!r} is neither a Check nor a module")
    return found


def build_catalog(classes: list[type[Check]]) -> dict[str, Check]:
    catalog: dict[str, Check] = {}
    for cls in classes:
        if cls.id in catalog and type(catalog[cls.id]) is not cls:
            other = type(catalog[cls.id])
            raise CatalogError(
                f"duplicate check id {cls.id!r}: {other.__module__}.{other.__name__} "
                f"and {cls.__module__}.{cls.__name__}"
            )
        catalog[cls.id] = cls()
    return dict(sorted(catalog.items()))


@cache
def all_checks() -> dict[str, Check]:
    classes: list[type[Check]] = []
    for module in package_modules(auditor.checks, skip=("base",)):
        classes.extend(_checks_in_module(module))
    classes.extend(_plugin_checks())
    return build_catalog(classes)
