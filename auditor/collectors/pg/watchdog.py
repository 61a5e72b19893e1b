"""A client-side bound on each statement: for a server (or a proxy in front of it) that stops
answering, which neither `statement_timeout` (the server's own) nor TCP keepalives (the
kernel still acknowledges) can notice."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import psycopg

# How long a cancel request may take before the socket is shut anyway.
CANCEL_TIMEOUT_SECONDS = 1.0


class StatementTimedOut(Exception):
    """The server did not answer in time; the watchdog closed the connection."""


class Watchdog:
    """One daemon thread per session that severs the connection when the statement in flight
    outlives its deadline. Severing from another thread is safe: it cancels through a separate
    connection and shuts the socket down (never closes the descriptor libpq still owns), so
    the waiting thread wakes with an error rather than a crash."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._fd = conn.pgconn.socket
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._stopped = False
        self.fired = False
        self._thread = threading.Thread(target=self._run, name="auditor-watchdog", daemon=True)
        self._thread.start()

    def arm(self, deadline: float) -> None:
        with self._cond:
            self._deadline = deadline
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                # Severed under the lock: close() takes it first, so a descriptor number
                # that libpq already released (and the OS may have reused) is never touched.
                self.fired = True
                self._deadline = None
                self._sever()
                return

    def _sever(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.cancel_safe(timeout=CANCEL_TIMEOUT_SECONDS)
        # A duplicate of libpq's descriptor: shutting it down ends the connection for both,
        # closing it leaves libpq's descriptor alone.
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self._fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
