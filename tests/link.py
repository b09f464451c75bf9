"""A network link for the distributed tests and benchmark: an asyncio TCP proxy that delays what
it forwards and counts round trips.

`Link(target_port, delay=0.005).start()` forwards `host`:`port` (a free port on 127.0.0.1 unless
given) to the target, holding every chunk `delay` seconds in each direction (a one-way latency,
in order, without a bandwidth limit): `tc netem` is missing from this kernel. Each connection
counts its round trips as the number of times the client starts sending after the server has
answered (or at first): a request sent in several TCP segments, or several requests pipelined
before any answer, are one round trip, as they cost one wait on the network. The loop runs in a
thread of its own; `stop()` closes the listener and every connection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Callable

from tests.services import free_port


@dataclass
class _Turns:
    """Whose turn it is on one connection, and how many times the client took it."""

    client_speaking: bool = False
    round_trips: int = 0

    def client_sent(self) -> None:
        if not self.client_speaking:
            self.client_speaking = True
            self.round_trips += 1

    def server_sent(self) -> None:
        self.client_speaking = False


class Link:
    """A delaying, counting TCP proxy to `target_host`:`target_port` (see the module docstring)."""

    def __init__(self, target_port: int, delay: float = 0.0, target_host: str = "127.0.0.1",
                 host: str = "127.0.0.1", port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.host, self.port = host, port or free_port()
        self._turns: list[_Turns] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()  # the pumps
        self._connections: set[asyncio.Task] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"link :{self.port}", daemon=True)

    def start(self) -> "Link":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connected, self.host, self.port), self._loop
        ).result(10)
        return self

    def round_trips(self) -> int:
        """Round trips made through the link so far, over all its connections."""
        return sum(t.round_trips for t in list(self._turns))

    def open_connections(self) -> int:
        """Connections the link still carries (one ends once either side has closed it and the
        other side has been told)."""
        return len(self._connections)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):  # the pumps: each connection then closes itself
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _connected(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        turns = _Turns()
        self._turns.append(turns)
        self._connections.add(asyncio.current_task())
        pumps = [
            asyncio.ensure_future(self._pump(client_in, server_out, turns.client_sent)),
            asyncio.ensure_future(self._pump(server_in, client_out, turns.server_sent)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
                self._tasks.discard(task)
            for writer in (client_out, server_out):
                writer.close()
            self._connections.discard(asyncio.current_task())

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: Callable[[], None]) -> None:
        """Forward `source` to `sink`, each chunk `delay` seconds after it arrived, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    sink.write_eof() if sink.can_write_eof() else None
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                sink.write(data)
                await sink.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await source.read(65536)
                if data:
                    seen()
                queue.put_nowait((time.monotonic() + self.delay, data))
                if not data:
                    break
            await delivering
        finally:
            delivering.cancel()


def round_trips_per_shard(links: dict[str, Link], run: Callable[[int], object], few: int = 4, many: int = 44
                          ) -> dict[str, float]:
    """Round trips per shard through each of `links` (name -> link): `run(n)` runs a sweep of
    n shards to its end; the difference between `many` and `few` shards, per shard, leaves out
    what a sweep costs once (its reduce, the worker's first connections) but not what each
    shard adds to it (the reduce reads every partial)."""
    counts = {}
    for n in (few, many):
        before = {name: link.round_trips() for name, link in links.items()}
        run(n)
        counts[n] = {name: link.round_trips() - before[name] for name, link in links.items()}
    return {name: (counts[many][name] - counts[few][name]) / (many - few) for name in links}
