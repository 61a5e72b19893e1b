"""Start and stop real, throwaway PostgreSQL clusters (initdb + pg_ctl) on free ports.

A cluster is described by a variant folder: `postgresql.conf` (settings appended to the
generated file, so pg_settings points at real file:line), `pg_hba.conf` (used as is, below
one harness line for the superuser over the Unix socket) and `seed.sql` (run in database
`app`). When the process is root (CI), initdb and the server run as the `postgres` user,
because initdb refuses root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from auditor.lab.certs import DEFAULT_CERT, CertSpec, IssuedCerts, issue

ADMIN_USER = "postgres"
ADMIN_PASSWORD = "lab-admin-password"  # a throwaway cluster's own superuser, not a secret
APP_DB = "app"
HARNESS_HBA = "local all postgres scram-sha-256  # harness: superuser over the Unix socket\n"


class LabError(Exception):
    pass


def postgres_bindir() -> Path:
    """Where initdb/pg_ctl live: pg_config's bindir, else the newest Debian install."""
    candidates: list[Path] = []
    env = os.environ.get("AUDITOR_PG_BINDIR")
    if env:
        candidates.append(Path(env))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise LabError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them with "
        "'apt-get install postgresql-15 postgresql-contrib' or set AUDITOR_PG_BINDIR"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Variant:
    """A cluster recipe: settings, pg_hba rules, seed SQL and certificate shape."""

    name: str
    settings: str = ""
    hba: str = "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    seed_sql: str = ""
    tls: CertSpec | None = field(default_factory=CertSpec)

    @classmethod
    def from_dir(cls, folder: Path, tls: CertSpec | None = DEFAULT_CERT) -> Variant:
        def read(name: str, default: str = "") -> str:
            path = folder / name
            return path.read_text() if path.exists() else default

        return cls(
            name=folder.name,
            settings=read("postgresql.conf"),
            hba=read("pg_hba.conf", cls.hba),
            seed_sql=read("seed.sql"),
            tls=tls,
        )


class Cluster:
    """A running cluster. Use as a context manager, or call start()/stop()."""

    def __init__(self, variant: Variant, base_dir: Path | None = None) -> None:
        self.variant = variant
        self._own_base = base_dir is None
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="auditor-lab-"))
        self.datadir = self.base / "data"
        self.sockdir = self.base / "sock"
        self.logfile = self.base / "server.log"
        self.certdir = self.base / "certs"
        self.host = "127.0.0.1"
        self.port = 0
        self.certs: IssuedCerts | None = None
        self._bindir = postgres_bindir()
        self._as_postgres = os.geteuid() == 0
        self._running = False

    # -- process helpers ---------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        if self._as_postgres:
            return ["runuser", "-u", "postgres", "--", *args]
        return list(args)

    def _run(self, *args: str) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise LabError(f"{Path(args[0]).name} failed: {' | '.join(tail)}")

    def _give_to_server_user(self, *paths: Path) -> None:
        if not self._as_postgres:
            return
        pw = pwd.getpwnam("postgres")
        for path in paths:
            for root, dirs, files in os.walk(path):
                os.chown(root, pw.pw_uid, pw.pw_gid)
                for name in dirs + files:
                    os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Cluster:
        self.base.mkdir(parents=True, exist_ok=True)
        # The server user must be able to traverse every parent of its files.
        self.base.chmod(0o755)
        self.sockdir.mkdir(exist_ok=True)
        pwfile = self.base / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        self._give_to_server_user(self.base)
        pwfile.chmod(0o600)
        self._run(
            str(self._bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            ADMIN_USER,
            "--pwfile",
            str(pwfile),
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        self.port = free_port()
        self._write_config()
        self._give_to_server_user(self.base)
        try:
            self._run(
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "start",
            )
        except LabError as exc:
            log_tail = self.log_text().strip().splitlines()[-3:]
            raise LabError(f"{exc} (server log: {' | '.join(log_tail)})") from exc
        self._running = True
        self._seed()
        return self

    def _write_config(self) -> None:
        tls_settings = ""
        if self.variant.tls is not None:
            self.certs = issue(self.datadir / "tls", self.variant.tls)
            tls_settings = (
                "ssl = on\n"
                f"ssl_cert_file = '{self.certs.server_cert}'\n"
                f"ssl_key_file = '{self.certs.server_key}'\n"
            )
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# --- auditor lab harness ---\n"
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
                "shared_buffers = 32MB\nmax_connections = 40\n"
                f"{tls_settings}"
                f"\n# --- variant {self.variant.name} ---\n"
                f"{self.variant.settings}\n"
            )
        (self.datadir / "pg_hba.conf").write_text(HARNESS_HBA + self.variant.hba)

    def _seed(self) -> None:
        with self.admin_connection("postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{APP_DB}"')
        if self.variant.seed_sql.strip():
            with self.admin_connection() as conn:
                conn.execute(self.variant.seed_sql.encode())  # many statements, one batch
                conn.commit()

    def stop(self) -> None:
        if self._running:
            with contextlib.suppress(LabError):
                self._run(
                    str(self._bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
            self._running = False
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def reload(self) -> None:
        self._run(str(self._bindir / "pg_ctl"), "-D", str(self.datadir), "reload")

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access ------------------------------------------------------------------------------

    def admin_connection(self, dbname: str = APP_DB, **kw: Any) -> psycopg.Connection[Any]:
        """Superuser session over the Unix socket (for seeding and test setup only)."""
        return psycopg.connect(
            host=str(self.sockdir),
            port=self.port,
            user=ADMIN_USER,
            password=ADMIN_PASSWORD,
            dbname=dbname,
            **kw,
        )

    def dsn(self, user: str, dbname: str = APP_DB, **params: str) -> str:
        """A TCP DSN to this cluster (no password: pass it separately)."""
        query = {"sslmode": "verify-full", **params}
        if self.certs is not None and "sslrootcert" not in query:
            query["sslrootcert"] = str(self.certs.ca_cert)
        if self.variant.tls is None and query.get("sslmode") == "verify-full":
            query["sslmode"] = "prefer"
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://{user}@localhost:{self.port}/{dbname}?{qs}"

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def running(variant: Variant, base_dir: Path | None = None) -> Iterator[Cluster]:
    cluster = Cluster(variant, base_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
