"""`auditor report`, `auditor controls` and `auditor verify`: re-render saved results, browse
the framework mappings, and re-check a report folder's evidence manifest.

User errors are one line on stderr with exit code 2; `verify` exits 1 when the folder does
not match its manifest.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from auditor.signing_env import SIGN_KEY_ENV
from auditor.template_dir import TemplateDirError, check_template_dir, template_dir_option

if TYPE_CHECKING:  # the report modules load when a command runs, not at start-up
    from auditor.model import ScanResults

EXIT_MISMATCH = 1
EXIT_USAGE = 2
REPORT_FORMATS = ("html", "pdf", "sarif", "junit", "csv", "json")


def _fail(message: str) -> NoReturn:
    for line in message.split("\n"):  # a waivers file may have several problems
        click.echo(f"auditor: error: {line}", err=True)
    sys.exit(EXIT_USAGE)


def load_results(path: Path) -> ScanResults:
    """A saved results JSON, or a one-line error naming the file."""
    from auditor import history
    from auditor.formatters.json_results import ResultsFileError

    try:
        return history.load_results(path)
    except ResultsFileError as exc:
        _fail(str(exc))


@click.command("report")
@click.argument(
    "results_path", metavar="[RESULTS.json]", required=False, type=click.Path(path_type=Path)
)
@click.option(
    "--run", "run_id", metavar="RUN", help="Render a run of --history (its shards merged)."
)
@click.option(
    "--period",
    metavar="FROM..TO",
    help="Period evidence from --history, e.g. 2026-01-01..2026-12-31: per control the runs, "
    "pass rate, longest failing stretch, cadence gaps and trend (html, pdf, json).",
)
@click.option(
    "--cadence",
    type=click.Choice(["hourly", "daily", "weekly", "monthly"]),
    default="daily",
    show_default=True,
    help="With --period: how often runs are expected.",
)
@click.option(
    "--history",
    metavar="URL",
    envvar="AUDITOR_HISTORY",
    help="History store for --run / --period (default: history.db in the user's data folder).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(REPORT_FORMATS),
    default=("html",),
    show_default=True,
    help="Output format; repeat for several.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File (one format) or folder (several formats, plus results.json and the "
    "evidence manifest).",
)
@click.option(
    "--framework", help="Restrict control views to one framework id (see `auditor controls list`)."
)
@click.option("--title", help="Report title.")
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="YAML file of waivers and attestations to apply (judged as of the scan's date).",
)
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path),
    envvar=SIGN_KEY_ENV,
    metavar="KEY",
    help="Ed25519 private key: sign the new folder's file list (the results keep the scan's "
    f"own signature). Also ${SIGN_KEY_ENV}.",
)
@template_dir_option
@click.option(
    "--split-by",
    metavar="target|label:KEY",
    help="One report folder per target, or per value of a target label (e.g. label:env), "
    "with an index.html; needs -o FOLDER.",
)
def report_command(
    results_path: Path | None,
    run_id: str | None,
    period: str | None,
    cadence: str,
    history: str | None,
    formats: tuple[str, ...],
    output: Path | None,
    framework: str | None,
    title: str | None,
    waivers_path: Path | None,
    sign_key: Path | None,
    template_dir: Path | None,
    split_by: str | None,
) -> None:
    """Re-render saved results (a results file, or a run of the history store) without
    rescanning; or the period evidence of the history store."""
    from auditor.commands import period_report as stored
    from auditor.formatters.base import RenderOptions
    from auditor.frameworks import FrameworkError, get_framework
    from auditor.output import OutputError, pick_formatters, write_outputs
    from auditor.signing import SigningError, load_signer
    from auditor.split_report import SplitError, parse_split
    from auditor.waivers import WaiverError, apply_waivers, load_waivers, max_days_of, scan_day

    if sum(x is not None for x in (results_path, run_id, period)) != 1:
        _fail("give one of RESULTS.json, --run RUN or --period FROM..TO")
    if period is not None:
        stored.period_report(history, period, cadence, formats, output, framework, title)
        return
    try:
        signer = load_signer(sign_key) if sign_key is not None else None
        split = parse_split(split_by) if split_by is not None else None
    except (SigningError, SplitError) as exc:
        _fail(str(exc))
    if split is not None and (output is None or str(output) == "-"):
        _fail("--split-by writes one folder per group: give -o/--output FOLDER")
    if signer is not None and signer.warning:
        click.echo(f"auditor: warning: {signer.warning}", err=True)
    incomplete = None
    if run_id is not None:
        results, incomplete = stored.load_run(history, run_id)
    else:
        assert results_path is not None
        results = load_results(results_path)
    if waivers_path is not None:
        try:
            # Judged as the scan would have: its policy's limit, as of its date.
            loaded = load_waivers(waivers_path, max_days_of(results), scan_day(results))
            waived = apply_waivers(results, loaded)
        except WaiverError as exc:
            _fail(str(exc))
        if results.attestation is not None and waived != results:
            click.echo(
                "auditor: warning: the waivers change signed results: `auditor verify "
                "--public-key` will report them as changed (apply waivers at scan time to "
                "have them signed)",
                err=True,
            )
        results = waived
    if framework is not None:
        try:
            get_framework(framework)
        except FrameworkError as exc:
            _fail(str(exc))
    if template_dir is not None:
        try:
            template_dir = check_template_dir(template_dir)
        except TemplateDirError as exc:
            _fail(str(exc))
    options = RenderOptions(framework=framework, title=title, template_dir=template_dir)
    if split is not None:
        from auditor.split_report import labels_from_results_file, target_labels, write_split

        saved = labels_from_results_file(results_path) if results_path is not None else {}
        labels = target_labels(results, saved)
        try:
            written = write_split(
                results, split, labels, pick_formatters(formats), output, options, signer
            )
        except (SplitError, OutputError) as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror}")
        for path in written:
            click.echo(f"wrote {path}", err=True)
        if incomplete is not None:
            stored.exit_incomplete(incomplete)
        return
    try:
        written = write_outputs(results, pick_formatters(formats), output, options, signer=signer)
    except OutputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
    for path in written:
        click.echo(f"wrote {path}", err=True)
    if incomplete is not None:
        stored.exit_incomplete(incomplete)


@click.group("controls")
def controls_group() -> None:
    """Compliance frameworks and the checks that evidence each control."""


@controls_group.command("list")
@click.argument("framework_id", required=False, metavar="[FRAMEWORK]")
def controls_list(framework_id: str | None) -> None:
    """List the frameworks, or the controls of one framework."""
    from auditor.frameworks import FrameworkError, frameworks, get_framework

    try:
        if framework_id is None:
            for fw in frameworks().values():
                click.echo(f"{fw.id:16} {fw.label:22} {len(fw.controls):3} controls  {fw.title}")
            return
        fw = get_framework(framework_id)
    except FrameworkError as exc:
        _fail(str(exc))
    width = max(len(c.id) for c in fw.controls)
    for control in fw.controls:
        click.echo(f"{control.id:{width}}  {len(control.checks):2} checks  {control.title}")


@controls_group.command("show")
@click.argument("framework_id", metavar="FRAMEWORK")
@click.argument("control_id", metavar="ID")
def controls_show(framework_id: str, control_id: str) -> None:
    """Show one control: its requirement, the checks that evidence it, what stays manual."""
    from auditor.frameworks import FrameworkError, get_framework

    try:
        fw = get_framework(framework_id)
    except FrameworkError as exc:
        _fail(str(exc))
    control = fw.control(control_id)
    if control is None:
        _fail(
            f"framework {fw.id!r} has no control {control_id!r} "
            f"(see `auditor controls list {fw.id}`)"
        )
    click.echo(f"{fw.label} {control.id}\n  title:       {control.title}")
    click.echo("  checks:      " + (", ".join(control.checks) or "none (manual review only)"))
    if control.not_covered:
        click.echo(f"  not covered: {control.not_covered}")


@click.command("verify")
@click.argument("report_dir", metavar="REPORT_DIR", type=click.Path(path_type=Path))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PUB",
    help="Trusted Ed25519 public key (PEM, from `auditor keygen`); repeat to trust old and "
    "new keys while rotating.",
)
def verify_command(report_dir: Path, public_keys: tuple[Path, ...]) -> None:
    """Re-check a report folder against its evidence manifest and, with --public-key, the
    scan's signature. Exit 0 verified, 1 verification failed, 2 usage error."""
    from auditor.manifest import ManifestError, describe_signer, verify_report_dir
    from auditor.signing import SigningError, load_trusted_key

    try:
        trusted = [load_trusted_key(path) for path in public_keys]
    except SigningError as exc:
        _fail(str(exc))
    if not report_dir.is_dir():
        _fail(f"{report_dir}: not a folder")
    try:
        outcome = verify_report_dir(report_dir, trusted)
    except ManifestError as exc:
        click.echo(f"FAILED: {exc}")
        sys.exit(EXIT_MISMATCH)
    for problem in outcome.problems:
        click.echo(f"MISMATCH {problem}")
    for note in outcome.notes:
        click.echo(f"NOTE {note}")
    verdict = "OK" if outcome.ok else "FAILED"
    click.echo(
        f"{verdict}: {outcome.checked_files} files and {outcome.checked_evidence} "
        f"evidence blocks checked, {len(outcome.problems)} mismatches"
    )
    if not trusted:
        click.echo(
            "digests only (no --public-key): this detects accidental changes, not forgery — "
            "anyone can recompute these digests"
        )
    elif outcome.ok:
        click.echo(
            f"scan results signed by {describe_signer(outcome.scan_signed_by, trusted)}: "
            f"{outcome.run}"
        )
        if outcome.files_signed_by is not None:
            click.echo(f"file list signed by {describe_signer(outcome.files_signed_by, trusted)}")
    sys.exit(0 if outcome.ok else EXIT_MISMATCH)


commands: list[click.Command] = [report_command, controls_group, verify_command]
