"""Offline pg_hba audit: parses the `hba_file` named in the target config (relative to the
config file's folder) into the same rule model as the live `pg_hba_file_rules` view, so the
auth.hba_* checks judge a copy of the file when the server cannot be asked (no grant, no
network path, or an audit of a configuration before it is deployed)."""

from __future__ import annotations

from pathlib import Path

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.session import one_line
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.pghba.parser import parse_file
from auditor.pghba.rules import HbaRuleSet
from auditor.pghba.tokenizer import ReadFailed

SECTION = "hba_file"


class HbaFileFacts(FactSection):
    section = SECTION

    rules: HbaRuleSet


def resolve_hba_path(configured: str, config_dir: Path) -> Path:
    path = Path(configured).expanduser()
    return path if path.is_absolute() else config_dir / path


class HbaFileCollector(Collector):
    name = "hba_file"
    produces = frozenset({SECTION})
    # Before the live session: if the server turns out unreachable the file is still judged.
    order = 20

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        configured = getattr(ctx.target, "hba_file", None)
        if not configured:
            facts.mark_missing(
                SECTION, Gap(GapKind.SKIP, "no hba_file is configured for this target")
            )
            return None
        path = resolve_hba_path(configured, ctx.config_dir)
        try:
            facts.add(HbaFileFacts(rules=parse_file(path)))
        except ReadFailed as exc:
            facts.mark_missing(SECTION, Gap(GapKind.ERROR, f"cannot read hba_file {path}: {exc}"))
        except Exception as exc:  # a parser bug must not cost the target its other facts
            facts.mark_missing(
                SECTION,
                Gap(
                    GapKind.ERROR,
                    f"cannot parse hba_file {path}: {type(exc).__name__}: {one_line(str(exc))}",
                ),
            )
        return None
