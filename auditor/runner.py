"""Runs a scan: targets concurrently (bounded), collectors then checks per target, results
mapped to controls. Errors are values here: whatever goes wrong with one target or one check
becomes an `error` outcome with a one-line reason, and the other targets carry on."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import auditor.collectors as collectors_package
from auditor import __version__
from auditor.catalog import all_checks
from auditor.check_scope import applies_to
from auditor.checks.base import Check
from auditor.cloud_discovery import expand_discovery
from auditor.cloud_discovery.asset import asset_inventory, connect_details, scan_asset
from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.secret_text import dsn_secrets, scrub
from auditor.collectors.pg.session import one_line
from auditor.collectors.pg.session_settings import login_warning
from auditor.config import ConfigError, PostgresTarget, ScanConfig, Target
from auditor.discovery import package_modules, subclasses_in
from auditor.facts import NOT_COLLECTED, Facts, Gap, GapKind, MissingFacts, TargetContext
from auditor.frameworks import controls_for
from auditor.interpreter_tuning import scanning_settings
from auditor.inventory import run_metadata, target_labels, this_scanner
from auditor.model import Result, ScanResults, Status, TargetOutcome, TargetStatus
from auditor.secret_stores import fetched_once_per_run

Clock = Callable[[], dt.datetime]
Progress = Callable[[str, str], None]  # (target name, event) for progress displays


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def all_collectors() -> list[Collector]:
    found: list[type[Collector]] = []
    for module in package_modules(collectors_package, skip=("base", "pg")):
        found.extend(subclasses_in(module, Collector, "name"))
    return [cls() for cls in sorted(found, key=lambda c: (c.order, c.name))]


def target_context(target: Target, config: ScanConfig) -> TargetContext:
    return TargetContext(
        name=target.name,
        kind=target.kind,
        policy=config.policy,
        # Labels ride along with the options so a saved facts bundle keeps them.
        options={**target.context_options(), "labels": dict(getattr(target, "labels", {}))},
    )


def needed_sections(checks: Iterable[Check], kind: str) -> frozenset[str]:
    """The fact sections that the checks applying to a target of this kind read."""
    return frozenset().union(
        *(c.sections_read() | c.facets_read() for c in checks if kind in c.kinds)
    )


def evaluate(facts: Facts, checks: Iterable[Check]) -> list[Result]:
    """Run every applicable check over the facts; no exception escapes."""
    results: list[Result] = []
    for check in checks:
        if facts.target.kind not in check.kinds or not applies_to(check, facts):
            continue
        # Each check sees only the sections it declares, so a narrowed scan can trust that
        # what it did not collect is what no selected check reads.
        view = facts.scoped(check.sections_read())
        try:
            for section in check.requires:
                view.get(section)  # raises MissingFacts with the collector's reason
            results.extend(check.run(view))
        except MissingFacts as missing:
            status = Status.SKIP if missing.gap.kind is GapKind.SKIP else Status.ERROR
            results.append(check.result(facts, status, missing.gap.reason))
        except Exception as exc:  # a broken check is reported, never fatal
            reason = f"check failed: {type(exc).__name__}: {one_line(str(exc))}"
            results.append(check.errored(facts, reason))
    return results


@dataclass
class TargetRun:
    outcome: TargetOutcome
    results: list[Result]
    facts: Facts
    # Further fact bundles of the same asset (a cloud database's in-database scan).
    extra_facts: list[Facts] = field(default_factory=list)
    # A server target's databases (auditor/server_scan.py), each a run of its own.
    parts: tuple[TargetRun, ...] = ()

    def flattened(self) -> list[TargetRun]:
        return [self, *self.parts]


def scan_target(
    target: Target,
    config: ScanConfig,
    config_dir: Path,
    checks: list[Check],
    collectors: list[Collector],
    progress: Progress | None = None,
    narrowed: bool = False,
    deadline: float | None = None,
) -> TargetRun:
    needed = needed_sections(checks, target.kind) if narrowed else None
    facts = Facts(target=target_context(target, config), requested=needed)
    problem: TargetProblem | None = None
    try:
        password = target.resolve_password(config_dir)
    except ConfigError as exc:
        password = None
        problem = TargetProblem(TargetStatus.ERROR, str(exc))
    if problem is None:
        ctx = CollectContext(
            target=target,
            password=password,
            config_dir=config_dir,
            policy=config.policy,
            needed=needed,
            deadline=deadline,
        )
        for collector in collectors:
            if target.kind not in collector.kinds:
                continue
            if needed is not None:
                for section in collector.sections() - needed:
                    facts.mark_missing(section, Gap(GapKind.SKIP, NOT_COLLECTED))
                if collector.sections().isdisjoint(needed):
                    continue
            if progress:
                progress(target.name, f"collecting {collector.name}")
            try:
                found = collector.collect(ctx, facts)
            except Exception as exc:  # collectors should not raise; contain it if one does
                said = scrub(one_line(str(exc)), [password, *_inline_secrets(target)])
                found = TargetProblem(
                    TargetStatus.ERROR,
                    f"{collector.name} collector failed: {type(exc).__name__}: {said}",
                )
            problem = problem or found
    if problem is not None and not facts.sections:
        # Nothing at all was collected: every check says why, in the target's words.
        results = [
            check.errored(facts, f"target {problem.status.value}: {problem.reason}")
            for check in checks
            if target.kind in check.kinds
        ]
    else:
        if progress:
            progress(target.name, "evaluating")
        results = evaluate(facts, checks)
    outcome = TargetOutcome(
        name=target.name,
        kind=target.kind,
        status=problem.status if problem else TargetStatus.SCANNED,
        error=problem.reason if problem else None,
    )
    return TargetRun(outcome, results, facts)


def _timed_out(target: Target, checks: list[Check], config: ScanConfig) -> TargetRun:
    reason = f"timed out after {target.target_timeout_seconds:g} s"
    facts = Facts(target=target_context(target, config))
    results = [
        check.errored(facts, f"target error: {reason}")
        for check in checks
        if target.kind in check.kinds
    ]
    return TargetRun(
        TargetOutcome(target.name, target.kind, TargetStatus.ERROR, reason), results, facts
    )


def login_warnings(config: ScanConfig) -> list[str]:
    """One line per PostgreSQL target whose DSN lets the scanner's password travel in clear."""
    found = (login_warning(t) for t in config.targets if isinstance(t, PostgresTarget))
    return [w for w in found if w is not None]


