"""What a rule set means for verdicts: which rules can still match (first match wins), for
which addresses, whether that reaches beyond loopback, and which roles a rule admits.

A later rule is cut down by every earlier rule that matches at least all of its connections
(type, databases, users): the addresses such an earlier rule covers are decided before the
later rule is reached, whatever the earlier rule's method. So `host all all 0.0.0.0/0 reject`
above `host all all 10.0.0.0/8 md5` leaves the md5 rule nothing to match. Coverage is judged
conservatively: when in doubt a rule is considered reachable.

Addresses are handled as integer spans (version, first, last) so that a file of thousands of
rules is analysed in well under a second; they become CIDR text again only for evidence.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from auditor.pghba.rules import HbaRule

Span = tuple[int, int, int]  # (IP version, first address, last address) as integers

_V4_ALL: Span = (4, 0, 2**32 - 1)
_V6_ALL: Span = (6, 0, 2**128 - 1)
_V4_LOOPBACK: Span = (
    4,
    int(ipaddress.IPv4Address("127.0.0.0")),
    int(ipaddress.IPv4Address("127.255.255.255")),
)
_V6_LOOPBACK: Span = (6, 1, 1)
# Address tokens that only ever match connections from the server's own machine.
LOCAL_HOST_TOKENS = frozenset({"samehost", "localhost"})

# Which kinds of connection each type matches: socket, or TCP with TLS, GSSAPI or neither.
_MATCHES: dict[str, frozenset[str]] = {
    "local": frozenset({"socket"}),
    "host": frozenset({"ssl", "gss", "plain"}),
    "hostssl": frozenset({"ssl"}),
    "hostnossl": frozenset({"gss", "plain"}),
    "hostgssenc": frozenset({"gss"}),
    "hostnogssenc": frozenset({"ssl", "plain"}),
}
UNENCRYPTED_TYPES = frozenset(t for t, kinds in _MATCHES.items() if "plain" in kinds)


def _is_loopback(span: Span) -> bool:
    loop = _V4_LOOPBACK if span[0] == 4 else _V6_LOOPBACK
    return loop[1] <= span[1] and span[2] <= loop[2]


def span_text(spans: Iterable[Span]) -> list[str]:
    """Spans as the fewest CIDR blocks, IPv4 first."""
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for version, lo, hi in sorted(spans):
        if version == 4:
            nets.extend(
                ipaddress.summarize_address_range(
                    ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi)
                )
            )
        else:
            nets.extend(
                ipaddress.summarize_address_range(
                    ipaddress.IPv6Address(lo), ipaddress.IPv6Address(hi)
                )
            )
    v4 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 4))
    v6 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 6))
    return [str(n) for n in v4 + v6]


@dataclass(frozen=True)
class Reach:
    """A rule and what is left for it after the rules above it have matched."""

    rule: HbaRule
    spans: tuple[Span, ...]  # IP space still reaching the rule (TCP rules)
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
        return any(not _is_loopback(s) for s in self.spans)

    @property
    def exposure(self) -> list[str]:
        """The non-loopback part of what still reaches the rule, as text for evidence."""
        remote = [s for s in self.spans if not _is_loopback(s)]
        return span_text(remote) + [n for n in self.names if n not in LOCAL_HOST_TOKENS]


@dataclass(frozen=True)
class _Shape:
    """A rule's matching dimensions, computed once per analysis."""

    local: bool
    kinds: frozenset[str]
    databases: frozenset[str]
    users: frozenset[str]
    spans: tuple[Span, ...]
    names: tuple[str, ...]
    full_v4: bool = False
    full_v6: bool = False


def _shape(rule: HbaRule) -> _Shape:
    spans: tuple[Span, ...] = ()
    names: tuple[str, ...] = ()
    if rule.address == "all":
        spans = (_V4_ALL, _V6_ALL)
    elif rule.address is not None:
        try:
            net = ipaddress.ip_network(rule.address, strict=False)
            spans = ((net.version, int(net.network_address), int(net.broadcast_address)),)
        except ValueError:
            names = (rule.address,)
    return _Shape(
        local=rule.is_local,
        kinds=_MATCHES.get(rule.type, frozenset()),
        databases=frozenset(rule.databases),
        users=frozenset(rule.users),
        spans=spans,
        names=names,
        full_v4=_V4_ALL in spans,
        full_v6=_V6_ALL in spans,
    )


def _prefix(version: int, lo: int, hi: int) -> int:
    """Prefix length of a CIDR block given as a span."""
    return (32 if version == 4 else 128) - (hi - lo + 1).bit_length() + 1


def _names_cover(earlier: frozenset[str], later: frozenset[str], databases: bool) -> bool:
    if "all" in earlier:
        # `all` never matches physical replication connections.
        return not (databases and "replication" in later)
    return later <= earlier


