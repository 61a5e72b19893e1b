"""The normalised pg_hba rule model, shared by the file parser and the live view.

Both sources are reduced to the same shape so the same checks give the same verdicts on the
same pg_hba.conf: addresses become canonical networks (`10.0.0.0/8`) or the keyword/host name
as written, options become sorted `name=value` strings with secrets masked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

TCP_TYPES = ("host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
CONNECTION_TYPES = ("local", *TCP_TYPES)

# Option values PostgreSQL keeps but that are credentials: never copied into facts.
SECRET_OPTIONS = frozenset({"ldapbindpasswd", "radiussecrets"})
MASK = "***"


def mask_option(option: str) -> str:
    """`name=value`, with the value masked when the option carries a credential."""
    name, sep, _ = option.partition("=")
    return f"{name}={MASK}" if sep and name.lower() in SECRET_OPTIONS else option


def _quoted(name: str) -> str:
    if name and not any(c in name for c in ' \t,"#'):
        return name
    return '"' + name.replace('"', '""') + '"'


class HbaRule(BaseModel):
    """One valid pg_hba record, wherever it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    type: str
    databases: tuple[str, ...]
    users: tuple[str, ...]
    address: str | None  # None for local rules
    method: str
    options: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def is_local(self) -> bool:
        return self.type == "local"

    def text(self) -> str:
        """The rule as one pg_hba line (options masked), for messages and evidence."""
        parts = [
            self.type,
            ",".join(map(_quoted, self.databases)),
            ",".join(map(_quoted, self.users)),
        ]
        if self.address is not None:
            parts.append(self.address)
        parts.append(self.method)
        parts.extend(self.options)
        return " ".join(parts)

    def evidence(self) -> dict[str, object]:
        return {"rule": self.text(), "location": self.location}


class HbaProblem(BaseModel):
    """A line PostgreSQL would refuse (so it refuses to load the whole file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    message: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class HbaRuleSet(BaseModel):
    """The rules in file order plus the problems found, and where they were read from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["pg_hba_file_rules", "file"]
    path: str
    rules: tuple[HbaRule, ...] = ()
    problems: tuple[HbaProblem, ...] = ()
