"""pg_hba records -> rules: PostgreSQL's `parse_hba_line` checks, so that a line the server
would refuse becomes a problem with its file:line instead of a rule (and never an exception).

Normalisation matches what the server shows in `pg_hba_file_rules`: `ident` on a local socket
becomes `peer`, `cert` implies `clientcert=verify-full`, addresses with a netmask become CIDR
networks, options are sorted and credentials masked.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from auditor.pghba.rules import (
    CONNECTION_TYPES,
    HbaProblem,
    HbaRule,
    HbaRuleSet,
    mask_option,
)
from auditor.pghba.tokenizer import Reader, ReadFailed, Record, Token, Tokenizer, read_file

METHODS = frozenset(
    {
        "trust",
        "reject",
        "md5",
        "password",
        "scram-sha-256",
        "gss",
        "sspi",
        "ident",
        "peer",
        "pam",
        "ldap",
        "radius",
        "cert",
        "bsd",
    }
)
ADDRESS_KEYWORDS = frozenset({"all", "samehost", "samenet"})

# option name -> methods it is valid for (None: any method, checked separately)
_OPTION_METHODS: dict[str, frozenset[str] | None] = {
    "map": frozenset({"ident", "peer", "gss", "sspi", "cert"}),
    "clientcert": None,
    "clientname": None,
    "pamservice": frozenset({"pam"}),
    "pam_use_hostname": frozenset({"pam"}),
    "krb_realm": frozenset({"gss", "sspi"}),
    "include_realm": frozenset({"gss", "sspi"}),
    "compat_realm": frozenset({"sspi"}),
    "upn_username": frozenset({"sspi"}),
    **{
        name: frozenset({"ldap"})
        for name in (
            "ldapurl",
            "ldaptls",
            "ldapserver",
            "ldapport",
            "ldapbinddn",
            "ldapbindpasswd",
            "ldapsearchattribute",
            "ldapsearchfilter",
            "ldapbasedn",
            "ldapprefix",
            "ldapsuffix",
            "ldapscheme",
            "ldapscope",
        )
    },
    **{
        name: frozenset({"radius"})
        for name in (
            "radiusservers",
            "radiussecrets",
            "radiusidentifiers",
            "radiusports",
        )
    },
}
_METHOD_NAMES = {"gss": "gssapi"}


class LineError(Exception):
    """Why one record is not a valid rule (the server's wording where it has one)."""


def network_text(address: str, prefix: int) -> str:
    """Canonical CIDR text; host bits are dropped, as the server's address matching does."""
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def mask_prefix(mask: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """Prefix length of a netmask. A non-contiguous mask is widened to its leading ones,
    which can only over-state what the rule admits (the safe direction for an audit)."""
    bits, value, ones = mask.max_prefixlen, int(mask), 0
    while ones < bits and value & (1 << (bits - 1 - ones)):
        ones += 1
    return ones


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0] if ":" in text else text)
    except ValueError:
        return None


def _single(fld: list[Token], what: str) -> str:
    if len(fld) > 1:
        raise LineError(f"multiple values specified for {what}")
    return fld[0].value


def _address(fields: list[list[Token]], at: int) -> tuple[str, int]:
    """(canonical address, index of the method field)."""
    if at >= len(fields):
        raise LineError("end-of-line before IP address specification")
    token = _single(fields[at], "host address")
    if token in ADDRESS_KEYWORDS:
        return token, at + 1
    host, slash, cidr = token.partition("/")
    ip = _ip(host)
    if ip is None:
        if slash:
            raise LineError(f'specifying both host name and CIDR mask is invalid: "{token}"')
        return token, at + 1  # a host name (or a .domain suffix)
    if slash:
        if not cidr.isdigit() or int(cidr) > ip.max_prefixlen:
            raise LineError(f'invalid CIDR mask in address "{token}"')
        return network_text(str(ip), int(cidr)), at + 1
    if at + 1 >= len(fields):
        raise LineError("end-of-line before netmask specification")
    mask_token = _single(fields[at + 1], "netmask")
    mask = _ip(mask_token)
    if mask is None:
        raise LineError(f'invalid IP mask "{mask_token}": Name or service not known')
    if mask.version != ip.version:
        raise LineError("IP address and mask do not match")
    return network_text(str(ip), mask_prefix(mask)), at + 2


