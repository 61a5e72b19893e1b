"""The `auditor` command line: a thin shell over the library.

Every user error is one line on stderr and exit code 2; tracebacks only with AUDITOR_DEBUG=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from auditor import __version__
from auditor.commands import extra_commands
from auditor.gate import EXIT_USAGE
from auditor.model import Severity
from auditor.signing_env import SIGN_KEY_ENV
from auditor.template_dir import check_template_dir, template_dir_option

if TYPE_CHECKING:  # `auditor --help` must stay fast: the heavy modules load in the commands
    from auditor.config import ScanConfig
    from auditor.facts import Facts
    from auditor.model import ScanResults
    from auditor.notify import Webhook
    from auditor.signing import Signer

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(message: str) -> str:
    """An error as one line with the redaction policy applied (it may quote a DSN)."""
    from auditor.redact import redact_text

    return " ".join(redact_text(message).split())


def fail_usage(message: str) -> NoReturn:
    """Exit 2 with each problem on its own line (a config error may list several)."""
    for line in message.split("\n"):
        click.echo(f"auditor: error: {_one_line(line)}", err=True)
    sys.exit(EXIT_USAGE)


def fail_usage_lines(problems: list[str]) -> None:
    """Every problem on its own line, then exit 2; nothing when there is none."""
    if not problems:
        return
    for problem in problems:
        click.echo(f"auditor: error: {_one_line(problem)}", err=True)
    sys.exit(EXIT_USAGE)


def _quick_config(
    dsn: str, password_env: str | None, columns: tuple[str, ...], name: str | None
) -> tuple[ScanConfig, str]:
    from auditor.config import keyword_dsn_to_url, parse_config

    if "://" not in dsn and "=" in dsn:  # libpq's key=value form, named like its URL
        with contextlib.suppress(ValueError):
            dsn = keyword_dsn_to_url(dsn)
    try:
        parts = urlsplit(dsn)
        default_name = f"{parts.hostname or 'db'}{parts.path or ''}".replace("/", "-")
    except ValueError:  # a malformed URL: validation below names the problem
        default_name = "db"
    target_name = name or default_name
    target: dict[str, Any] = {"name": target_name, "kind": "postgres", "dsn": dsn}
    if password_env:
        target["password"] = {"env": password_env}
    if columns:
        target["sensitive_columns"] = list(columns)
    text = json.dumps({"targets": [target]})  # JSON is YAML: one validation path
    return parse_config(text, "--dsn"), text


def _save_facts(folder: Path, bundles: list[Facts], signer: Signer | None = None) -> list[Path]:
    """One `<name>.facts.json` per target, the name made a safe file name first (a target
    called `../x` or `a/b` stays inside the folder); owner-readable only, written through a
    temporary file and a rename. Bundles are already redacted (Facts.add). With a signer each
    bundle carries its signature, checked by `auditor evaluate --public-key`."""
    from auditor.safe_files import ensure_folder, file_stems, write_file

    ensure_folder(folder, "--save-facts folder")
    # A cloud database scanned in-database too is one target with two bundles (one per kind).
    labels: list[str] = []
    for facts in bundles:
        name = facts.target.name
        labels.append(name if name not in labels else f"{name}.{facts.target.kind}")
    stems = file_stems(labels)
    written = []
    for facts, label in zip(bundles, labels, strict=True):
        path = folder / f"{stems[label]}.facts.json"
        document = facts.to_json()
        if signer is not None:
            from auditor.facts_signing import sign_facts

            document = sign_facts(document, signer)
        body = json.dumps(document, indent=2, sort_keys=True) + "\n"
        write_file(path, body.encode(), private=True)
        written.append(path)
    return written


def apply_waivers_file(results: ScanResults, path: Path | None, max_days: int) -> ScanResults:
    if path is None:
        return results
    from auditor import waivers

    try:
        return waivers.apply_waivers(results, waivers.load_waivers(path, max_days))
    except waivers.WaiverError as exc:
        fail_usage(str(exc))


def _webhook(value: str | None) -> Webhook | None:
    """The parsed --notify-webhook (checked before scanning); None without one."""
    if value is None:
        return None
    from auditor.notify import NotifyError, parse_webhook

    try:
        return parse_webhook(value)
    except NotifyError as exc:
        fail_usage(str(exc))


def _history_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """The opened history store (auditor.store), checked before anything is scanned."""
    if value is None:
        return None
    from auditor.store import HistoryDB, StoreError, StoreLocationError

    try:
        return HistoryDB.open(value)
    except (StoreError, StoreLocationError) as exc:
        fail_usage(str(exc))


def _against_baseline(
    base: ScanResults | None, results: ScanResults, label: str
) -> frozenset[tuple[str, str, str]]:
    """Print how this run compares with its baseline; return the baseline's failures."""
    from auditor.baseline import known_failures
    from auditor.diff import diff_results

    if base is None:
        click.echo(f"baseline: no {label}; every failure counts as new", err=True)
        return frozenset()
    known = known_failures(base)
    changes = diff_results(base, results)
    click.echo(f"against baseline {base.run_id[:8]}: {changes.headline()}", err=True)
    return known


