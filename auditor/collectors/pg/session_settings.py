"""What the scan session pins at login, how the server shows it back, and which sslmode the
scanner's own login uses.

Settings go in the startup packet (`options=-c name=value`): PostgreSQL applies them with a
higher priority than any `ALTER DATABASE/ROLE ... SET`, so the scanned database's owner
cannot loosen them.
"""

from __future__ import annotations

import os

from auditor.config import SSLMODES, PostgresTarget

LOCK_TIMEOUT_MS = 1000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

# libpq's default `prefer` sends the password in clear to a server that refuses TLS. Without an
# explicit `sslmode` in the DSN the scanner insists on TLS for its own login; an explicit weaker
# mode is the documented opt-out (and draws a warning, see `login_warning`).
DEFAULT_LOGIN_SSLMODE = "require"
CLEARTEXT_SSLMODES = ("disable", "allow", "prefer")
PINNED_SEARCH_PATH = ("pg_catalog", "pg_temp")


def _chosen_sslmode(target: PostgresTarget) -> tuple[str | None, str]:
    """The sslmode someone chose and where: the DSN, else libpq's PGSSLMODE (which an
    explicit sslmode=require would otherwise silently override, e.g. a verify-full)."""
    explicit: str | None = target.dsn_parts["params"].get("sslmode")
    if explicit:
        return explicit, "the DSN's"
    env = os.environ.get("PGSSLMODE")
    if env in SSLMODES:
        return env, "PGSSLMODE's"
    return None, ""


def login_sslmode(target: PostgresTarget) -> str:
    return _chosen_sslmode(target)[0] or DEFAULT_LOGIN_SSLMODE


def login_warning(target: PostgresTarget) -> str | None:
    """A one-line warning when the DSN explicitly allows the password to travel in clear."""
    mode, where = _chosen_sslmode(target)
    if mode not in CLEARTEXT_SSLMODES:
        return None
    return (
        f"target {target.name!r}: {where} sslmode={mode} lets the scanner's password cross the "
        "network in clear if the server refuses TLS (remove it to require TLS)"
    )


def pinned_settings(target: PostgresTarget) -> dict[str, str]:
    """Session settings the scan depends on, as sent in the startup packet (no spaces)."""
    return {
        # Only built-ins resolve unqualified names; pg_temp last so it never shadows.
        "search_path": ",".join(PINNED_SEARCH_PATH),
        "default_transaction_read_only": "on",
        "statement_timeout": str(target.statement_timeout_ms),
        "lock_timeout": str(LOCK_TIMEOUT_MS),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
        # `ALTER DATABASE ... SET role = x` would run a superuser's scan as someone else.
        "role": "none",
        # Libraries an owner may name for every login to the database (from $libdir/plugins).
        "local_preload_libraries": "",
        # Output formats the client parses: an owner's DateStyle = German breaks date loading.
        "DateStyle": "ISO,MDY",
        "IntervalStyle": "postgres",
        "bytea_output": "hex",
        "standard_conforming_strings": "on",
        "TimeZone": "UTC",
    }


# How SHOW reports what `pinned_settings` sent, where the two spellings differ.
def expected_show(name: str, sent: str) -> str:
    if name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        return show_ms(int(sent))
    if name == "DateStyle":
        return "ISO, MDY"
    return sent


def show_ms(ms: int) -> str:
    """SHOW's rendering of a millisecond setting (largest unit that divides it exactly)."""
    if ms == 0:
        return "0"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def startup_options(target: PostgresTarget) -> str:
    # The DSN's own options come first: for the same setting the last -c wins.
    own = target.dsn_parts["params"].get("options", "")
    pinned = " ".join(f"-c {name}={value}" for name, value in pinned_settings(target).items())
    return f"{own} {pinned}".strip()
