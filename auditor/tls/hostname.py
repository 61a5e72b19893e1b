"""Does a certificate name the host a client connects to, as libpq's `verify-full` decides it?

libpq (PostgreSQL 14+) walks the subjectAltName entries: dNSName entries are compared to the
host (case-insensitive, `*.` wildcard for exactly one leftmost label), iPAddress entries to an
IP-literal host. The Common Name is consulted only when the certificate has no SAN entry of the
host's own type (DNS for names, IP for addresses).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class NameMatch:
    matches: bool
    detail: str


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def dns_name_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*."):
        return False
    # The wildcard stands for one whole, non-empty leftmost label, never for several.
    label, dot, rest = host.partition(".")
    return bool(label) and bool(dot) and rest == pattern[2:]


def match_host(
    host: str, san_dns: tuple[str, ...], san_ip: tuple[str, ...], common_name: str | None
) -> NameMatch:
    host_ip = _ip(host)
    for name in san_dns:
        if dns_name_matches(name, host):
            return NameMatch(True, f"subjectAltName DNS:{name} matches {host}")
    if host_ip is not None:
        for text in san_ip:
            if _ip(text) == host_ip:
                return NameMatch(True, f"subjectAltName IP:{text} matches {host}")
    own_type_present = bool(san_ip) if host_ip is not None else bool(san_dns)
    if not own_type_present and common_name and dns_name_matches(common_name, host):
        return NameMatch(True, f"CN={common_name} matches {host} (no SAN of its type)")
    named = [f"DNS:{n}" for n in san_dns] + [f"IP:{i}" for i in san_ip]
    if not own_type_present and common_name:
        named.append(f"CN={common_name}")
    listed = ", ".join(named) if named else "no names"
    return NameMatch(False, f"{host} is not named by the certificate (it names {listed})")