R = TypeVar("R")


def _history_call(call: Callable[[], R]) -> R:
    """A history store operation; a store that fails mid-run is one line and exit 2."""
    from auditor.store import StoreError

    try:
        return call()
    except StoreError as exc:
        fail_usage(f"cannot use history: {exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
def main() -> None:
    """Prove that PostgreSQL personal data is encrypted in transit, in columns and at rest."""


def scan_output_options(func: F) -> F:
    func = click.option(
        "--format",
        "formats",
        envvar="AUDITOR_FORMAT",
        show_envvar=True,
        multiple=True,
        default=("terminal",),
        show_default=True,
        help="Output format; repeat for several (see `auditor formats`).",
    )(func)
    func = click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        envvar="AUDITOR_OUTPUT",
        show_envvar=True,
        help="File (one format) or folder (several formats).",
    )(func)
    func = click.option(
        "--framework",
        envvar="AUDITOR_FRAMEWORK",
        show_envvar=True,
        help="Restrict report control views to one framework; on `scan`, only checks "
        "mapped to it gate the exit code.",
    )(func)
    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Terminal: only the summary line and what failed.",
    )(func)
    func = click.option(
        "--failures-only",
        is_flag=True,
        help="Terminal: list only failures and errors (no pass, skip, manual, waived).",
    )(func)
    return func


