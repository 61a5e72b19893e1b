"""A TCP proxy in front of a real server that lets a client log in, then stops answering.

It forwards the startup packet and the authentication exchange (plaintext protocol), and the
moment the client sends anything else (its first query) it stops forwarding in both
directions while keeping both connections open: to the client, a server that accepted the
login and then hung (what a stopped backend, a full disk or a broken middlebox look like).
An SSLRequest is answered 'S' and then nothing, so a TLS handshake through it hangs too.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

SSL_REQUEST_CODE = 80877103
PASSWORD_MESSAGE = b"p"  # the client's messages during authentication (password, SASL)


class StallProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.stalled = threading.Event()  # set once a client's query was held back
        self._held: list[socket.socket] = []
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> StallProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self.listener.close()
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._held.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            first = _read_exact(client, 8)
            length, code = struct.unpack("!II", first)
            if length == 8 and code == SSL_REQUEST_CODE:
                client.sendall(b"S")
                return  # and never a byte more: the handshake hangs
            server = socket.create_connection(self.upstream)
            self._held.append(server)
            server.sendall(first + _read_exact(client, length - 8))
            stop = threading.Event()
            threading.Thread(target=self._pipe, args=(server, client, stop), daemon=True).start()
            while True:
                header = _read_exact(client, 5)
                kind, size = header[:1], struct.unpack("!I", header[1:])[0]
                body = _read_exact(client, size - 4)
                if kind != PASSWORD_MESSAGE:
                    stop.set()  # logged in; this is the first query: hold it and go silent
                    self.stalled.set()
                    return
                server.sendall(header + body)
        except OSError:
            return

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, stop: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                data = source.recv(65536)
                if not data or stop.is_set():
                    return
                sink.sendall(data)


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data
