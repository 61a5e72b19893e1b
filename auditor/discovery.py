"""Find the concrete subclasses of a base class defined in the modules of one package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


def package_modules(package: ModuleType, skip: tuple[str, ...] = ()) -> list[ModuleType]:
    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return modules


def subclasses_in(module: ModuleType, base: type[T], marker: str) -> list[type[T]]:
    """Classes defined in `module` that subclass `base` and define `marker` themselves."""
    found: list[type[T]] = []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(obj, base)
            and obj is not base
            and obj.__module__ == module.__name__
            and marker in obj.__dict__
        ):
            found.append(obj)
    return found
