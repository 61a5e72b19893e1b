"""The live view (`pg_hba_file_rules` rows, already read by the PostgreSQL collector) in the
same rule model the file parser produces, so checks cannot tell the two sources apart."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from auditor.collectors.pg.server import HbaRuleRow
from auditor.pghba.parser import mask_prefix, network_text
from auditor.pghba.rules import HbaProblem, HbaRule, HbaRuleSet, mask_option


def _address(row: HbaRuleRow) -> str | None:
    if row.address is None:
        return None
    if row.netmask is None:
        return row.address  # keyword (all, samehost, samenet) or host name
    mask = ipaddress.ip_address(row.netmask)
    return network_text(row.address, mask_prefix(mask))


def rules_from_view(rows: Iterable[HbaRuleRow], hba_file: str) -> HbaRuleSet:
    """`hba_file` names the file for servers (before 16) whose view has no file_name."""
    rules: list[HbaRule] = []
    problems: list[HbaProblem] = []
    for row in rows:
        file = row.file_name or hba_file
        line = row.line_number or 0
        if row.error is not None or row.type is None or row.auth_method is None:
            reason = row.error or "the server lists this line without describing it"
            problems.append(HbaProblem(file=file, line=line, message=reason))
            continue
        try:
            address = _address(row)
        except ValueError:
            problems.append(
                HbaProblem(file=file, line=line, message=f"unreadable address {row.address!r}")
            )
            continue
        rules.append(
            HbaRule(
                file=file,
                line=line,
                type=row.type,
                databases=row.database,
                users=row.user_name,
                address=address,
                method=row.auth_method,
                options=tuple(sorted(mask_option(o) for o in row.options)),
            )
        )
    return HbaRuleSet(
        source="pg_hba_file_rules", path=hba_file, rules=tuple(rules), problems=tuple(problems)
    )
