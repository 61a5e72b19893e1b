"""The hint for an optional dependency that is missing: one wording, one package name."""

from __future__ import annotations

DISTRIBUTION = "pg-encryption-auditor"  # setup.cfg's name, what `pip install` takes


def not_installed(what: str, extra: str) -> str:
    """'<what> is not installed: pip install '<distribution>[<extra>]''."""
    return f"{what} is not installed: pip install '{DISTRIBUTION}[{extra}]'"
