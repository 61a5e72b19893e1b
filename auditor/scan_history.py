"""What `auditor scan` does with a history store: open it before scanning (a store that
cannot be reached is a usage error before any target is touched), pick this process's
targets and run id when sharded, date each failure, and record the run afterwards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from auditor.config import ScanConfig
from auditor.diff import diff_results
from auditor.facts import Facts
from auditor.model import ScanResults
from auditor.shards import Shard, in_shard, run_id_from, shard_from

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only by scans that use a history
    from auditor.store.db import HistoryDB


@dataclass(frozen=True)
class ScanPlan:
    shard: Shard | None
    run_id: str | None


def plan(shard_value: str | None, run_id: str | None, env: Mapping[str, str]) -> ScanPlan:
    """ShardError for a bad --shard / --run-id / Job environment."""
    shard = shard_from(shard_value, env)
    return ScanPlan(shard, run_id_from(run_id, shard, env))


def shard_config(config: ScanConfig, shard: Shard | None) -> ScanConfig:
    """This shard's slice of the targets (possibly none: more shards than targets)."""
    if shard is None or shard.count == 1:
        return config
    mine = tuple(t for t in config.targets if in_shard(t.name, shard))
    return config.model_copy(update={"targets": mine})


def with_run_id(results: ScanResults, run_id: str | None) -> ScanResults:
    return results if run_id is None else replace(results, run_id=run_id)


def only_targets(results: ScanResults, names: set[str]) -> ScanResults:
    """A run narrowed to some targets: a shard compares itself with its own part of the
    previous run, not with every other shard's targets (which would all read as gone)."""
    return replace(
        results,
        targets=tuple(t for t in results.targets if t.name in names),
        findings=tuple(f for f in results.findings if f.target in names),
    )


def evidence_digests(bundles: Sequence[Facts]) -> dict[str, tuple[str, int]]:
    """SHA-256 and size of each target's evidence bundle, as `--save-facts` would write it."""
    out = {}
    for facts in bundles:
        body = (json.dumps(facts.to_json(), indent=2, sort_keys=True) + "\n").encode()
        out[facts.target.name] = (hashlib.sha256(body).hexdigest(), len(body))
    return out


def record(
    store: HistoryDB,
    results: ScanResults,
    shard: Shard | None,
    bundles: Sequence[Facts],
) -> list[str]:
    """Save the run; return the lines to print (what changed since the last comparable run)."""
    previous = store.latest_comparable(results)
    if previous is not None and shard is not None and shard.count > 1:
        previous = only_targets(previous, {t.name for t in results.targets})
    store.save(results, shard or Shard(), evidence_digests(bundles))
    lines = []
    if previous is not None:
        lines.append(
            f"since the last comparable run ({previous.run_id[:8]}): "
            + "\n".join(diff_results(previous, results).lines())
        )
    where = f" (shard {shard.index}/{shard.count})" if shard and shard.count > 1 else ""
    lines.append(f"history: run {results.run_id}{where} saved in {store.location.label}")
    return lines
