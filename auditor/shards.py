"""`auditor scan --shard K/N`: scan one slice of the configured targets, so N processes (a
Kubernetes Indexed Job, N CI jobs) share an estate and write into one run of a central
history store.

* The slice is a stable partition by target name: target T belongs to shard
  1 + (SHA-256(T) mod N), whatever the order or number of other targets, so a target never
  moves between shards when the config grows.
* K is 1-based (1..N). Inside an Indexed Job, JOB_COMPLETION_INDEX (0-based) and
  JOB_COMPLETION_COUNT give K-1 and N when --shard is not given.
* All shards of one scheduled run share a run id: --run-id / AUDITOR_RUN_ID, or in an
  Indexed Job the Job's name (the pod's hostname is `<job name>-<index>`; a CronJob names
  each Job after its schedule time, so every scheduled run gets its own id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Which part of a run this process scans and writes: shard `index` (1-based) of `count`."""

    index: int = 1
    count: int = 1


class ShardError(Exception):
    """A --shard, --run-id or Job environment that cannot be used; one line."""


def parse_shard(value: str) -> Shard:
    match = _SHARD.match(value)
    if not match:
        raise ShardError(f"--shard {value!r}: expected K/N, e.g. 1/8 (K from 1 to N)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
        raise ShardError(f"--shard {value!r}: K must be between 1 and N (N at most {MAX_SHARDS})")
    return Shard(index, count)


def shard_from(value: str | None, env: Mapping[str, str]) -> Shard | None:
    """--shard, else the Indexed Job's environment, else None (scan everything)."""
    if value is not None:
        return parse_shard(value)
    index, count = env.get("JOB_COMPLETION_INDEX"), env.get("JOB_COMPLETION_COUNT")
    if index is None or count is None:
        return None
    if not (index.isdigit() and count.isdigit()):
        raise ShardError(
            f"JOB_COMPLETION_INDEX={index!r} / JOB_COMPLETION_COUNT={count!r}: not numbers"
        )
    return parse_shard(f"{int(index) + 1}/{count}")


def shard_of(target: str, count: int) -> int:
    """The 1-based shard a target name belongs to (stable across runs and machines)."""
    digest = hashlib.sha256(target.encode("utf-8", "surrogatepass")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def in_shard(target: str, shard: Shard) -> bool:
    return shard_of(target, shard.count) == shard.index


def check_run_id(value: str) -> str:
    if not _RUN_ID.match(value):
        raise ShardError(
            f"--run-id {value[:40]!r}: use 1-128 letters, digits, '.', '_', ':' or '-'"
        )
    return value


def run_id_from(value: str | None, shard: Shard | None, env: Mapping[str, str]) -> str | None:
    """The run id this process writes under; None: a fresh one (unsharded runs)."""
    if value is not None:
        return check_run_id(value)
    if shard is None or shard.count == 1:
        return None
    index, host = env.get("JOB_COMPLETION_INDEX"), env.get("HOSTNAME", "")
    if index is not None and host.endswith(f"-{index}") and len(host) > len(index) + 1:
        return check_run_id(host[: -len(index) - 1])
    raise ShardError(
        "--shard needs --run-id (or AUDITOR_RUN_ID), the same for every shard of the run, "
        "so the shards' results meet in one run"
    )
