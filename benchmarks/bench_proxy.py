"""Auto mode as a proxy (run by hand): `uv run python benchmarks/bench_proxy.py [--litellm]`.

Time to first token and total time at an openai-python streaming client, calling an upstream
(`--tokens` chunks per answer, 50 by default) directly, through the thinnest honest proxy
(FastAPI + httpx relaying bytes), through `hcc serve` in auto mode, and through LiteLLM's proxy
with --litellm; interleaved in one run, 200 requests each, p50 and p99; once with a zero-latency
upstream and once with one that waits 300 ms before its first token. With the zero-latency
upstream also: a 100-message history, and `--clients` concurrent streaming clients for
`--seconds` per target (requests/s, tokens/s, the proxy's CPU per 1,000 tokens). Logging is on;
every target runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fakes.upstream import Behaviour, FakeUpstream
fake = FakeUpstream(Behaviour(first_token_delay={delay}, text={text!r})).start()
fake.port_file = None
print(fake.port, flush=True)
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str) -> None:
    for _ in range(600):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_upstream(delay: float, tokens: int = 50) -> tuple[subprocess.Popen, str]:
    """The fake upstream in its own process, answering `tokens` word-sized chunks."""
    text = " ".join(f"word{i}" for i in range(tokens))
    process = subprocess.Popen([sys.executable, "-c", UPSTREAM.format(root=str(ROOT), delay=delay,
                                                                      text=text)],
                               stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/v1"


THIN_PROXY = """
import sys, httpx, uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
upstream = {upstream!r}
app = FastAPI()
client = httpx.AsyncClient(timeout=60)

@app.post("/v1/chat/completions")
async def chat(request: Request):
    body = await request.body()
    upstream_request = client.build_request("POST", upstream + "/chat/completions", content=body,
                                            headers={{"content-type": "application/json"}})
    response = await client.send(upstream_request, stream=True)

    async def relay():
        try:
            async for piece in response.aiter_raw():
                yield piece
        finally:
            await response.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream")

uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def start_thin_proxy(upstream: str) -> tuple[subprocess.Popen, str]:
    """The thinnest honest proxy: FastAPI and httpx relaying the upstream's bytes, no logging."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", THIN_PROXY.format(upstream=upstream, port=port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/docs")
    return process, f"http://127.0.0.1:{port}/v1"


def start_hcc(upstream: str, root: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = Path(root) / "config"
    config.mkdir(exist_ok=True)
    (config / "settings.json").write_text(json.dumps({
        "default_mode": "auto",
        "profiles": [{"name": "bench", "base_url": upstream, "model": "bench-model"}],
    }))
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port),
         "--data-dir", str(Path(root) / "data"), "--operator-token", "bench"],
        env={**os.environ, "HCC_CONFIG_DIR": str(config)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/health")
    return process, f"http://127.0.0.1:{port}/v1"


def start_litellm(upstream: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        ["uvx", "--from", "litellm[proxy]", "litellm", "--model", "openai/bench-model",
         "--api_base", upstream, "--port", str(port), "--host", "127.0.0.1"],
        env={**os.environ, "OPENAI_API_KEY": "none", "LITELLM_MASTER_KEY": "sk-bench-master-key"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/health/liveliness")
    return process, f"http://127.0.0.1:{port}/v1"


def history(turns: int, index: int) -> list[dict[str, str]]:
    """A conversation of `turns` messages ending with the user's: longer histories cost more to
    match, log and forward."""
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} of request {index}"}
                for i in range(turns - 1)]
    return messages + [{"role": "user", "content": f"request {index}"}]


def one_call(client: openai.OpenAI, model: str, index: int, turns: int = 1) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(model=model, stream=True, messages=history(turns, index))
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(targets: dict[str, str], requests: int, turns: int = 1) -> dict[str, dict[str, list[float]]]:
    clients = {name: openai.OpenAI(base_url=url, api_key="sk-bench-master-key", max_retries=0)
               for name, url in targets.items()}
    results = {name: {"ttft": [], "total": []} for name in targets}
    for index in range(10):  # warm up every path
        for client in clients.values():
            one_call(client, "bench-model", index)
    for index in range(requests):
        for name, client in clients.items():  # interleaved, so noise hits all alike
            ttft, total = one_call(client, "bench-model", index, turns)
            results[name]["ttft"].append(ttft)
            results[name]["total"].append(total)
    return results


def report(title: str, results: dict[str, dict[str, list[float]]]) -> None:
    direct = results["direct"]
    print(title)
    for name, values in results.items():
        line = (f"  {name:8s} TTFT p50 {statistics.median(values['ttft']):7.2f} ms "
                f"p99 {pct(values['ttft'], 0.99):7.2f} ms | total p50 "
                f"{statistics.median(values['total']):7.2f} ms p99 {pct(values['total'], 0.99):7.2f} ms")
        if name != "direct":
            ratio = statistics.median(values["ttft"]) / statistics.median(direct["ttft"])
            added = statistics.median(values["ttft"]) - statistics.median(direct["ttft"])
            line += f" | TTFT x{ratio:.2f} (+{added:.1f} ms, +{100 * added / statistics.median(direct['ttft']):.1f} %)"
        print(line)


def calls_for(url: str, clients: int, seconds: float) -> int:
    """How many streaming calls `clients` threads complete against `url` in `seconds`."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def worker(slot: int) -> None:
        client = openai.OpenAI(base_url=url, api_key="sk-bench-master-key", max_retries=0)
        while time.monotonic() < stop:
            one_call(client, "bench-model", counts[slot])
            counts[slot] += 1

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def load(targets: dict[str, str], processes: dict[str, subprocess.Popen], clients: int,
         seconds: float, tokens: int) -> None:
    """`clients` streaming clients for `seconds` against each target in turn: requests/s, tokens/s
    delivered, and the proxy process's CPU per 1,000 tokens."""
    import psutil

    print(f"{clients} concurrent streaming clients, {seconds:g} s each:")
    for name, url in targets.items():
        process = psutil.Process(processes[name].pid) if name in processes and name != "upstream" else None
        before = sum(process.cpu_times()[:2]) if process else 0.0
        started = time.monotonic()
        calls = calls_for(url, clients, seconds)
        elapsed = time.monotonic() - started
        line = f"  {name:8s} {calls / elapsed:7.1f} requests/s {calls * tokens / elapsed:9.0f} tokens/s"
        if process:
            used = sum(process.cpu_times()[:2]) - before
            line += f" | CPU {1000 * used / max(1, calls * tokens / 1000):6.1f} ms per 1,000 tokens"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--litellm", action="store_true")
    parser.add_argument("--tokens", type=int, default=50, help="chunks in each upstream answer")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients in the load scenario")
    parser.add_argument("--seconds", type=float, default=30, help="length of the load scenario per target")
    args = parser.parse_args()
    for delay in (0.0, 0.3):
        processes: dict[str, subprocess.Popen] = {}
        with tempfile.TemporaryDirectory() as root:
            try:
                processes["upstream"], upstream = start_upstream(delay, args.tokens)
                processes["thin"], thin = start_thin_proxy(upstream)
                processes["hcc"], hcc = start_hcc(upstream, root)
                targets = {"direct": upstream, "thin": thin, "hcc": hcc}
                if args.litellm:
                    processes["litellm"], targets["litellm"] = start_litellm(upstream)
                report(f"upstream first-token delay {delay * 1000:.0f} ms, {args.tokens} tokens, "
                       f"{args.requests} requests each:", run(targets, args.requests))
                if delay == 0.0:
                    report(f"the same with a 100-message history, {args.requests // 2} requests each:",
                           run(targets, args.requests // 2, turns=100))
                    load(targets, processes, args.clients, args.seconds, args.tokens)
            finally:
                for process in processes.values():
                    process.terminate()
                    process.wait(30)

if __name__ == "__main__":
    main()
