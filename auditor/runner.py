"""Runs a scan: targets concurrently (bounded), collectors then checks per target, results
mapped to controls. Errors are values here: whatever goes wrong with one target or one check
becomes an `error` outcome with a one-line reason, and the other targets carry on."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import auditor.collectors as collectors_package
from auditor import __version__
from auditor.catalog import all_checks
from auditor.checks.base import Check
from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.session import one_line
from auditor.config import ConfigError, ScanConfig, Target
from auditor.discovery import package_modules, subclasses_in
from auditor.facts import Facts, GapKind, MissingFacts, TargetContext
from auditor.frameworks import controls_for
from auditor.inventory import run_metadata, target_inventory, this_scanner
from auditor.model import Result, ScanResults, Status, TargetOutcome, TargetStatus

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
        options=target.context_options(),
    )


def evaluate(facts: Facts, checks: Iterable[Check]) -> list[Result]:
    """Run every applicable check over the facts; no exception escapes."""
    results: list[Result] = []
    for check in checks:
        if facts.target.kind not in check.kinds:
            continue
        try:
            for section in check.requires:
                facts.get(section)  # raises MissingFacts with the collector's reason
            results.extend(check.run(facts))
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


def scan_target(
    target: Target,
    config: ScanConfig,
    config_dir: Path,
    checks: list[Check],
    collectors: list[Collector],
    progress: Progress | None = None,
) -> TargetRun:
    facts = Facts(target=target_context(target, config))
    problem: TargetProblem | None = None
    try:
        password = target.resolve_password(config_dir)
    except ConfigError as exc:
        password = None
        problem = TargetProblem(TargetStatus.ERROR, str(exc))
    if problem is None:
        ctx = CollectContext(
            target=target, password=password, config_dir=config_dir, policy=config.policy
        )
        for collector in collectors:
            if target.kind not in collector.kinds:
                continue
            if progress:
                progress(target.name, f"collecting {collector.name}")
            try:
                found = collector.collect(ctx, facts)
            except Exception as exc:  # collectors should not raise; contain it if one does
                found = TargetProblem(
                    TargetStatus.ERROR,
                    f"{collector.name} collector failed: {type(exc).__name__}: "
                    f"{one_line(str(exc))}",
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
    runs: dict[str, TargetRun] = {}
    began: dict[str, float] = {}  # when each target's worker really started (not queued)

    def timed(target: Target) -> TargetRun:
        began[target.name] = time.monotonic()
        return scan_target(target, config, config_dir, checks, collectors, progress)

    pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="auditor")
    try:
        pending = {pool.submit(timed, target): target for target in config.targets}
        while pending:
            done, _ = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
            now = time.monotonic()
            for future in done:
                target = pending.pop(future)
                runs[target.name] = future.result()
                if progress:
                    progress(target.name, "done")
            for future, target in list(pending.items()):
                start = began.get(target.name)
                if start is not None and now - start > target.target_timeout_seconds:
                    # The worker thread cannot be killed; its late answer is ignored.
                    del pending[future]
                    runs[target.name] = _timed_out(target, checks, config)
                    if progress:
                        progress(target.name, "timed out")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    findings = sorted(
        (
            replace(r, controls=controls_for(r.check_id))
            for run in runs.values()
            for r in run.results
        ),
        key=lambda r: r.sort_key,
    )
    metadata = run_metadata(config.policy, this_scanner())
    results = ScanResults(
        run_id=str(uuid.uuid4()),
        started_at=iso(started),
        finished_at=iso(clock()),
        targets=tuple(
            replace(runs[t.name].outcome, inventory=target_inventory(runs[t.name].facts))
            for t in config.targets
        ),
        findings=tuple(findings),
        tool_version=__version__,
        config_digest=config_digest,
        run_metadata=metadata,
    )
    bundles = [runs[t.name].facts for t in config.targets]
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
