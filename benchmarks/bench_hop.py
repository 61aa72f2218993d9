"""What each proxy itself adds (run by hand): `uv run python benchmarks/bench_hop.py`.

bench_proxy.py measures what a participant's app sees through the official `openai` client, whose
own work (about 2 ms a call, 12 ms more for a 100-message history) is in every figure. Here the
client is a raw socket sending pre-encoded bodies, so what is left is the upstream (direct) and
each proxy's hop: first-token p50 and p99 over `--rounds` rounds of 1- and 100-message requests to
direct, the thin proxy and `hcc serve` in auto mode, in a shuffled order each round, and each
proxy's growth from 1 to 100 messages beyond direct's.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path

import bench_proxy as bp


class RawClient:
    """One keep-alive connection; a call is timed from the request's write to the first content."""

    def __init__(self, url: str) -> None:
        address, _, path = url.removeprefix("http://").partition("/")
        host, _, port = address.partition(":")
        self.path = f"/{path}/chat/completions"
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, body: bytes) -> float:
        head = (f"POST {self.path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {bp.KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        started, first, received = time.perf_counter(), None, b""
        self.sock.sendall(head + body)
        while not received.endswith(b"0\r\n\r\n"):  # the end of a chunked body
            piece = self.sock.recv(65536)
            if not piece:
                raise RuntimeError("the connection closed")
            received += piece
            if first is None and b"word0" in received:
                first = time.perf_counter()
        assert first is not None, "no content arrived"
        return (first - started) * 1000


def body(turns: int, index: int) -> bytes:
    return json.dumps({"model": "bench-model", "stream": True, "messages": bp.history(turns, index)}).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        processes: dict = {}
        processes["direct"], upstream = bp.start_upstream(0.0)
        targets = {"direct": upstream}
        processes["thin"], targets["thin"] = bp.start_thin_proxy(upstream)
        processes["hcc"], targets["hcc"] = bp.start_hcc(upstream, str(Path(root)))
        bp.LiveView(targets["hcc"])
        try:
            clients = {name: RawClient(url) for name, url in targets.items()}
            keys = [(name, turns) for name in targets for turns in (1, 100)]
            times: dict[tuple[str, int], list[float]] = {key: [] for key in keys}
            order = random.Random(15)
            for index in range(20 + args.rounds):
                order.shuffle(keys)
                for name, turns in keys:
                    ttft = clients[name].call(body(turns, index))
                    if index >= 20:  # the first rounds warm every path up
                        times[(name, turns)].append(ttft)
        finally:
            bp.stop(processes)
    p50 = {key: statistics.median(values) for key, values in times.items()}
    print(f"first token at a raw socket, {args.rounds} rounds (ms):")
    for name in targets:
        print(f"  {name:7s} 1 message p50 {p50[(name, 1)]:6.3f} p99 {bp.pct(times[(name, 1)], 0.99):6.3f}"
              f" | 100 messages p50 {p50[(name, 100)]:6.3f} p99 {bp.pct(times[(name, 100)], 0.99):6.3f}")
    direct_growth = p50[("direct", 100)] - p50[("direct", 1)]
    for name in ("thin", "hcc"):
        print(f"  {name}: adds {p50[(name, 1)] - p50[('direct', 1)]:.3f} ms to the first token; a 100-message "
              f"history adds {p50[(name, 100)] - p50[(name, 1)] - direct_growth:+.3f} ms beyond direct's growth")


if __name__ == "__main__":
    main()
