"""What a rule set means for verdicts: which rules can still match (first match wins), for
which addresses, whether that reaches beyond loopback, and which roles a rule admits.

A later rule is cut down by every earlier rule that matches at least all of its connections
(type, databases, users): the addresses such an earlier rule covers are decided before the
later rule is reached, whatever the earlier rule's method. So `host all all 0.0.0.0/0 reject`
above `host all all 10.0.0.0/8 md5` leaves the md5 rule nothing to match. Coverage is judged
conservatively: when in doubt a rule is considered reachable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.pghba.rules import HbaRule

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALL_V4 = ipaddress.ip_network("0.0.0.0/0")
ALL_V6 = ipaddress.ip_network("::/0")
# Address tokens that only ever match connections from the server's own machine.
LOCAL_HOST_TOKENS = frozenset({"samehost", "localhost"})

# Which kinds of TCP connection each type matches: TLS, GSSAPI-encrypted, or plain.
_MATCHES: dict[str, frozenset[str]] = {
    "local": frozenset({"socket"}),
    "host": frozenset({"ssl", "gss", "plain"}),
    "hostssl": frozenset({"ssl"}),
    "hostnossl": frozenset({"gss", "plain"}),
    "hostgssenc": frozenset({"gss"}),
    "hostnogssenc": frozenset({"ssl", "plain"}),
}
UNENCRYPTED_TYPES = frozenset(t for t, kinds in _MATCHES.items() if "plain" in kinds)


@dataclass(frozen=True)
class Reach:
    """A rule and what is left for it after the rules above it have matched."""

    rule: HbaRule
    networks: tuple[Network, ...]  # IP space still reaching the rule (TCP rules)
    names: tuple[str, ...]  # host names / samehost / samenet still reaching it
    reachable: bool
    shadowed_by: tuple[str, ...] = ()  # locations of the earlier rules that cut it down

    @property
    def remote(self) -> bool:
        """Can connections from another machine still reach this rule?"""
        if not self.reachable or self.rule.is_local:
            return False
        if any(n not in LOCAL_HOST_TOKENS for n in self.names):
            return True
        return any(not is_loopback(net) for net in self.networks)

    @property
    def exposure(self) -> list[str]:
        """The non-loopback part of what still reaches the rule, as text for evidence."""
        remote = [net for net in self.networks if not is_loopback(net)]
        v4 = ipaddress.collapse_addresses(n for n in remote if n.version == 4)
        v6 = ipaddress.collapse_addresses(n for n in remote if n.version == 6)
        nets = [str(n) for n in sorted(v4)] + [str(n) for n in sorted(v6)]
        return nets + [n for n in self.names if n not in LOCAL_HOST_TOKENS]


def is_loopback(net: Network) -> bool:
    if isinstance(net, ipaddress.IPv4Network):
        return net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
    return net.subnet_of(ipaddress.IPv6Network("::1/128"))


def address_space(rule: HbaRule) -> tuple[list[Network], list[str]]:
    if rule.address is None:
        return [], []
    if rule.address == "all":
        return [ALL_V4, ALL_V6], []
    try:
        return [ipaddress.ip_network(rule.address, strict=False)], []
    except ValueError:
        return [], [rule.address]


def _type_covers(earlier: HbaRule, later: HbaRule) -> bool:
    return _MATCHES.get(later.type, frozenset()) <= _MATCHES.get(earlier.type, frozenset())


def _names_cover(earlier: Sequence[str], later: Sequence[str], databases: bool) -> bool:
    if "all" in earlier:
        # `all` never matches physical replication connections.
        return not (databases and "replication" in later)
    return set(later) <= set(earlier)


def covers_identity(earlier: HbaRule, later: HbaRule) -> bool:
    """Does `earlier` match every (type, database, user) that `later` matches?"""
    return (
        _type_covers(earlier, later)
        and _names_cover(earlier.databases, later.databases, databases=True)
        and _names_cover(earlier.users, later.users, databases=False)
    )


def _subtract(networks: list[Network], cut: Network) -> list[Network]:
    out: list[Network] = []
    for net in networks:
        if net.version != cut.version or not net.overlaps(cut):
            out.append(net)
        elif net.subnet_of(cut):  # type: ignore[arg-type]
            continue
        else:  # cut lies inside net: keep the rest
            out.extend(net.address_exclude(cut))  # type: ignore[arg-type]
    return out


def reach(
    rules: Iterable[HbaRule],
    user: str | None = None,
    memberships: dict[str, tuple[str, ...]] | None = None,
) -> list[Reach]:
    """Each rule with what still reaches it, in file order.

    With `user`, only that role's connections are considered: rules that do not admit it are
    unreachable, and every earlier rule that admits it counts as covering on the user axis
    (so `host all postgres 0.0.0.0/0 reject` protects postgres from a later `all` rule).
    """
    seen: list[HbaRule] = []
    out: list[Reach] = []
    groups = memberships or {}
    for rule in rules:
        if user is not None and not admits_user(rule, user, groups):
            out.append(Reach(rule, (), (), reachable=False))
            seen.append(rule)
            continue
        covering = [
            e
            for e in seen
            if e.is_local == rule.is_local
            and (
                covers_identity(e, rule)
                if user is None
                else _type_covers(e, rule)
                and _names_cover(e.databases, rule.databases, databases=True)
                and admits_user(e, user, groups)
            )
        ]
        if rule.is_local:
            out.append(
                Reach(
                    rule,
                    (),
                    (),
                    reachable=not covering,
                    shadowed_by=tuple(e.location for e in covering[:1]),
                )
            )
            seen.append(rule)
            continue
        networks, names = address_space(rule)
        cutters: list[str] = []
        full: set[Network] = set()
        for earlier in covering:
            cut_nets, cut_names = address_space(earlier)
            before = (list(networks), list(names))
            for cut in cut_nets:
                networks = _subtract(networks, cut)
            # A host name or samehost/samenet rule is only decided above once every address
            # of both families is (by one rule or several), or by the same token.
            full.update(n for n in cut_nets if n in (ALL_V4, ALL_V6))
            if len(full) == 2:
                names = []
            names = [n for n in names if n not in cut_names]
            if (networks, names) != before:
                cutters.append(earlier.location)
        out.append(
            Reach(
                rule,
                tuple(networks),
                tuple(names),
                reachable=bool(networks or names),
                shadowed_by=tuple(cutters),
            )
        )
        seen.append(rule)
    return out


# -- which roles a rule admits ----------------------------------------------------------------


def _member_of(role: str, group: str, memberships: dict[str, tuple[str, ...]]) -> bool:
    """Direct or indirect membership (a superuser is not implicitly a member, as in `+group`)."""
    pending, seen = [role], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        parents = memberships.get(current, ())
        if group in parents:
            return True
        pending.extend(parents)
    return False


def admits_user(rule: HbaRule, role: str, memberships: dict[str, tuple[str, ...]]) -> bool:
    for token in rule.users:
        if token == "all" or token == role:
            return True
        if token.startswith("+") and _member_of(role, token[1:], memberships):
            return True
        if token.startswith("/"):
            try:
                if re.search(token[1:], role):
                    return True
            except re.error:
                return True  # cannot judge the pattern: assume it matches
    return False
