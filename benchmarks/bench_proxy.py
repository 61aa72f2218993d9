"""Auto mode as a proxy (run by hand): `uv run python benchmarks/bench_proxy.py [--litellm]`.

Time to first token and total time at an openai-python streaming client, calling (a) an upstream
directly and (b) the same upstream through `hcc serve` in auto mode (c: through LiteLLM's proxy
with --litellm), interleaved in one run, 200 requests each, p50 and p99; once with a zero-latency
upstream and once with one that waits 300 ms before its first token. Logging is on; the upstream,
hcc and LiteLLM each run in their own process.
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


def one_call(client: openai.OpenAI, model: str, index: int) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=model, stream=True, messages=[{"role": "user", "content": f"request {index}"}])
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(targets: dict[str, str], requests: int) -> dict[str, dict[str, list[float]]]:
    clients = {name: openai.OpenAI(base_url=url, api_key="sk-bench-master-key", max_retries=0)
               for name, url in targets.items()}
    results = {name: {"ttft": [], "total": []} for name in targets}
    for index in range(10):  # warm up every path
        for client in clients.values():
            one_call(client, "bench-model", index)
    for index in range(requests):
        for name, client in clients.items():  # interleaved, so noise hits all alike
            ttft, total = one_call(client, "bench-model", index)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--litellm", action="store_true")
    parser.add_argument("--tokens", type=int, default=50, help="chunks in each upstream answer")
    args = parser.parse_args()
    for delay in (0.0, 0.3):
        processes = []
        with tempfile.TemporaryDirectory() as root:
            try:
                upstream_process, upstream = start_upstream(delay, args.tokens)
                processes.append(upstream_process)
                hcc_process, hcc = start_hcc(upstream, root)
                processes.append(hcc_process)
                targets = {"direct": upstream, "hcc": hcc}
                if args.litellm:
                    litellm_process, litellm = start_litellm(upstream)
                    processes.append(litellm_process)
                    targets["litellm"] = litellm
                report(f"upstream first-token delay {delay * 1000:.0f} ms, {args.tokens} tokens, {args.requests} requests each:",
                       run(targets, args.requests))
            finally:
                for process in processes:
                    process.terminate()
                    process.wait(30)


if __name__ == "__main__":
    main()