def _inline_secrets(target: Target) -> list[str]:
    dsn = getattr(target, "dsn", None)
    return dsn_secrets(dsn) if isinstance(dsn, str) else []


class _Worker:
    """One daemon thread scanning targets off a shared queue. Daemon, so that a worker stuck
    in a call that ignores every timeout can never keep the process from exiting; a worker
    whose target ran over its budget is abandoned (its late answer is dropped) and replaced."""

    def __init__(
        self,
        todo: queue.Queue[Target],
        done: queue.Queue[tuple[_Worker, Target, TargetRun | Exception]],
        run_one: Callable[[Target, float], TargetRun],
    ) -> None:
        self.todo = todo
        self.done = done
        self.run_one = run_one
        self.current: tuple[Target, float] | None = None  # target and its deadline
        self.abandoned = False
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, name="auditor-target", daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                target = self.todo.get_nowait()
            except queue.Empty:
                return
            deadline = time.monotonic() + target.target_timeout_seconds
            with self.lock:
                self.current = (target, deadline)
            run: TargetRun | Exception
            try:
                run = self.run_one(target, deadline)
            except Exception as exc:  # handed to the main thread, which raises it
                run = exc
            with self.lock:
                if self.abandoned:
                    return
                self.current = None
            self.done.put((self, target, run))


