"""Which checks a scan runs: `--check` and `--skip-check` patterns over the catalog.

A pattern is a check id (`transport.tls_min_version`), a family (`transport` or
`transport.*`) or a shell-style glob (`*.hba_*`). Every pattern must name at least one check,
so a typo narrows nothing silently. The runner then collects only the fact sections that the
selected checks read, which is what makes a narrowed scan cheap and gentle.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence


class SelectionError(Exception):
    """A pattern that names no check; the message is one line for the CLI."""


def matching(pattern: str, ids: Iterable[str]) -> set[str]:
    wanted = pattern.strip()
    if "." not in wanted and not any(ch in wanted for ch in "*?["):
        wanted += ".*"  # a bare family name: every check of that layer
    return {cid for cid in ids if fnmatch.fnmatchcase(cid, wanted)}


def select_checks(
    ids: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> set[str] | None:
    """The selected ids, or None when nothing narrows the catalog (a full scan)."""
    catalog = sorted(ids)
    if not include and not exclude:
        return None

    def expand(patterns: Sequence[str], option: str) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            hits = matching(pattern, catalog)
            if not hits:
                raise SelectionError(
                    f"unknown check id {pattern!r} for {option}: it matches no check "
                    "(see `auditor checks list`; families and globs such as 'transport.*' work)"
                )
            found |= hits
        return found

    chosen = expand(include, "--check") if include else set(catalog)
    chosen -= expand(exclude, "--skip-check")
    if not chosen:
        raise SelectionError("--check and --skip-check leave no check to run")
    return chosen