@main.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    envvar="AUDITOR_CONFIG",
    show_envvar=True,
    type=click.Path(path_type=Path),
    help="YAML config with targets and policy.",
)
@click.option(
    "--dsn",
    help="Quick form: scan one PostgreSQL URL or libpq 'host=... dbname=...' string "
    "(password from libpq "
    "environment, e.g. PGPASSWORD, or --password-env).",
)
@click.option("--password-env", metavar="NAME", help="With --dsn: read the password from $NAME.")
@click.option(
    "--sensitive-column",
    "columns",
    multiple=True,
    metavar="TABLE.COLUMN",
    help="With --dsn: a column that must hold ciphertext (repeatable).",
)
@click.option("--name", help="With --dsn: the target's name in reports.")
@scan_output_options
@click.option(
    "--fail-on",
    envvar="AUDITOR_FAIL_ON",
    show_envvar=True,
    type=click.Choice([s.value for s in Severity]),
    default="low",
    show_default=True,
    help="Lowest failure severity that makes the exit code 1.",
)
@click.option(
    "--allow-errors",
    envvar="AUDITOR_ALLOW_ERRORS",
    show_envvar=True,
    is_flag=True,
    help="Exit 0 instead of 3 when a target or check could not be evaluated.",
)
@click.option(
    "--workers",
    envvar="AUDITOR_WORKERS",
    show_envvar=True,
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Targets scanned concurrently.",
)
@click.option(
    "--waivers",
    "waivers_path",
    envvar="AUDITOR_WAIVERS",
    show_envvar=True,
    type=click.Path(path_type=Path),
    help="YAML file of waivers and attestations.",
)
@click.option(
    "--check",
    "check_ids",
    multiple=True,
    metavar="PATTERN",
    help="Run only these checks: ids, families (transport) or globs (*.hba_*); repeatable. "
    "Only the facts they read are collected.",
)
@click.option(
    "--skip-check",
    "skip_ids",
    multiple=True,
    metavar="PATTERN",
    help="Leave out these checks (same patterns as --check); repeatable.",
)
@click.option(
    "--target",
    "target_names",
    multiple=True,
    envvar="AUDITOR_TARGET",
    show_envvar=True,
    metavar="NAME_OR_GLOB",
    help="Scan only targets with these names or globs (repeatable).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    envvar="AUDITOR_LABEL",
    show_envvar=True,
    metavar="KEY=VALUE",
    help="Scan only targets carrying every one of these labels (repeatable; value may be a glob).",
)
@click.option(
    "--exclude-target",
    "exclude_targets",
    multiple=True,
    envvar="AUDITOR_EXCLUDE_TARGET",
    metavar="GLOB",
    help="Leave out targets whose name matches (repeatable).",
)
@click.option(
    "--exclude-label",
    "exclude_labels",
    multiple=True,
    envvar="AUDITOR_EXCLUDE_LABEL",
    metavar="KEY=VALUE",
    help="Leave out targets carrying this label (repeatable).",
)
@click.option(
    "--save-facts",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Also save each target's evidence bundle (facts JSON) into DIR.",
)
@click.option(
    "--history",
    "history_store",
    envvar="AUDITOR_HISTORY",
    show_envvar=True,
    callback=_history_option,
    metavar="URL",
    help="Record this run in a history store and report what changed since the last "
    "comparable run: a SQLite file path, sqlite:///PATH, postgresql://… or 'default' "
    "(history.db in the user's data folder).",
)
@click.option(
    "--shard",
    metavar="K/N",
    envvar="AUDITOR_SHARD",
    help="Scan only shard K of N (1-based; a stable split by target name). Default: from "
    "JOB_COMPLETION_INDEX/JOB_COMPLETION_COUNT in a Kubernetes Indexed Job.",
)
@click.option(
    "--run-id",
    metavar="ID",
    envvar="AUDITOR_RUN_ID",
    help="Record under this run id (every shard of one run gives the same id).",
)
@click.option(
    "--baseline",
    metavar="last|RUN_ID|RESULTS.json",
    envvar="AUDITOR_BASELINE",
    help="Compare with a baseline: 'last' (the last comparable run in --history), a run id "
    "in --history, or a results file.",
)
@click.option(
    "--new-only",
    is_flag=True,
    envvar="AUDITOR_NEW_ONLY",
    help="With --baseline: exit 1 only for failures the baseline did not have.",
)
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path),
    envvar=SIGN_KEY_ENV,
    metavar="KEY",
    help=f"Ed25519 private key (`auditor keygen`): sign the results. Also ${SIGN_KEY_ENV}.",
)
@template_dir_option
@click.option(
    "--notify-webhook",
    envvar="AUDITOR_NOTIFY_WEBHOOK",
    show_envvar=True,
    metavar="URL",
    help="Post new failures (against --baseline, else the last run in --history, else all) "
    "to a Slack or Teams incoming webhook; a failed post is a warning.",
)
@click.option(
    "--split-by",
    metavar="target|label:KEY",
    help="Also write one report folder per target or per value of a target label, with an "
    "index.html, into -o FOLDER/by-GROUPING.",
)
def scan(
    config_path: Path | None,
    dsn: str | None,
    password_env: str | None,
    columns: tuple[str, ...],
    name: str | None,
    formats: tuple[str, ...],
    output: Path | None,
    framework: str | None,
    quiet: bool,
    failures_only: bool,
    fail_on: str,
    allow_errors: bool,
    workers: int,
    waivers_path: Path | None,
    check_ids: tuple[str, ...],
    skip_ids: tuple[str, ...],
    target_names: tuple[str, ...],
    labels: tuple[str, ...],
    exclude_targets: tuple[str, ...],
    exclude_labels: tuple[str, ...],
    save_facts: Path | None,
    history_store: Any,
    shard: str | None,
    run_id: str | None,
    baseline: str | None,
    new_only: bool,
    sign_key: Path | None,
    template_dir: Path | None,
    notify_webhook: str | None,
    split_by: str | None,
) -> None:
    """Scan the configured targets and report."""
    # The scan's modules load here, not at start-up (`auditor --help` stays fast).
    from auditor.baseline import BaselineError, parse_baseline
    from auditor.catalog import CatalogError, all_checks
    from auditor.config import ConfigError, config_digest, load_config
    from auditor.config_refs import config_locator, missing_references
    from auditor.formatters.base import RenderOptions
    from auditor.frameworks import FrameworkError, get_framework
    from auditor.gate import exit_code
    from auditor.manifest import attest_results
    from auditor.output import (
        OutputError,
        check_output_plan,
        pick_formatters,
        wants_color,
        write_outputs,
    )
    from auditor.progress import ScanProgress
    from auditor.runner import login_warnings, run_scan
    from auditor.safe_files import UnsafePathError, ensure_folder
    from auditor.selection import SelectionError, select_checks
    from auditor.shards import ShardError
    from auditor.signing import SigningError, load_signer
    from auditor.split_report import RUN_FOLDER, SplitError, split_plan
    from auditor.summary_line import summary_line
    from auditor.target_selection import TargetFilter, TargetSelectionError, select_config
    from auditor.target_sources import with_declarations_from
    from auditor.waivers import WaiverError, load_waivers

    if (config_path is None) == (dsn is None):
        fail_usage("give exactly one of -c/--config FILE or --dsn URL")
    if new_only and baseline is None:
        fail_usage("--new-only needs --baseline last|RESULTS.json")
    try:
        baseline_spec = parse_baseline(baseline, history_store) if baseline is not None else None
    except BaselineError as exc:
        fail_usage(str(exc))
    if dsn is None and (password_env or columns or name):
        fail_usage("--password-env, --sensitive-column and --name go with --dsn")
    if password_env is not None and password_env not in os.environ:
        fail_usage(f"--password-env {password_env}: environment variable {password_env} is not set")
    try:
        if config_path is not None:
            config = load_config(config_path)
            config_dir = config_path.resolve().parent
        else:
            assert dsn is not None
            config, _ = _quick_config(dsn, password_env, columns, name)
            config_dir = Path.cwd()
        # Only the selected targets need their secrets and count in the digest.
        whole, config = (
            config,
            select_config(
                config, TargetFilter(target_names, labels, exclude_targets, exclude_labels)
            ),
        )
        # A missing secret or file is a config error now, not a folder of errors later.
        where = config_locator(config_path) if config_path is not None else None
        scanned = {t.name for t in config.targets}
        fail_usage_lines(missing_references(whole, config_dir, where, only=scanned))
        digest = config_digest(config)  # over the redacted config: no secret in it
        chosen = pick_formatters(formats)
        if framework is not None:
            get_framework(framework)
        catalog = all_checks()
        if waivers_path is not None:  # a broken waivers file must not cost a scan
            load_waivers(waivers_path, config.policy.waiver_max_days)
        if template_dir is not None:
            template_dir = check_template_dir(template_dir)
        # Every path the run will write, checked before anything is scanned.
        check_output_plan(chosen, output)
        if save_facts is not None:
            ensure_folder(save_facts, "--save-facts folder")
        from auditor.scan_history import plan, shard_config

        scan_plan = plan(shard, run_id, os.environ)
        config = shard_config(config, scan_plan.shard)
        signer = load_signer(sign_key) if sign_key is not None else None
        webhook = _webhook(notify_webhook)
        split = split_plan(split_by, output)
    except (
        ConfigError,
        OutputError,
        CatalogError,
        FrameworkError,
        UnsafePathError,
        WaiverError,
        SigningError,
        ShardError,
        TargetSelectionError,
        SplitError,
    ) as exc:
        fail_usage(str(exc))
    if signer is not None and signer.warning:
        click.echo(f"auditor: warning: {signer.warning}", err=True)
    try:
        selected = select_checks(catalog, check_ids, skip_ids)
    except SelectionError as exc:
        fail_usage(str(exc))
    for warning in login_warnings(config):
        click.echo(f"auditor: warning: {warning}", err=True)
    from auditor.scan_history import record, with_run_id

    progress = ScanProgress([t.name for t in config.targets]) if sys.stderr.isatty() else None
    with progress or contextlib.nullcontext():
        results, bundles = run_scan(
            config,
            config_dir,
            workers=workers,
            progress=progress,
            config_digest=digest,
            check_ids=selected,
        )
    results = with_run_id(results, scan_plan.run_id)
    if config_path is not None:  # anchors for SARIF: the config line of each target
        results = with_declarations_from(results, config_path)
    results = apply_waivers_file(results, waivers_path, config.policy.waiver_max_days)
    if history_store is not None:  # each failure says since when it fails
        from auditor.store import with_lifecycle

        results = _history_call(lambda: with_lifecycle(results, history_store))
    results = attest_results(results, signer)
    facts_problem = None
    if save_facts is not None:
        try:
            _save_facts(save_facts, bundles, signer)
        except (UnsafePathError, OSError) as exc:  # the reports are still written below
            facts_problem = f"cannot save facts: {exc}"
    try:
        written = write_outputs(
            results,
            chosen,
            # With --split-by the whole run goes to OUT/run, beside the groups and the index.
            output / RUN_FOLDER if split is not None and output is not None else output,
            RenderOptions(
                framework=framework,
                color=wants_color(),
                quiet=quiet,
                failures_only=failures_only,
                template_dir=template_dir,
            ),
            signer=signer,
        )
    except (OutputError, OSError) as exc:
        fail_usage(str(exc))
    if split is not None and output is not None:
        from auditor.split_report import write_split_of_scan

        try:
            written += write_split_of_scan(
                results,
                split,
                config.targets,
                chosen,
                output,
                RenderOptions(framework=framework, template_dir=template_dir),
                signer,
            )
        except (SplitError, OSError) as exc:
            fail_usage(str(exc))
    for path in written:
        click.echo(f"wrote {path}", err=True)
    known: frozenset[tuple[str, str, str]] = frozenset()
    base: ScanResults | None = None
    if baseline_spec is not None:
        try:
            base = baseline_spec.resolve(results)
            known = _against_baseline(base, results, baseline_spec.label)
        except BaselineError as exc:
            fail_usage(str(exc))
    if webhook is not None:  # before history records this run as the latest
        from auditor.notify import notify_with_context

        notify_with_context(webhook, results, base, baseline_spec, history_store, click.echo)
    if history_store is not None:
        for line in _history_call(lambda: record(history_store, results, scan_plan.shard, bundles)):
            click.echo(line, err=True)
    if facts_problem is not None:
        fail_usage(facts_problem)
    from auditor.frameworks import framework_checks

    gating = framework_checks(framework) if framework is not None else None
    if framework is not None:
        click.echo(f"gate: only checks mapped to {framework} decide the exit code", err=True)
    code = exit_code(results, Severity(fail_on), allow_errors, known if new_only else (), gating)
    click.echo(summary_line(results, code), err=True)
    sys.exit(code)