def _options(tokens: list[Token], conn_type: str, method: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for token in tokens:
        name, eq, value = token.value.partition("=")
        if not eq:
            raise LineError(f"authentication option not in name=value format: {token.value}")
        if name not in _OPTION_METHODS:
            raise LineError(f'unrecognized authentication option name: "{name}"')
        allowed = _OPTION_METHODS[name]
        if allowed is not None and method not in allowed:
            methods = ", ".join(_METHOD_NAMES.get(m, m) for m in sorted(allowed))
            if name == "map":
                methods = "ident, peer, gssapi, sspi, and cert"
            raise LineError(
                f'authentication option "{name}" is only valid for authentication methods {methods}'
            )
        if name in ("clientcert", "clientname") and conn_type != "hostssl":
            raise LineError(f'{name} can only be configured for "hostssl" rows')
        if name == "clientcert":
            if value not in ("verify-full", "verify-ca"):
                raise LineError(f'invalid value for clientcert: "{value}"')
            if method == "cert" and value != "verify-full":
                raise LineError(
                    'clientcert can only be set to "verify-full" when using "cert" authentication'
                )
        found[name] = value
    _method_requirements(method, found)
    # Defaults the server fills in and shows in pg_hba_file_rules.
    if method == "cert":
        found.setdefault("clientcert", "verify-full")
    if method in ("gss", "sspi"):
        found.setdefault("include_realm", "true")
    if method == "ldap" and ("ldapbasedn" in found or "ldapurl" in found):
        found.setdefault("ldapscope", "2")
    return tuple(sorted(mask_option(f"{k}={v}") for k, v in found.items()))


def _method_requirements(method: str, options: dict[str, str]) -> None:
    if method == "ldap":
        search = {
            "ldapbasedn",
            "ldapbinddn",
            "ldapbindpasswd",
            "ldapsearchattribute",
            "ldapsearchfilter",
            "ldapurl",
        } & options.keys()
        bind = {"ldapprefix", "ldapsuffix"} & options.keys()
        if search and bind:
            raise LineError(
                "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, "
                "ldapsearchfilter, or ldapurl together with ldapprefix"
            )
        if not ({"ldapbasedn", "ldapprefix", "ldapsuffix", "ldapurl"} & options.keys()):
            raise LineError(
                'authentication method "ldap" requires argument "ldapbasedn", '
                '"ldapprefix", or "ldapsuffix" to be set'
            )
        if not ({"ldapserver", "ldapurl"} & options.keys()):
            raise LineError('authentication method "ldap" requires argument "ldapserver" to be set')
    if method == "radius" and "radiusservers" not in options:
        raise LineError(
            'authentication method "radius" requires argument "radiusservers" to be set'
        )


def parse_record(record: Record) -> HbaRule:
    """One tokenized record -> a rule; raises LineError with the server's reason."""
    if record.error is not None:
        raise LineError(record.error)
    fields = record.fields
    conn_type = _single(fields[0], "connection type")
    if conn_type not in CONNECTION_TYPES:
        raise LineError(f'invalid connection type "{conn_type}"')
    if len(fields) < 2:
        raise LineError("end-of-line before database specification")
    if len(fields) < 3:
        raise LineError("end-of-line before role specification")
    address: str | None = None
    at = 3
    if conn_type != "local":
        address, at = _address(fields, 3)
    if at >= len(fields):
        raise LineError("end-of-line before authentication method")
    method = _single(fields[at], "authentication type")
    if conn_type == "local" and method == "ident":
        method = "peer"  # the server does the same: ident on a socket is peer
    if method not in METHODS:
        raise LineError(f'invalid authentication method "{method}"')
    if method == "peer" and conn_type != "local":
        raise LineError("peer authentication is only supported on local sockets")
    if method == "gss" and conn_type == "local":
        raise LineError("gssapi authentication is not supported on local sockets")
    if method == "cert" and conn_type != "hostssl":
        raise LineError("cert authentication is only supported on hostssl connections")
    options = _options([t for fld in fields[at + 1 :] for t in fld], conn_type, method)
    return HbaRule(
        file=record.file,
        line=record.line,
        type=conn_type,
        databases=tuple(t.value for t in fields[1]),
        users=tuple(t.value for t in fields[2]),
        address=address,
        method=method,
        options=options,
    )


def rules_from_records(records: list[Record], source_path: str) -> HbaRuleSet:
    rules: list[HbaRule] = []
    problems: list[HbaProblem] = []
    for record in records:
        try:
            rules.append(parse_record(record))
        except LineError as exc:
            problems.append(HbaProblem(file=record.file, line=record.line, message=str(exc)))
    return HbaRuleSet(source="file", path=source_path, rules=tuple(rules), problems=tuple(problems))


def parse_text(text: str, path: Path, reader: Reader = read_file) -> HbaRuleSet:
    """Parse pg_hba text as if it were the file `path` (includes resolve beside it)."""
    return rules_from_records(Tokenizer(reader).tokenize_text(text, path), str(path))


def parse_file(path: Path, reader: Reader = read_file) -> HbaRuleSet:
    """Parse a pg_hba file. Raises ReadFailed only when the file itself cannot be read."""
    return rules_from_records(Tokenizer(reader).tokenize_file(path), str(path))


__all__ = ["LineError", "ReadFailed", "parse_file", "parse_record", "parse_text"]
