"""`auditor demo`: a local PostgreSQL built like the reference design, with planted
weaknesses, scanned end to end so a newcomer sees every part of Auditor work in a minute."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from auditor.config import config_digest, parse_config
from auditor.formatters.base import RenderOptions, formatters
from auditor.gate import exit_code
from auditor.lab.cluster import Cluster, LabError, Variant
from auditor.model import Severity
from auditor.output import pick_formatters, write_outputs
from auditor.runner import run_scan

VARIANT_DIR = Path(__file__).parent / "lab" / "variants" / "demo"
PASSWORD_ENV = "AUDITOR_DEMO_PASSWORD"
# The demo cluster's own scanner password (it lives in the demo's seed.sql); not a secret.
DEMO_AUDITOR_PASSWORD = "demo-auditor-password"
SENSITIVE = ("users.email", "users.phone", "users.wallet_address")


class DemoError(Exception):
    pass


def demo_config_text(cluster: Cluster) -> str:
    assert cluster.certs is not None
    dsn = cluster.dsn("auditor", sslrootcert="ca.crt")
    app_dsn = f"postgresql://app@localhost:{cluster.port}/app?sslmode=require"
    columns = ", ".join(SENSITIVE)
    return (
        "# Written by `auditor demo`: the config that scanned the demo cluster.\n"
        "targets:\n"
        "  - name: demo-db\n"
        "    kind: postgres\n"
        f"    dsn: '{dsn}'\n"
        f"    password: {{env: {PASSWORD_ENV}}}\n"
        f"    sensitive_columns: [{columns}]\n"
        "    # how the application connects (linted, never used): not verify-full\n"
        f"    application_dsns: ['{app_dsn}']\n"
    )


def run_demo(output: Path, keep: bool, formats: tuple[str, ...], color: bool) -> int:
    names = formats or tuple(n for n in formatters() if n != "terminal")
    chosen = pick_formatters(names)
    output.mkdir(parents=True, exist_ok=True)
    click.echo("Starting a demo PostgreSQL cluster (TLS, scram, pgcrypto, access log)...", err=True)
    cluster = Cluster(Variant.from_dir(VARIANT_DIR))
    try:
        cluster.start()
    except LabError as exc:
        cluster.stop()
        raise DemoError(f"could not start the demo cluster: {exc}") from None
    try:
        assert cluster.certs is not None
        (output / "ca.crt").write_bytes(cluster.certs.ca_cert.read_bytes())
        text = demo_config_text(cluster)
        config_path = output / "auditor.yaml"
        config_path.write_text(text)
        os.environ[PASSWORD_ENV] = DEMO_AUDITOR_PASSWORD
        config = parse_config(text, str(config_path))
        click.echo(f"Scanning demo-db on localhost:{cluster.port} ...", err=True)
        results, _ = run_scan(config, output.resolve(), config_digest=config_digest(text))
        # The config and CA the scan used travel with the evidence, listed in its manifest.
        inputs = {"auditor.yaml": text.encode(), "ca.crt": (output / "ca.crt").read_bytes()}
        written = write_outputs(results, chosen, output, RenderOptions(), attachments=inputs)
        sys.stdout.write(
            formatters()["terminal"].render(results, RenderOptions(color=color)).decode()
        )
        click.echo("")
        click.echo(f"Config:  {config_path}")
        for path in written:
            click.echo(f"Wrote:   {path}")
        if keep:
            click.echo(
                f"Cluster kept running: data in {cluster.base}; connect with\n"
                f"  {PASSWORD_ENV}={DEMO_AUDITOR_PASSWORD} auditor scan -c {config_path}\n"
                f"Stop it with: pg_ctl -D {cluster.datadir} stop"
            )
        return exit_code(results, Severity.LOW)
    finally:
        if not keep:
            cluster.stop()
