"""One redaction policy for everything Auditor keeps or prints: facts bundles, results, history
files, error messages.

Secrets are replaced by a marker that keeps the fact that something was there: a value
standing alone becomes `<redacted KIND, N chars>` (so a check can still judge "a key sits in a
GUC" without the key), a value whose name already says what it is (`password=`,
`user:...@host`, `ldapbindpasswd=`) becomes `***`. No marker carries a digest or fingerprint
of the value: for a short or guessable secret a hash confirms a guess.

What is redacted:

* conninfo and URL credentials in any text: `password=`, `sslpassword=` (key=value strings and
  URL queries) and the password part of `scheme://user:password@host`;
* pg_hba credential options (`ldapbindpasswd=`, `radiussecrets=`) in any text;
* server settings whose names say they hold a secret (`app.enc_key`, `vault.token`...) and
  custom settings whose values look like machine-made secrets (long high-entropy strings);
* any value this process was given as a secret (resolved passwords and tokens, inline DSN
  passwords), wherever it turns up, e.g. quoted back in a driver's error message (it becomes
  `***`, like a password inside a DSN, so a redacted DSN reads the same either way).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from auditor.pghba.rules import SECRET_OPTIONS

if TYPE_CHECKING:
    from auditor.model import ScanResults

# pg_hba options whose values are credentials (PostgreSQL keeps them in pg_hba_file_rules).
SECRET_HBA_OPTIONS = SECRET_OPTIONS
# libpq connection parameters whose values are credentials.
SECRET_CONNINFO_KEYS = frozenset({"password", "sslpassword"})
# Settings that hold a whole libpq connection string (its password part is redacted).
CONNINFO_SETTINGS = frozenset({"primary_conninfo"})

# Settings holding a shell command that may spell out a passphrase (`echo s3cret`); no check
# judges the command text, only whether it is set.
COMMAND_SETTINGS = frozenset({"ssl_passphrase_command"})

# Words in a custom setting's name that say its value is a secret...
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "credential",
        "credentials",
        "apikey",
        "key",
        "keys",
        "privkey",
        "privatekey",
        "dek",
        "kek",
        "salt",
    }
)
# ...unless the name ends in a word that says the value is about the secret, not the secret
# itself (`ssl_key_file` is a path, `app.key_id` an identifier, `app.key_rotation_days` a
# number): checks need those in clear.
_DESCRIPTIVE_SUFFIXES = frozenset(
    {
        "file",
        "path",
        "dir",
        "directory",
        "id",
        "ids",
        "name",
        "arn",
        "alias",
        "version",
        "type",
        "kind",
        "algorithm",
        "alg",
        "length",
        "bits",
        "size",
        "days",
        "age",
        "ttl",
        "timeout",
        "interval",
        "rotation",
        "count",
        "enabled",
        "provider",
        "command",
        "method",
        "mode",
        "source",
    }
)

# Known secret values shorter than this are not searched for in free text: replacing every
# "abc" in a report would garble it while protecting little.
MIN_KNOWN_SECRET = 6
_known: set[str] = set()
_known_lock = threading.Lock()


def marker(kind: str, value: str | None = None) -> str:
    """What a redacted value becomes: its kind and, where given, its length."""
    if value is None:
        return f"<redacted {kind}>"
    return f"<redacted {kind}, {len(value)} chars>"


def remember_secret(value: str | None) -> None:
    """Record a secret this process holds, so that it is redacted wherever it turns up."""
    if value and len(value) >= MIN_KNOWN_SECRET:
        with _known_lock:
            _known.add(value)


def _known_secrets() -> list[str]:
    """The known secrets now, longest first (so that no shorter one leaves part of a longer
    one behind when they are replaced)."""
    with _known_lock:
        return sorted(_known, key=len, reverse=True)


def forget_secrets() -> None:
    """Clear the known secrets (tests)."""
    with _known_lock:
        _known.clear()


# -- text ------------------------------------------------------------------------------------

_NOT_MARKER = r"(?!['\"]?<redacted)"  # known secrets are replaced before these patterns run
_MARKER = re.compile(r"<redacted [^<>]{1,60}>")


def is_marker(value: str) -> bool:
    return _MARKER.fullmatch(value) is not None


# `scheme://user:password@host` (the password may hold '@'; the last '@' ends it).
_URL_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)(?P<pw>[^\s'\"]*)(?=@)"
)
# A URL query parameter: ends at '&', '#' or whitespace.
_URL_PARAM = re.compile(
    r"(?P<head>[?&](?:ssl)?password=)" + _NOT_MARKER + r"(?P<pw>[^&#\s'\"]*)", re.IGNORECASE
)
# A conninfo `key=value`: a single-quoted value (with \' escapes) or up to whitespace.
_CONNINFO_PARAM = re.compile(
    r"(?P<head>(?<![?&])(?<![?&]ssl)\b(?:ssl)?password\s*=\s*)"
    + _NOT_MARKER
    + r"(?P<pw>'(?:[^'\\]|\\.)*'?|[^\s'\"]+)",
    re.IGNORECASE,
)
# A pg_hba option: a double-quoted value ("" escapes a quote), a {list}, or up to whitespace.
_HBA_OPTION = re.compile(
    r"(?P<head>\b(?:ldapbindpasswd|radiussecrets)\s*=\s*)"
    + _NOT_MARKER
    + r"(?P<pw>\"(?:[^\"]|\"\")*\"?|\{[^}]*\}?|[^\s\"]+)",
    re.IGNORECASE,
)


# Where the name before the value already says what it was (`password=`, `user:...@`,
# `ldapbindpasswd=`), the value becomes MASK: constant, so a URL stays a valid URL and a
# resource named after a DSN or a pg_hba line does not change when only the password does
# (waivers match on resource names).
MASK = "***"


def _sub(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: m.group("head") + MASK, text)


# What the text rules below look for before any pattern runs: a URL (userinfo), a password
# parameter, a pg_hba credential option (lowercase: they are searched in lowered text).
_URL_MARK = "://"
_PASSWORD_WORD = "password"
_HBA_WORDS = ("ldapbindpasswd", "radiussecrets")
# JSON keys under which `redact_tree` applies the settings rules (see _SETTING_LISTS).
_SETTING_KEYS = ('"setting"', '"settings"', '"file_settings"')
# Characters JSON writes escaped: a known secret holding one is not found by a plain search
# of a JSON text, so such a secret always sends a structure through the full walk.
_JSON_ESCAPED = re.compile(r'[^\x20-\x7e]|["\\]')


def redact_text(text: str) -> str:
    """Free text (a message, an error, a conninfo, a pg_hba line) with credentials replaced."""
    if not text:
        return text
    for secret in _known_secrets():  # first, so the patterns below never leave part of one
        if secret in text:
            text = text.replace(secret, MASK)
    if _URL_MARK in text:
        text = _sub(_URL_USERINFO, text)
    lowered = text.lower()
    if _PASSWORD_WORD in lowered:
        text = _sub(_URL_PARAM, text)
        text = _sub(_CONNINFO_PARAM, text)
    if any(word in lowered for word in _HBA_WORDS):
        text = _sub(_HBA_OPTION, text)
    return text


def json_may_need_redaction(blob: str) -> bool:
    """False only when `redact_tree` would return the structure that `blob` (its JSON text)
    encodes unchanged: no known secret, URL, password parameter, pg_hba credential option
    or settings row anywhere in it. The same marks `redact_text` checks before its rules
    run, searched once in the whole text instead of in every string of a structure (a
    10,000-table column section holds hundreds of thousands of strings)."""
    for secret in _known_secrets():
        if _JSON_ESCAPED.search(secret) or secret in blob:
            return True
    if _URL_MARK in blob or any(key in blob for key in _SETTING_KEYS):
        return True
    lowered = blob.lower()
    return _PASSWORD_WORD in lowered or any(word in lowered for word in _HBA_WORDS)


def redact_hba_option(option: str) -> str:
    """A pg_hba `name=value` option, its value masked when the option is a credential (the
    same masking auditor.pghba applies to rules from the file and from the server)."""
    name, sep, _ = option.partition("=")
    if sep and name.strip().lower() in SECRET_HBA_OPTIONS:
        return f"{name}={MASK}"
    return redact_text(option)


def redact_dsn(dsn: str) -> str:
    """A connection URL or conninfo with every password part replaced."""
    return redact_text(dsn)


# -- settings --------------------------------------------------------------------------------


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def secret_setting_name(name: str) -> bool:
    """Does a setting's name say that its value is a secret (`app.enc_key`, `vault.token`)?"""
    words = _name_words(name)
    if not words or words[-1] in _DESCRIPTIVE_SUFFIXES:
        return False
    return any(w in _SECRET_WORDS or w.endswith(("password", "secret", "token")) for w in words)


