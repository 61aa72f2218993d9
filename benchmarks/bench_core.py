"""Core loop benchmark (run by hand): `uv run python benchmarks/bench_core.py`.

1. Reply latency: time from the operator API's reply call to the first content delta at an
   openai-python streaming client, p50/p99 over N exchanges.
2. Waiting clients: resident memory of the server with M streaming clients waiting at once,
   then all answered; every client must get its own answer.

The server runs as a real `hcc serve` subprocess on a loopback port with its own data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import openai
import psutil

TOKEN = "bench-token"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, data_dir: str) -> subprocess.Popen:
    env = {**os.environ, "HCC_CONFIG_DIR": data_dir + "/config"}
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port),
         "--data-dir", data_dir, "--operator-token", TOKEN],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def waiting_ids(operator: httpx.Client, count: int) -> list[str]:
    while True:
        found = [e["id"] for e in operator.get("/exchanges", params={"state": "waiting"}).json()]
        if len(found) >= count:
            return found
        time.sleep(0.005)


def bench_latency(base: str, operator: httpx.Client, rounds: int) -> list[float]:
    api = openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0)
    latencies = []
    for index in range(rounds):
        received = threading.Event()
        arrived: list[float] = []

        def read(index: int = index, arrived: list[float] = arrived,
                 received: threading.Event = received) -> None:
            stream = api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"q{index}"}], stream=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content and not arrived:
                    arrived.append(time.perf_counter())
                    received.set()

        reader = threading.Thread(target=read)
        reader.start()
        [exchange_id] = waiting_ids(operator, 1)
        started = time.perf_counter()
        operator.post(f"/exchanges/{exchange_id}/reply", json={"text": "answer", "done": True})
        received.wait(10)
        reader.join(10)
        latencies.append((arrived[0] - started) * 1000)
    api.close()
    return latencies


async def bench_waiting(base: str, server: psutil.Process, clients: int) -> dict:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(600, connect=60))
    api = openai.AsyncOpenAI(base_url=base + "/v1", api_key="k", http_client=http, max_retries=0)
    operator = httpx.AsyncClient(base_url=base + "/operator/api", timeout=120,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    rss_before = server.memory_info().rss

    async def ask(index: int) -> str:
        stream = await api.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"client {index}"}], stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    tasks = [asyncio.create_task(ask(i)) for i in range(clients)]
    while True:
        waiting = (await operator.get("/exchanges", params={"state": "waiting"})).json()
        if len(waiting) >= clients:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    rss_waiting = server.memory_info().rss
    cpu_before = sum(server.cpu_times()[:2])
    started = time.perf_counter()
    semaphore = asyncio.Semaphore(50)

    async def answer(exchange: dict) -> None:
        async with semaphore:
            await operator.post(f"/exchanges/{exchange['id']}/reply",
                                json={"text": "answer to " + exchange["user_input"], "done": True})

    await asyncio.gather(*(answer(e) for e in waiting))
    answers = await asyncio.gather(*tasks)
    answered_in = time.perf_counter() - started
    server_cpu = sum(server.cpu_times()[:2]) - cpu_before
    await http.aclose()
    await operator.aclose()
    correct = sum(a == f"answer to client {i}" for i, a in enumerate(answers))
    return {
        "clients": clients,
        "rss_before_mb": rss_before / 2**20,
        "rss_waiting_mb": rss_waiting / 2**20,
        "extra_mb": (rss_waiting - rss_before) / 2**20,
        "per_client_kb": (rss_waiting - rss_before) / clients / 1024,
        "answered_correctly": correct,
        "answer_all_seconds": answered_in,
        "server_cpu_seconds_while_answering": server_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        process = start_server(port, data_dir)
        try:
            operator = httpx.Client(base_url=base + "/operator/api",
                                    headers={"Authorization": f"Bearer {TOKEN}"})
            bench_latency(base, operator, 10)  # warm up
            latencies = bench_latency(base, operator, args.rounds)
            print(f"reply -> first content delta over {args.rounds} exchanges: "
                  f"p50 {statistics.median(latencies):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms, "
                  f"max {max(latencies):.2f} ms")
            operator.close()
            result = asyncio.run(bench_waiting(base, psutil.Process(process.pid), args.clients))
            print("waiting clients: " + ", ".join(
                f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()))
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
