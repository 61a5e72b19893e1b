"""The likely fix for a target that could not be reached or logged into, in words a person can
act on. The reasons come from libpq and the runner (auditor.collectors.pg.session); only
their well-known wording is matched, so an unknown reason simply gets no hint."""

from __future__ import annotations

from auditor.model import TargetOutcome, TargetStatus

# (words in the lower-cased reason, the fix). First match wins: more specific first.
_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("password authentication failed",),
        "check the password source (the target's password: {env: VAR} or {file: PATH}, "
        "--password-env, PGPASSWORD) and the user name in the DSN",
    ),
    (
        ("no password supplied", "fe_sendauth"),
        "give a password: password: {env: VAR} or {file: PATH} in the config, or "
        "--password-env VAR with --dsn",
    ),
    (
        ("server does not support ssl",),
        "the server refuses TLS, so the login was not attempted (the password would travel in "
        "clear): enable ssl on the server, or opt out knowingly with ?sslmode=prefer "
        "(or disable) in the DSN",
    ),
    (
        ("no pg_hba.conf entry",),
        "the server's pg_hba.conf has no rule for this host, user and database (or needs "
        "TLS): add one, or scan from an allowed host",
    ),
    (
        ("does not exist",),
        "check the user and database names in the DSN",
    ),
    (
        ("certificate verify failed", "root certificate file", "server certificate"),
        "check sslrootcert in the DSN: it must name the CA that signed the server's "
        "certificate (or use sslmode=require to skip verification for the scan)",
    ),
    (
        ("connection refused",),
        "nothing accepts connections there: check host and port in the DSN, that "
        "PostgreSQL runs with listen_addresses covering this address, and firewalls",
    ),
    (
        ("timeout expired", "timed out"),
        "no answer in time: check host and port, firewalls that drop packets, or raise "
        "connect_timeout_seconds / target_timeout_seconds",
    ),
    (
        ("could not translate host name", "name or service not known"),
        "the host name does not resolve: check its spelling and DNS",
    ),
    (
        ("no route to host", "network is unreachable"),
        "no network path to the host: check the address, VPN and routing",
    ),
    (
        ("environment variable",),
        "set the variable before the scan, or point password: at a file",
    ),
)


def likely_fix(outcome: TargetOutcome) -> str | None:
    """A short hint for a target that was not scanned, or None."""
    if outcome.status is TargetStatus.SCANNED or not outcome.error:
        return None
    reason = outcome.error.lower()
    for words, fix in _HINTS:
        if any(word in reason for word in words):
            return fix
    return None