def looks_like_secret_value(value: str) -> bool:
    """A long string of base64/hex/url-safe characters with high entropy: a machine-made key
    or token rather than a word, number, list or path."""
    if len(value) < 16 or value.startswith(("/", ".")):
        return False
    if not re.fullmatch(r"[A-Za-z0-9+/=_\-]+", value):
        return False
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[+/=_\-]"))
    if classes < 2:
        return False
    counts = Counter(value)
    entropy = -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())
    return entropy >= 3.5


def redact_conninfo(value: str) -> str:
    """A libpq connection string (key=value or URL) with its password parts redacted, parsed
    as libpq would so a password with spaces or quotes is redacted whole."""
    if "://" not in value and "=" in value:
        try:
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            params = conninfo_to_dict(value)
        except Exception:  # not parseable: the text rules below still apply
            return redact_text(value)
        if not SECRET_CONNINFO_KEYS & {k.lower() for k in params}:
            return redact_text(value)
        cleaned = {k: (MASK if k.lower() in SECRET_CONNINFO_KEYS else v) for k, v in params.items()}
        return redact_text(make_conninfo("", **cleaned))
    return redact_text(value)


def redact_setting(name: str, value: str | None) -> str | None:
    """A server setting's value as Auditor may keep it."""
    if value is None or value == "" or is_marker(value):
        return value
    if name.lower() in CONNINFO_SETTINGS:
        return redact_conninfo(value)
    if name.lower() in COMMAND_SETTINGS:
        return marker("command", value)
    if "." not in name:
        # PostgreSQL's own settings: a fixed set, none of which holds a secret by itself
        # (`password_encryption` names an algorithm, `ssl_key_file` a path), and checks
        # judge their values.
        return redact_text(value)
    # Custom settings (`app.enc_key`, `myext.token`): what applications park there.
    if secret_setting_name(name):
        return marker("secret setting", value)
    if looks_like_secret_value(value):
        return marker("high-entropy value", value)
    return redact_text(value)