@main.group()
def checks() -> None:
    """The check catalog."""


@checks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def checks_list(as_json: bool) -> None:
    """List every check with its id, default severity and title."""
    from auditor.check_index import CheckIndexError, check_rows

    try:
        listing = check_rows()  # cached: the check modules are not imported to list them
    except CheckIndexError as exc:
        fail_usage(str(exc))
    if as_json:
        rows = [
            {"id": c.id, "severity": c.severity, "title": c.title, "kinds": list(c.kinds)}
            for c in listing
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for check in listing:
        click.echo(f"{check.id:42} {check.severity:9} {check.title}")


@checks.command("show")
@click.argument("check_id")
def checks_show(check_id: str) -> None:
    """Show what one check verifies and why."""
    catalog = _catalog_or_exit()
    check = catalog.get(check_id)
    if check is None:
        fail_usage(f"unknown check id {check_id!r} (see `auditor checks list`)")
    from auditor.frameworks import controls_for

    click.echo(
        f"{check.id}\n  title:       {check.title}\n  severity:    "
        f"{check.severity.value}\n  applies to:  {', '.join(sorted(check.kinds))}\n"
        f"  rationale:   {check.rationale}\n  remediation: {check.remediation}"
    )
    controls = controls_for(check.id)
    if controls:
        click.echo("  controls:    " + ", ".join(f"{c.framework} {c.id}" for c in controls))


def _catalog_or_exit() -> dict[str, Any]:
    from auditor.catalog import CatalogError, all_checks

    try:
        return dict(all_checks())
    except CatalogError as exc:
        fail_usage(str(exc))


@main.command()
def formats() -> None:
    """List the output formats."""
    from auditor.formatters.base import formatters as available

    for fmt in available().values():
        click.echo(f"{fmt.name:10} {fmt.description}")


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("auditor-demo-report"),
    show_default=True,
    help="Folder for the config, results and reports.",
)
@click.option("--keep", is_flag=True, help="Leave the demo cluster running afterwards.")
@click.option("--format", "formats", multiple=True, help="Formats to write (default: all).")
def demo(output: Path, keep: bool, formats: tuple[str, ...]) -> None:
    """Start a local PostgreSQL built like the reference design, with planted weaknesses,
    scan it and write the reports."""
    from auditor.demo import DemoError, run_demo
    from auditor.output import OutputError, wants_color

    try:
        code = run_demo(output, keep=keep, formats=formats, color=wants_color())
    except (DemoError, OutputError) as exc:
        fail_usage(str(exc))
    except OSError as exc:  # e.g. an -o folder that cannot be made
        fail_usage(f"{exc.filename or output}: {exc.strerror}")
    sys.exit(code)


for _command in extra_commands():
    main.add_command(_command)


def _usage_line(exc: click.UsageError) -> str:
    """click's three-line usage error as one line that still says where help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "auditor"
    return f"{_one_line(exc.format_message()).rstrip('.')} (see `{command} --help`)"


def run() -> None:
    """Entry point that keeps tracebacks away from users unless AUDITOR_DEBUG is set.

    click runs in non-standalone mode so that its own usage errors are one line too, with
    the exit codes of the contract in auditor.gate (2 for any usage error)."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # `auditor` alone: the help, as click does
        click.echo(exc.format_message(), err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        click.echo(f"auditor: error: {_usage_line(exc)}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"auditor: error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("auditor: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        click.echo(
            f"auditor: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(set AUDITOR_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(EXIT_USAGE)
