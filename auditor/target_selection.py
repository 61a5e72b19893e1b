"""Which targets a scan runs: `--target`, `--label` and their exclusions over the config.

One config describes a whole estate; each scheduled job picks its slice:

* `--target NAME_OR_GLOB` (repeatable): targets whose name matches any of them;
* `--label key=value` (repeatable): targets carrying every one of them (a value may be a glob,
  `env=prod*`);
* `--exclude-target GLOB` and `--exclude-label key=value`: leave out a target matching any.

Every name pattern must match some target of the config, so a typo never narrows (or widens)
a job silently, and a selection that leaves nothing to scan is a usage error listing what
exists, with a "did you mean" for a near miss.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BeforeValidator, Field

# Names listed in an error at most: a 300-target estate would not fit on one line.
MAX_LISTED = 20


def _plain_value(value: Any) -> Any:
    # `zone: 3` or `pci: true` in YAML are labels too; they are compared as text.
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,62}")


def _check_keys(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not _LABEL_KEY.fullmatch(key):
            raise ValueError(
                f"label key {key!r} must be letters, digits, '_', '.', '/' or '-' (up to 63)"
            )
    return labels


LabelValue = Annotated[
    str, BeforeValidator(_plain_value), Field(pattern=r"^[^\x00-\x1f\x7f=]{1,200}$")
]
# `labels: {env: prod, bu: payments, owner: team-a, data_class: pci, zone: dmz}` on any target.
Labels = Annotated[dict[str, LabelValue], AfterValidator(_check_keys)]


class TargetSelectionError(Exception):
    """A selection that cannot be right; the message is one line for the CLI."""


class _Target(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class TargetFilter:
    names: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()
    exclude_labels: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.names or self.labels or self.exclude_names or self.exclude_labels)

    def describe(self) -> str:
        """The options as given, for messages."""
        parts = [f"--target {n!r}" for n in self.names]
        parts += [f"--label {label}" for label in self.labels]
        parts += [f"--exclude-target {n!r}" for n in self.exclude_names]
        parts += [f"--exclude-label {label}" for label in self.exclude_labels]
        return " ".join(parts)


def parse_label(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise TargetSelectionError(f"{option} {text!r}: must be key=value (e.g. env=prod)")
    return key, value


def _has_label(target: _Target, key: str, pattern: str) -> bool:
    value = target.labels.get(key)
    return value is not None and fnmatch.fnmatchcase(value, pattern)


def _name_matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


def _listing(values: Iterable[str]) -> str:
    items = sorted(set(values))
    if not items:
        return "none"
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_labels(targets: Sequence[_Target]) -> list[str]:
    return [f"{k}={v}" for t in targets for k, v in t.labels.items()]


def select(targets: Sequence[Any], chosen: TargetFilter) -> list[Any]:
    """The targets the filter keeps, in config order; TargetSelectionError (one line) when a
    pattern names no target or nothing is left."""
    if chosen.empty:
        return list(targets)
    names = [t.name for t in targets]
    for option, patterns in (
        ("--target", chosen.names),
        ("--exclude-target", chosen.exclude_names),
    ):
        for pattern in patterns:
            if not any(_name_matches(n, pattern) for n in names):
                raise TargetSelectionError(
                    f"{option} {pattern!r} matches no target{_did_you_mean(pattern, names)} "
                    f"(targets: {_listing(names)})"
                )
    wanted = [parse_label(text, "--label") for text in chosen.labels]
    unwanted = [parse_label(text, "--exclude-label") for text in chosen.exclude_labels]
    kept = [
        t
        for t in targets
        if (not chosen.names or any(_name_matches(t.name, p) for p in chosen.names))
        and all(_has_label(t, k, v) for k, v in wanted)
        and not any(_name_matches(t.name, p) for p in chosen.exclude_names)
        and not any(_has_label(t, k, v) for k, v in unwanted)
    ]
    if kept:
        return kept
    known = _known_labels(targets)
    hint = ""
    for text in chosen.labels:
        key, value = parse_label(text, "--label")
        if not any(_has_label(t, key, value) for t in targets):
            hint = f"; no target has {key}={value}{_did_you_mean(f'{key}={value}', known)}"
            break
    raise TargetSelectionError(
        f"{chosen.describe()}: no target matches{hint}; targets: {_listing(names)}; "
        f"labels: {_listing(known)}"
    )


def select_config(config: Any, chosen: TargetFilter) -> Any:
    """The config with only the selected targets (a ScanConfig; unchanged when nothing
    narrows it)."""
    if chosen.empty:
        return config
    return config.model_copy(update={"targets": tuple(select(config.targets, chosen))})
