"""Many waiting clients (run by hand): `uv run python benchmarks/bench_load.py [--clients 2000]
[--minutes 10]`.

N streaming clients ask at once and wait for M minutes with nothing but the server's keep-alive
comments on the line; then the operator answers every one (two pieces each, through the operator
API). Nobody may be lost (every stream ends with the answer meant for it and `[DONE]`) or
duplicated (the operator sees exactly N exchanges, one per question). The server is a real
`python -m human_chat_completions serve` subprocess with default settings; its resident memory is
sampled with psutil throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import TOKEN, free_port, start_server  # noqa: E402


@dataclass
class Client:
    index: int
    text: str = ""
    ids: set[str] = field(default_factory=set)
    keepalives: int = 0
    done: bool = False
    error: str | None = None


def raise_open_files_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def listen(http: httpx.AsyncClient, client: Client) -> None:
    body = {"model": "m", "stream": True,
            "messages": [{"role": "user", "content": f"client {client.index}"}]}
    try:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith(": keep-alive"):
                    client.keepalives += 1
                elif line == "data: [DONE]":
                    client.done = True
                elif line.startswith("data: "):
                    chunk = json.loads(line[6:])
                    client.ids.add(chunk["id"])
                    for choice in chunk["choices"]:
                        client.text += choice["delta"].get("content") or ""
    except Exception as error:  # noqa: BLE001 - counted and reported
        client.error = f"{type(error).__name__}: {error}"


async def run(base: str, server: psutil.Process, clients: int, hold: float) -> dict:
    mb = lambda value: round(value / 2**20, 1)  # noqa: E731
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    http = httpx.AsyncClient(base_url=base, limits=limits,
                             timeout=httpx.Timeout(connect=60, read=120, write=60, pool=120))
    operator = httpx.AsyncClient(base_url=base + "/operator/api", timeout=120,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    rss_idle = server.memory_info().rss
    people = [Client(i) for i in range(clients)]
    tasks = []
    started = time.monotonic()
    for start in range(0, clients, 100):  # a burst, not one SYN flood beyond the listen backlog
        tasks += [asyncio.create_task(listen(http, person)) for person in people[start:start + 100]]
        await asyncio.sleep(0.05)
    while True:
        waiting = (await operator.get("/exchanges", params={"state": "waiting"})).json()
        if len(waiting) >= clients or time.monotonic() - started > 300:
            break
        await asyncio.sleep(0.5)
    all_waiting_after = time.monotonic() - started
    print(f"{len(waiting)} of {clients} waiting after {all_waiting_after:.1f} s; "
          f"holding for {hold / 60:g} min", flush=True)
    server.cpu_percent()
    samples = []
    hold_until = time.monotonic() + hold
    while (left := hold_until - time.monotonic()) > 0:
        await asyncio.sleep(min(10.0, left))
        samples.append(server.memory_info().rss)
    cpu_waiting = server.cpu_percent()
    still_waiting = (await operator.get("/exchanges", params={"state": "waiting"})).json()
    semaphore = asyncio.Semaphore(50)

    async def answer(exchange: dict) -> None:
        async with semaphore:
            words = "answer to " + exchange["user_input"]
            for piece, done in ((words[:7], False), (words[7:], True)):
                response = await operator.post(f"/exchanges/{exchange['id']}/reply",
                                               json={"text": piece, "done": done})
                response.raise_for_status()

    answering = time.monotonic()
    await asyncio.gather(*(answer(exchange) for exchange in still_waiting))
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    answered_in = time.monotonic() - answering
    rss_after = server.memory_info().rss
    exchanges = (await operator.get("/exchanges")).json()
    await http.aclose()
    await operator.aclose()
    asked = [e["user_input"] for e in exchanges]
    correct = [p for p in people if p.done and not p.error and p.text == f"answer to client {p.index}"
               and len(p.ids) == 1]
    keepalives = sorted(p.keepalives for p in people)
    return {
        "clients": clients,
        "waiting at once": len(waiting),
        "still waiting after hold": len(still_waiting),
        "answered correctly": len(correct),
        "lost (error, no [DONE] or wrong text)": clients - len(correct),
        "exchanges seen by operator": len(exchanges),
        "duplicated questions": len(asked) - len(set(asked)),
        "errors (first)": next((p.error for p in people if p.error), None),
        "keep-alives per client min/median": f"{keepalives[0]}/{keepalives[len(keepalives) // 2]}",
        "seconds until all waiting": round(all_waiting_after, 1),
        "seconds to answer all": round(answered_in, 1),
        "server cpu % while waiting": round(cpu_waiting, 1),
        "rss idle MB": mb(rss_idle),
        "rss waiting MB (last sample)": mb(samples[-1]) if samples else None,
        "rss waiting max MB": mb(max(samples)) if samples else None,
        "rss after answering MB": mb(rss_after),
        "per waiting client KB": round((max(samples) - rss_idle) / clients / 1024, 1) if samples else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    limit = raise_open_files_limit(2 * args.clients + 1000)  # the server inherits it
    if limit < args.clients + 100:
        sys.exit(f"open files limit {limit} is too low for {args.clients} clients")
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        process = start_server(port, data_dir)
        try:
            result = asyncio.run(run(f"http://127.0.0.1:{port}", psutil.Process(process.pid),
                                     args.clients, args.minutes * 60))
        finally:
            process.terminate()
            process.wait(30)
    for key, value in result.items():
        print(f"  {key:<40} {value}")
    ok = (result["answered correctly"] == args.clients
          and result["exchanges seen by operator"] == args.clients
          and result["duplicated questions"] == 0)
    print("RESULT:", "success" if ok else "FAILURE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
