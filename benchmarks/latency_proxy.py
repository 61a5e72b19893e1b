"""A TCP relay that adds a fixed one-way delay in each direction, as a network between the
scanner and its servers would (there is no netem on a shared test machine).

Each chunk read from one side is written to the other `delay` seconds after it arrived, in
order, so a request/answer exchange costs two delays (one round trip) on top of the work at
each end; bandwidth is not limited. Run in its own process, so that relaying does not compete
with the scanner for its interpreter lock:

    .venv/bin/python benchmarks/latency_proxy.py --delay-ms 5 LISTEN:UPSTREAM [...]

It prints `ready` once every listening port is open, and runs until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward what `reader` yields to `writer`, each chunk `delay` seconds after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while chunk := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, chunk))
        queue.put_nowait((time.monotonic() + delay, b""))

    async def write() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    with contextlib.suppress(OSError, ConnectionError):
        await asyncio.gather(read(), write())


async def _relay(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    upstream_port: int,
    delay: float,
) -> None:
    await asyncio.sleep(delay)  # the SYN's way there
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pipe(client_r, server_w, delay), _pipe(server_r, client_w, delay))
    finally:
        for w in (client_w, server_w):
            with contextlib.suppress(OSError):
                w.close()


_RUNNING: set[asyncio.Task[None]] = set()


async def _serve(pairs: list[tuple[int, int]], delay: float) -> None:
    servers = []
    for listen, upstream in pairs:

        async def handle(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, upstream: int = upstream
        ) -> None:
            # Held here until done: the stream protocol drops its reference to this task when
            # the client side closes, and a task nobody holds may be collected mid-relay.
            task = asyncio.current_task()
            if task is not None:
                _RUNNING.add(task)
                task.add_done_callback(_RUNNING.discard)
            await _relay(r, w, upstream, delay)

        servers.append(await asyncio.start_server(handle, "127.0.0.1", listen))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    parser.add_argument("pairs", nargs="+", metavar="LISTEN:UPSTREAM")
    args = parser.parse_args()
    pairs = [(int(a), int(b)) for a, b in (p.split(":") for p in args.pairs)]
    # Terminated by the benchmark when it is done: leave at once, connections and all.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(pairs, args.delay_ms / 1000))


if __name__ == "__main__":
    sys.exit(main())
