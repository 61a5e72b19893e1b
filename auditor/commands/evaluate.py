"""`auditor evaluate BUNDLE.facts.json ...`: re-run the checks offline on saved evidence
bundles (from `auditor scan --save-facts DIR`), e.g. after a check was fixed or added."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from auditor.gate import EXIT_USAGE
from auditor.model import ScanResults, Severity, TargetOutcome, TargetStatus

if TYPE_CHECKING:  # the runner, checks and facts load when the command runs, not at start-up
    from auditor.facts import Facts
    from auditor.signing import TrustedKey


def _fail(message: str) -> NoReturn:
    from auditor.redact import redact_text

    click.echo(f"auditor: error: {' '.join(redact_text(message).split())}", err=True)
    sys.exit(EXIT_USAGE)


def _load(path: Path, trusted: list[TrustedKey] | None = None) -> tuple[Facts, str | None]:
    """A saved bundle and, with trusted keys, the id of the key that signed it; or exit 2
    with one line naming the file (never a traceback). With keys, an unsigned or altered
    bundle is refused before anything is judged."""
    from auditor.facts import Facts
    from auditor.facts_signing import verify_facts
    from auditor.signing import EnvelopeError

    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        _fail(f"{path}: no such facts bundle")
    except OSError as exc:
        _fail(f"{path}: cannot read facts bundle: {exc.strerror}")
    except UnicodeDecodeError as exc:
        _fail(f"{path}: facts bundle is not UTF-8 text (bad byte at offset {exc.start})")
    except json.JSONDecodeError as exc:
        _fail(f"{path}:{exc.lineno}: facts bundle is not valid JSON: {exc.msg}")
    except RecursionError:
        _fail(f"{path}: facts bundle nests too deeply")
    if not isinstance(data, dict):
        _fail(f"{path}: not an Auditor facts bundle (top level is not an object)")
    signed_by = None
    if trusted:
        try:
            signed_by = verify_facts(data, trusted).keyid
        except EnvelopeError as exc:
            _fail(f"{path}: facts bundle signature: {exc}")
    try:
        return Facts.from_json(data), signed_by
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        _fail(f"{path}: unreadable facts bundle: {type(exc).__name__}: {exc}")


def _outcome(facts: Facts) -> TargetOutcome:
    options = facts.target.options
    server = database = None
    if options.get("scope") == "database":  # a database of a server target names both
        server, database = options.get("server"), options.get("database")
    name, kind = facts.target.name, facts.target.kind
    if facts.sections:
        return TargetOutcome(name, kind, TargetStatus.SCANNED, server=server, database=database)
    reason = next(iter(facts.gaps.values())).reason if facts.gaps else "no facts in bundle"
    return TargetOutcome(name, kind, TargetStatus.ERROR, reason, server=server, database=database)


def observation(bundles: list[Facts]) -> dict[str, Any]:
    """When the facts were observed (not when they are evaluated): the span of the bundles'
    collection times, their config digest when they share one, and their scanner. Bundles
    saved before collection times were recorded fall back to now, and say so by having no
    run listed."""
    import auditor.runner as runner

    collected = [f.collected for f in bundles if f.collected.get("started_at")]
    now = runner.iso(dt.datetime.now(dt.UTC))
    digests = {c.get("config_digest") for c in collected}
    scanners = [c["scanner"] for c in collected if isinstance(c.get("scanner"), dict)]
    return {
        "started_at": min((str(c["started_at"]) for c in collected), default=now),
        "finished_at": max(
            (str(c.get("finished_at") or c["started_at"]) for c in collected), default=now
        ),
        "config_digest": digests.pop()
        if len(digests) == 1 and len(collected) == len(bundles)
        else None,
        "scanner": scanners[0] if scanners and all(s == scanners[0] for s in scanners) else None,
        "runs": sorted({str(c.get("run_id")) for c in collected}),
    }


@click.command("evaluate")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "formats", multiple=True, default=("terminal",), show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path))
@click.option(
    "--fail-on", type=click.Choice([s.value for s in Severity]), default="low", show_default=True
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PUB",
    help="Trusted Ed25519 public key: evaluate only bundles signed with it (scan "
    "--save-facts --sign-key); repeat to trust old and new keys while rotating.",
)
def evaluate_command(
    bundles: tuple[Path, ...],
    formats: tuple[str, ...],
    output: Path | None,
    fail_on: str,
    public_keys: tuple[Path, ...],
) -> None:
    """Evaluate saved facts bundles without touching any server."""
    import auditor.runner as runner
    from auditor import __version__
    from auditor.catalog import all_checks
    from auditor.collectors.postgres import session_collectors
    from auditor.formatters.base import RenderOptions
    from auditor.frameworks import controls_for
    from auditor.gate import exit_code
    from auditor.inventory import run_metadata, target_inventory, target_labels
    from auditor.output import (
        OutputError,
        check_output_plan,
        pick_formatters,
        wants_color,
        write_outputs,
    )
    from auditor.signing import SigningError, load_trusted_key

    try:
        chosen = pick_formatters(formats)
        check_output_plan(chosen, output)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    # Import every collector first so that all fact section models are known to the loader.
    runner.all_collectors()
    session_collectors()
    try:
        trusted = [load_trusted_key(path) for path in public_keys]
    except SigningError as exc:
        _fail(str(exc))
    opened = [_load(path, trusted) for path in bundles]
    loaded = [facts for facts, _ in opened]
    signers = sorted({keyid for _, keyid in opened if keyid is not None})
    checks = list(all_checks().values())
    observed = observation(loaded)
    findings = sorted(
        (
            replace(r, controls=controls_for(r.check_id))
            for facts in loaded
            for r in runner.evaluate(facts, checks)
        ),
        key=lambda r: r.sort_key,
    )
    results = ScanResults(
        run_id=str(uuid.uuid4()),
        started_at=observed["started_at"],
        finished_at=observed["finished_at"],
        targets=tuple(
            replace(_outcome(f), inventory=target_inventory(f), labels=target_labels(f))
            for f in loaded
        ),
        findings=tuple(findings),
        tool_version=__version__,
        scope=tuple(sorted(c.id for c in checks)),
        config_digest=observed["config_digest"],
        run_metadata={
            **run_metadata(loaded[0].target.policy, observed["scanner"]),
            "evaluated": {
                "at": runner.iso(dt.datetime.now(dt.UTC)),
                "from_runs": observed["runs"],
                # Checked against --public-key before judging: who signed the facts.
                **({"facts_signed_by": signers} if signers else {}),
            },
        },
    )
    try:
        write_outputs(results, chosen, output, RenderOptions(color=wants_color()))
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # a usage problem (exit 2), like every other bad -o
        _fail(f"{output}: cannot write: {exc.strerror}")
    sys.exit(exit_code(results, Severity(fail_on)))


commands = [evaluate_command]