def _run_targets(
    config: ScanConfig,
    workers: int,
    progress: Progress | None,
    checks: list[Check],
    run_one: Callable[[Target, float], TargetRun],
) -> dict[str, TargetRun]:
    """Every target's run, each within its own time budget (counted from when a worker took
    it, not from when it was queued)."""
    todo: queue.Queue[Target] = queue.Queue()
    for target in config.targets:
        todo.put(target)
    done: queue.Queue[tuple[_Worker, Target, TargetRun | Exception]] = queue.Queue()
    pool = [_Worker(todo, done, run_one) for _ in range(min(max(1, workers), todo.qsize()))]
    runs: dict[str, TargetRun] = {}
    while len(runs) < len(config.targets):
        try:
            _, target, run = done.get(timeout=0.25)
            if isinstance(run, Exception):
                raise run
            runs[target.name] = run
            if progress:
                progress(target.name, "done")
        except queue.Empty:
            pass
        now = time.monotonic()
        for worker in list(pool):
            with worker.lock:
                late = worker.current is not None and now > worker.current[1]
                if late:
                    assert worker.current is not None
                    target = worker.current[0]
                    worker.abandoned = True
            if late:
                runs[target.name] = _timed_out(target, checks, config)
                if progress:
                    progress(target.name, "timed out")
                pool.remove(worker)
                if not todo.empty():
                    pool.append(_Worker(todo, done, run_one))
    return runs


# A stored secret shared by many targets is fetched once in the scan (secret_stores), and
# the interpreter collects garbage less often and switches threads sooner while it scans
# (interpreter_tuning).
@fetched_once_per_run()
@scanning_settings()
def run_scan(
    config: ScanConfig,
    config_dir: Path,
    *,
    workers: int = 4,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    config_digest: str | None = None,
    check_ids: set[str] | None = None,
) -> tuple[ScanResults, list[Facts]]:
    started = clock()
    checks = [c for cid, c in all_checks().items() if check_ids is None or cid in check_ids]
    collectors = all_collectors()
    # Cloud discovery targets become the databases they find (auditor/cloud_discovery).
    expansion = expand_discovery(config, config_dir, workers, progress)
    config = expansion.config

    narrowed = check_ids is not None

    def run_one(target: Target, deadline: float) -> TargetRun:
        def part(one: Target) -> TargetRun:
            common = (config, config_dir, checks, collectors, progress)
            if isinstance(one, PostgresTarget) and one.scans_databases:
                from auditor.server_scan import scan_server

                return scan_server(one, *common, narrowed=narrowed, deadline=deadline)
            return scan_target(one, *common, narrowed=narrowed, deadline=deadline)

        if connect_details(target) is not None:  # a cloud database scanned in-database too
            return scan_asset(target, checks, part)  # type: ignore[no-any-return]
        return part(target)

    by_name = _run_targets(config, workers, progress, checks, run_one)
    runs = [part for t in config.targets for part in by_name[t.name].flattened()]
    findings = sorted(
        (replace(r, controls=controls_for(r.check_id)) for run in runs for r in run.results),
        key=lambda r: r.sort_key,
    )
    metadata = run_metadata(config.policy, this_scanner())
    results = ScanResults(
        run_id=str(uuid.uuid4()),
        started_at=iso(started),
        finished_at=iso(clock()),
        targets=tuple(
            replace(
                run.outcome,
                inventory=asset_inventory(run.facts, run.extra_facts),
                labels=target_labels(run.facts),
            )
            for run in runs
        )
        + tuple(expansion.outcomes),
        findings=tuple(findings),
        tool_version=__version__,
        config_digest=config_digest,
        scope=tuple(sorted(c.id for c in checks)),
        run_metadata=metadata,
    )
    bundles = [f for run in runs for f in (run.facts, *run.extra_facts)]
    for facts in bundles:  # so `auditor evaluate` can report when and by whom they were seen
        facts.collected = {
            "run_id": results.run_id,
            "started_at": results.started_at,
            "finished_at": results.finished_at,
            "config_digest": config_digest,
            "tool_version": __version__,
            "scanner": metadata["scanner"],
        }
    return results, bundles
