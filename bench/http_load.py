"""A small HTTP load generator for the benchmarks: N connections at once from one process.

asyncio with raw sockets costs the client far less CPU than a process per connection, which
matters on a 2-core machine where the client shares the cores with the server it measures.
Each request opens its own connection (``Connection: close``), as gunicorn's sync workers
answer anyway, so the time measured includes the connect, as a proxy in front would see it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, of the 200 answers
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Return the ``p``th percentile latency in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def _get(port: int, path: str, timeout: float) -> int:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)  # to EOF: the server closes
    finally:
        writer.close()
    return int(data.split(b" ", 2)[1])


async def _load(port: int, path: str, connections: int, total: int, timeout: float) -> Result:
    result = Result()
    left = total

    async def one_connection() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                status = await _get(port, path, timeout)
            except (OSError, TimeoutError, ValueError, IndexError):
                result.errors += 1
                continue
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                result.latencies.append(time.perf_counter() - started)
            else:
                result.errors += 1

    began = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    result.seconds = time.monotonic() - began
    return result


def load(port: int, path: str, connections: int, total: int, timeout: float = 30.0) -> Result:
    """GET ``path`` ``total`` times over ``connections`` concurrent connections."""
    return asyncio.run(_load(port, path, connections, total, timeout))
