"""`auditor diff` and `auditor history list|show|prune|import`: what changed between two
scans, and the runs kept in a history store (auditor/store).

Diff: either two results files (`auditor diff OLD.json NEW.json`) or a history store
(`auditor diff --history URL [--from RUN] [--to RUN]`, by default its last two comparable
runs). Exit codes follow the scan's contract: 1 when the newer run has failures the older did
not, 3 when a failure of the older run could not be evaluated again (error, skip, target
unreachable), 2 for usage errors, else 0.

Without --history (or AUDITOR_HISTORY) these commands read the embedded default store,
history.db in the user's data folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from auditor.gate import EXIT_USAGE

if TYPE_CHECKING:  # the history modules load when a command runs, not at start-up
    from auditor.model import ScanResults

R = TypeVar("R")


def _fail(message: str) -> NoReturn:
    from auditor.redact import redact_text

    click.echo(f"auditor: error: {' '.join(redact_text(message).split())}", err=True)
    sys.exit(EXIT_USAGE)


def with_store(value: str | None, action: Callable[[Any], R]) -> R:
    """Run `action` on the opened store; any store problem is one line and exit 2."""
    from auditor.formatters.json_results import ResultsFileError
    from auditor.store import HistoryDB, StoreError, StoreLocationError

    try:
        with HistoryDB.open(value or "default") as store:
            return action(store)
    except (StoreError, StoreLocationError, ResultsFileError) as exc:
        _fail(str(exc))


def history_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--history",
        "history",
        metavar="URL",
        envvar="AUDITOR_HISTORY",
        show_envvar=True,
        help=help_text + " A SQLite file, sqlite:///PATH or postgresql://…; default: "
        "history.db in the user's data folder.",
    )


def _from_store(
    store: Any, from_run: str | None, to_run: str | None
) -> tuple[ScanResults, ScanResults]:
    from auditor.diff import comparable
    from auditor.formatters.json_results import ResultsFileError

    runs = store.runs()
    if not runs:
        raise ResultsFileError(f"history {store.location.label}: no runs recorded")
    new = store.load(store.find(to_run) if to_run else runs[-1].id)
    if from_run:
        old = store.load(store.find(from_run))
        if not comparable(old, new):
            raise ResultsFileError(
                f"runs {old.run_id[:8]} and {new.run_id[:8]} share no check or no target"
            )
        return old, new
    from auditor.store.db import parse_time

    found = store.latest_comparable(new, before=parse_time(new.started_at))
    if found is None:
        raise ResultsFileError(
            f"history {store.location.label}: no earlier run comparable with {new.run_id[:8]}"
        )
    return found, new


_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: machine-readable.",
)


@click.command("diff")
@click.argument("old", required=False, type=click.Path(path_type=Path))
@click.argument("new", required=False, type=click.Path(path_type=Path))
@history_option("Compare runs kept in this history store instead of two files.")
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
    from auditor.history import diff_results, load_results

    if old is not None or new is not None:
        if old is None or new is None or from_run or to_run:
            _fail("give OLD and NEW results files, or --history URL [--from RUN] [--to RUN]")
        try:
            before, after = load_results(old), load_results(new)
        except ResultsFileError as exc:
            _fail(str(exc))
    else:
        before, after = with_store(history, lambda s: _from_store(s, from_run, to_run))
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


@click.group("history")
def history_group() -> None:
    """Runs kept in a history store: list, show, prune, import."""


@history_group.command("list")
@history_option("The history store.")
@_FORMAT
def history_list(history: str | None, fmt: str) -> None:
    """List the recorded runs, oldest first."""
    runs = with_store(history, lambda s: s.runs())
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in runs], indent=2))
        return
    if not runs:
        click.echo("no runs recorded")
    for r in runs:
        shards = "" if r.shard_count == 1 else f"  shards {r.shards_recorded}/{r.shard_count}"
        click.echo(
            f"{r.id:38} {r.as_dict()['finished_at']}  {r.targets} target(s)  "
            f"{r.failures} failure(s){shards}"
        )


@history_group.command("show")
@click.argument("run", metavar="RUN")
@history_option("The history store.")
@_FORMAT
def history_show(run: str, history: str | None, fmt: str) -> None:
    """Show one run (full id or a unique prefix); --format json is its results document."""
    from auditor.formatters.json_results import results_to_dict

    results = with_store(history, lambda s: s.load(s.find(run)))
    if fmt == "json":
        click.echo(json.dumps(results_to_dict(results), indent=2))
        return
    from auditor.safe_text import display_text

    summary = results.summary()
    click.echo(f"run {results.run_id}: {results.started_at} .. {results.finished_at}")
    click.echo(
        f"  {summary['targets']} target(s), {summary['findings']} finding(s): "
        + ", ".join(f"{n} {k}" for k, n in summary["by_status"].items() if n)
    )
    for t in results.targets:
        error = f": {display_text(t.error)}" if t.error else ""
        click.echo(f"  target {display_text(t.name)}: {t.status.value}{error}")
    for f in results.findings:
        if f.status.value in ("fail", "waived"):
            where = display_text(f.target + (f" / {f.resource}" if f.resource else ""))
            age = ""
            if f.lifecycle:
                age = f" (since {f.lifecycle['first_seen']}, {f.lifecycle['age_days']} day(s))"
            click.echo(f"  {f.status.value:6} {f.check_id:40} {where}{age}")


@history_group.command("prune")
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    required=True,
    help="Delete runs that finished more than this many days ago.",
)
@history_option("The history store.")
def history_prune(keep_days: int, history: str | None) -> None:
    """Delete old runs (retention)."""
    removed = with_store(history, lambda s: s.prune(keep_days))
    click.echo(f"removed {removed} run(s) older than {keep_days} day(s)")


@history_group.command("import")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@history_option("The history store to import into.")
def history_import(folder: Path, history: str | None) -> None:
    """Import a folder of results files (`*.results.json`, the history format of earlier
    versions) into the store, oldest first; runs already in the store are left alone."""
    from auditor.formatters.json_results import ResultsFileError
    from auditor.history import HistoryStore, load_results

    if not folder.is_dir():
        _fail(f"{folder}: not a folder")
    paths = HistoryStore(folder).runs()
    if not paths:
        _fail(f"{folder}: no *.results.json files")
    try:
        loaded = sorted((load_results(p) for p in paths), key=lambda r: r.started_at)
    except ResultsFileError as exc:
        _fail(str(exc))

    def run(store: Any) -> int:
        from auditor.store import with_lifecycle

        known = {r.id for r in store.runs()}
        done = 0
        for results in loaded:
            if results.run_id not in known:
                store.save(with_lifecycle(results, store))
                known.add(results.run_id)
                done += 1
        return done

    done = with_store(history, run)
    click.echo(f"imported {done} run(s) of {len(loaded)} from {folder}")


commands = [diff_command, history_group]
