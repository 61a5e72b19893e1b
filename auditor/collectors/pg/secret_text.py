"""Secrets kept out of error text: an inline DSN password and the resolved password, whole,
percent-decoded, and in the pieces a URL parser cuts them into."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

# Pieces of a secret shorter than this are not masked on their own (they would mask words).
MIN_SECRET_PART = 3


def secret_parts(secrets: Iterable[str | None]) -> list[str]:
    """Each secret, its percent-decoded form and its pieces between URL delimiters, longest
    first: a password with '#', '/', '?', '&' or '@' that was not percent-encoded is split by
    URL parsers, and any piece may surface in a message (e.g. as a "port" or a "host name")."""
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, unquote(secret)}:
            found.add(form)
            found.update(p for p in re.split(r"[#/?&@:=%\s]+", form) if len(p) >= MIN_SECRET_PART)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    for part in secret_parts(secrets):
        text = text.replace(part, "***")
    return text


def dsn_secrets(dsn: str) -> list[str]:
    """Passwords written into a DSN, however it splits: everything between the scheme and the
    last '@' after the user name, and any password= parameter."""
    found: list[str] = []
    rest = dsn.split("://", 1)[-1]
    if "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    found.extend(m.group(1) for m in re.finditer(r"(?:^|[?&])(?:ssl)?password=([^&]*)", rest))
    return found
