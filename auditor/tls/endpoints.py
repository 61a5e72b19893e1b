"""Where libpq connects for a DSN: the server the TLS probe must judge.

The SQL session connects with libpq, so the probe follows libpq's rules rather than reading the
URL's netloc: query parameters override it (`?host=`, `?port=`, `?hostaddr=`), unset values
come from the environment (`PGHOST`, `PGPORT`, `PGHOSTADDR`) and then libpq's compiled
defaults, comma-separated host lists are tried in order, `hostaddr` is where the TCP connection
goes while `host` stays the name certificates are checked against, and a host that is a
directory (or empty) is a Unix socket, where TLS does not apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from psycopg import ProgrammingError, pq
from psycopg.conninfo import conninfo_to_dict

DEFAULT_PORT = 5432
# Said in the gap of a target scanned over a Unix socket (checks recognise it by these words).
NO_TLS_ON_SOCKETS = "where TLS does not apply"


class EndpointError(ValueError):
    """The DSN names hosts and ports libpq could not pair up (one line)."""


@dataclass(frozen=True)
class LibpqEndpoint:
    host: str  # the name libpq checks the certificate against (hostaddr when no host)
    port: int
    address: str | None = None  # hostaddr: where the TCP connection really goes
    socket_dir: str | None = None  # set for a Unix-socket attempt (no TLS there)
    # False when only hostaddr was given: libpq's verify-full then has no name to check and
    # refuses to connect ("host name must be specified for a verified SSL connection").
    host_named: bool = True

    @property
    def label(self) -> str:
        if self.socket_dir is not None:
            return f"Unix socket {self.socket_dir}/.s.PGSQL.{self.port}"
        via = f" (hostaddr {self.address})" if self.address and self.address != self.host else ""
        return f"{self.host}:{self.port}{via}"

    def socket_exists(self) -> bool:
        if self.socket_dir is None or self.socket_dir.startswith("@"):
            return False
        return Path(self.socket_dir, f".s.PGSQL.{self.port}").exists()


@cache
def _defaults() -> dict[str, tuple[str | None, str | None]]:
    """keyword -> (environment variable, compiled default), from libpq itself."""
    return {
        d.keyword.decode(): (
            d.envvar.decode() if d.envvar else None,
            d.compiled.decode() if d.compiled is not None else None,
        )
        for d in pq.Conninfo.get_defaults()
    }


def _value(params: dict[str, object], key: str) -> str:
    if key in params and params[key] is not None:
        return str(params[key])
    envvar, compiled = _defaults().get(key, (None, None))
    if envvar and (found := os.environ.get(envvar)) is not None:
        return found
    return compiled or ""


def _default_socket_dir() -> str:
    # libpq's compiled DEFAULT_PGSOCKET_DIR is not exposed; Debian's and most builds' value.
    return "/var/run/postgresql"


def selection_caveat(dsn: str) -> str | None:
    """Why, with several hosts, libpq may pick another than the first that answers (None when
    the first that answers is its choice)."""
    params: dict[str, object] = dict(conninfo_to_dict(dsn))
    said = []
    attrs = _value(params, "target_session_attrs")
    if attrs and attrs != "any":
        said.append(f"target_session_attrs={attrs}")
    if _value(params, "load_balance_hosts") == "random":
        said.append("load_balance_hosts=random")
    if not said:
        return None
    return (
        f"libpq also applies {' and '.join(said)}: the SQL session may use another of these "
        "hosts than the probed one"
    )


def libpq_endpoints(dsn: str) -> list[LibpqEndpoint]:
    """Every connection attempt libpq makes for `dsn`, in its order."""
    try:
        params: dict[str, object] = dict(conninfo_to_dict(dsn))
    except ProgrammingError as exc:
        raise EndpointError(f"libpq cannot parse the DSN: {exc}") from None
    hosts = _value(params, "host").split(",") if _value(params, "host") else []
    addresses = _value(params, "hostaddr").split(",") if _value(params, "hostaddr") else []
    ports = _value(params, "port").split(",") if _value(params, "port") else []
    if hosts and addresses and len(hosts) != len(addresses):
        raise EndpointError(
            f"{len(hosts)} host names but {len(addresses)} hostaddr values: libpq refuses that"
        )
    count = max(len(hosts), len(addresses), 1)
    if len(ports) > 1 and len(ports) != count:
        raise EndpointError(f"{len(ports)} ports for {count} hosts: libpq refuses that")
    if len(ports) <= 1:
        ports = (ports or [""]) * count
    found: list[LibpqEndpoint] = []
    for index in range(count):
        host = hosts[index].strip() if hosts else ""
        address = addresses[index].strip() if addresses else ""
        text = ports[index].strip()
        if text and not text.isdigit():
            raise EndpointError(f"port {text!r} is not a number")
        port = int(text) if text else DEFAULT_PORT
        if address:
            found.append(
                LibpqEndpoint(
                    host=host or address, port=port, address=address, host_named=bool(host)
                )
            )
        elif not host or host.startswith(("/", "@")):
            found.append(
                LibpqEndpoint(host=host, port=port, socket_dir=host or _default_socket_dir())
            )
        else:
            found.append(LibpqEndpoint(host=host, port=port))
    return found
