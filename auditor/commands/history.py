"""`auditor diff`: what changed between two scans.

Either two results files (`auditor diff OLD.json NEW.json`) or a history folder
(`auditor diff --history DIR [--from RUN] [--to RUN]`, by default its last two comparable
runs). Exit codes follow the scan's contract: 1 when the newer run has failures the older did
not, 3 when a failure of the older run could not be evaluated again (error, skip, target
unreachable), 2 for usage errors, else 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from auditor.gate import EXIT_USAGE

if TYPE_CHECKING:  # the history modules load when the command runs, not at start-up
    from auditor.model import ScanResults


def _fail(message: str) -> NoReturn:
    click.echo(f"auditor: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _from_history(
    folder: str, from_run: str | None, to_run: str | None
) -> tuple[ScanResults, ScanResults]:
    from auditor.diff import comparable
    from auditor.formatters.json_results import ResultsFileError
    from auditor.history import HistoryStore, history_folder, load_results

    store = HistoryStore(history_folder(folder))
    if not store.runs():
        raise ResultsFileError(f"{folder}: no runs in this history folder")
    to_path = store.find(to_run) if to_run else store.runs()[-1]
    new = load_results(to_path)
    if from_run:
        old = load_results(store.find(from_run))
        if not comparable(old, new):
            raise ResultsFileError(
                f"runs {old.run_id[:8]} and {new.run_id[:8]} share no check or no target"
            )
        return old, new
    found = store.latest_comparable(new, before=to_path)
    if found is None:
        raise ResultsFileError(f"{folder}: no earlier run comparable with {new.run_id[:8]}")
    return found[1], new


@click.command("diff")
@click.argument("old", required=False, type=click.Path(path_type=Path))
@click.argument("new", required=False, type=click.Path(path_type=Path))
@click.option(
    "--history",
    "history",
    metavar="DIR",
    envvar="AUDITOR_HISTORY",
    help="Compare runs kept in this history folder instead of two files.",
)
@click.option("--from", "from_run", metavar="RUN", help="With --history: the older run's id.")
@click.option("--to", "to_run", metavar="RUN", help="With --history: the newer run's id.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a list of {check_id, target, resource, before, after, change}.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def diff_command(
    old: Path | None,
    new: Path | None,
    history: str | None,
    from_run: str | None,
    to_run: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Compare two scans: new failures, fixed, still failing, not evaluated, new, gone.

    Exit 1 when NEW has failures OLD did not; 3 when a failure of OLD could not be evaluated
    in NEW; 0 otherwise."""
    from auditor.formatters.json_results import ResultsFileError
    from auditor.history import HistoryLocationError, diff_results, load_results

    try:
        if old is not None or new is not None:
            if old is None or new is None or from_run or to_run:
                _fail("give OLD and NEW results files, or --history DIR [--from RUN] [--to RUN]")
            assert old is not None and new is not None
            before, after = load_results(old), load_results(new)
        elif history is not None:
            before, after = _from_history(history, from_run, to_run)
        else:
            _fail("give OLD and NEW results files, or --history DIR")
    except (ResultsFileError, HistoryLocationError) as exc:
        _fail(str(exc))
    changes = diff_results(before, after)
    if as_json or fmt == "json":
        click.echo(json.dumps(changes.as_list(), indent=2))
    else:
        click.echo(
            f"{before.run_id[:8]} ({before.finished_at}) -> {after.run_id[:8]} "
            f"({after.finished_at}): {changes.scope_size} check(s) in the shared scope"
        )
        click.echo("\n".join(changes.lines()))
    sys.exit(changes.exit_code())


commands = [diff_command]