# -- structures ------------------------------------------------------------------------------

_SETTING_LISTS = frozenset({"settings", "file_settings"})


def redact_tree(value: Any, in_settings: bool = False) -> Any:
    """A JSON-like structure with every string passed through the policy; rows under a
    `settings`/`file_settings` key (`{name, value}` / `{name, setting}`) are judged as server
    settings."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out = {k: redact_tree(v, in_settings=k in _SETTING_LISTS) for k, v in value.items()}
        evidence_name = value.get("setting")
        if isinstance(evidence_name, str) and isinstance(value.get("value"), str):
            # a setting in a check's evidence: {"setting": name, "value": ..., "source": ...}
            out["value"] = redact_setting(evidence_name, value["value"])
        if in_settings:
            name = value.get("name")
            if isinstance(name, str):  # one setting row
                for field in ("value", "setting"):
                    raw = value.get(field)
                    if isinstance(raw, str):
                        out[field] = redact_setting(name, raw)
            else:  # settings keyed by name: {"app.enc_key": {"name": ..., "value": ...}}
                for key, row in value.items():
                    if isinstance(row, Mapping):
                        out[key] = redact_tree(row, in_settings=True)
        return out
    if isinstance(value, list | tuple):
        items = [redact_tree(v, in_settings=in_settings) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def redact_results(results: ScanResults) -> ScanResults:
    """Results with the policy applied to every message, evidence block and target error: the
    last gate before anything is written or printed."""
    from dataclasses import replace

    findings = tuple(
        replace(
            r,
            message=redact_text(r.message),
            evidence=redact_tree(r.evidence),
            resource=None if r.resource is None else redact_text(r.resource),
        )
        for r in results.findings
    )
    targets = tuple(
        t if t.error is None else replace(t, error=redact_text(t.error)) for t in results.targets
    )
    return replace(results, findings=findings, targets=targets)