def _cut(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for version, lo, hi in spans:
        if version != cut[0] or cut[2] < lo or cut[1] > hi:
            out.append((version, lo, hi))
            continue
        if cut[1] > lo:
            out.append((version, lo, cut[1] - 1))
        if cut[2] < hi:
            out.append((version, cut[2] + 1, hi))
    return out


def _overlaps(spans: Sequence[Span], cuts: Sequence[Span]) -> bool:
    return any(v == c[0] and c[1] <= hi and lo <= c[2] for v, lo, hi in spans for c in cuts)


@dataclass
class HbaAnalysis:
    """First-match analysis of one rule list, optionally from one role's point of view."""

    rules: Sequence[HbaRule]
    memberships: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._shapes = [_shape(r) for r in self.rules]
        self._admits: dict[tuple[int, str], bool] = {}
        # Indexes so a rule is only compared with the earlier rules whose addresses can
        # overlap its own: CIDR blocks overlap only when one contains the other.
        self._blocks: dict[Span, list[int]] = {}  # (version, prefix length, first) -> rules
        self._starts: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
        self._by_name: dict[str, list[int]] = {}
        self._full: list[int] = []
        self._local: list[int] = []
        for i, shape in enumerate(self._shapes):
            if shape.local:
                self._local.append(i)
            if shape.full_v4 or shape.full_v6:
                self._full.append(i)
            for name in shape.names:
                self._by_name.setdefault(name, []).append(i)
            for version, lo, hi in shape.spans:
                self._blocks.setdefault((version, _prefix(version, lo, hi), lo), []).append(i)
                self._starts[version].append((lo, hi, i))
        for starts in self._starts.values():
            starts.sort()

    def _candidates(self, index: int) -> list[int]:
        """Earlier rules that could decide some of this rule's connections, in file order."""
        shape = self._shapes[index]
        if shape.local:
            return [i for i in self._local if i < index]
        if shape.full_v4 or shape.full_v6:
            return [i for i in range(index) if not self._shapes[i].local]
        found: set[int] = set()
        for version, lo, hi in shape.spans:
            bits = 32 if version == 4 else 128
            for p in range(_prefix(version, lo, hi) + 1):  # blocks containing this one
                first = (lo >> (bits - p)) << (bits - p) if p else 0
                found.update(self._blocks.get((version, p, first), ()))
            starts = self._starts[version]
            at = bisect.bisect_left(starts, (lo, -1, -1))
            while at < len(starts) and starts[at][0] <= hi:  # blocks inside this one
                if starts[at][1] <= hi:
                    found.add(starts[at][2])
                at += 1
        for name in shape.names:
            found.update(self._full)
            found.update(self._by_name.get(name, ()))
        return sorted(i for i in found if i < index)

    def admits(self, index: int, user: str) -> bool:
        key = (index, user)
        if key not in self._admits:
            self._admits[key] = admits_user(self.rules[index], user, self.memberships)
        return self._admits[key]

    def _covers(self, earlier: int, later: int, user: str | None) -> bool:
        e, rule = self._shapes[earlier], self._shapes[later]
        if e.local != rule.local or not rule.kinds <= e.kinds:
            return False
        if not _names_cover(e.databases, rule.databases, databases=True):
            return False
        if user is None:
            return _names_cover(e.users, rule.users, databases=False)
        return self.admits(earlier, user)

    def reach_of(self, index: int, user: str | None = None) -> Reach:
        rule, shape = self.rules[index], self._shapes[index]
        if user is not None and not self.admits(index, user):
            return Reach(rule, (), (), reachable=False)
        if shape.local:
            for earlier in self._candidates(index):
                if self._covers(earlier, index, user):
                    return Reach(
                        rule, (), (), reachable=False, shadowed_by=(self.rules[earlier].location,)
                    )
            return Reach(rule, (), (), reachable=True)
        spans, names = list(shape.spans), list(shape.names)
        cutters: list[str] = []
        full_v4 = full_v6 = False
        for earlier in self._candidates(index):
            if not spans and not names:
                break
            e = self._shapes[earlier]
            touches = _overlaps(spans, e.spans) or bool(
                names and (e.full_v4 or e.full_v6 or set(e.names) & set(names))
            )
            if not touches or not self._covers(earlier, index, user):
                continue
            before = (len(spans), list(names), list(spans))
            for cut in e.spans:
                spans = _cut(spans, cut)
            # A host name or samehost/samenet rule is only decided above once every address
            # of both families is (by one rule or several), or by the same token.
            full_v4, full_v6 = full_v4 or e.full_v4, full_v6 or e.full_v6
            names = [] if full_v4 and full_v6 else [n for n in names if n not in e.names]
            if (len(spans), names, spans) != before:
                cutters.append(self.rules[earlier].location)
        return Reach(
            rule,
            tuple(spans),
            tuple(names),
            reachable=bool(spans or names),
            shadowed_by=tuple(cutters),
        )

    def all(self, user: str | None = None) -> list[Reach]:
        return [self.reach_of(i, user) for i in range(len(self.rules))]


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
    return HbaAnalysis(list(rules), memberships or {}).all(user)


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
