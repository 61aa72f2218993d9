"""Long waits (run by hand): `uv run python benchmarks/long_wait.py [--minutes 6]`.

A streaming and a non-stream request, each held by the operator for N minutes, from
openai-python and from the openai npm client (tests/compat/node, after `npm ci` there), on both
Chat Completions and the Responses API. Every client must get exactly the operator's text, and the
operator must see exactly one exchange per request (no client gave up and silently resent).

The server runs as a real `hcc serve` subprocess on a loopback port with default settings, so the
keep-alive comments and the early non-stream headers are what keeps the connections up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import TOKEN, free_port, start_server  # noqa: E402

NODE_DIR = Path(__file__).resolve().parent.parent / "tests" / "compat" / "node"
PIECES = ["Thank you ", "for waiting ", "so long — ", "お待たせしました。"]
ANSWER = "".join(PIECES)


def python_call(base: str, api_kind: str, stream: bool, prompt: str, timeout: float) -> str:
    client = openai.OpenAI(base_url=base + "/v1", api_key="sk-py", timeout=timeout)
    with client:
        if api_kind == "chat" and stream:
            chunks = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": prompt}], stream=True)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        if api_kind == "chat":
            return client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": prompt}]).choices[0].message.content
        if stream:
            events = client.responses.create(model="m", input=prompt, stream=True)
            return "".join(e.delta for e in events if e.type == "response.output_text.delta")
        return client.responses.create(model="m", input=prompt).output_text


def node_call(base: str, api_kind: str, stream: bool, prompt: str, timeout: float) -> str:
    command = ["node", str(NODE_DIR / "openai_client.mjs"), base + "/v1", api_kind,
               "stream" if stream else "plain", prompt, str(int(timeout * 1000))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 60)
    if done.returncode:
        raise RuntimeError(done.stderr.strip()[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    args = parser.parse_args()
    hold = args.minutes * 60
    client_timeout = hold + 300  # the clients would wait; the question is whether the line holds
    calls = {"python": python_call}
    if shutil.which("node") and (NODE_DIR / "node_modules" / "openai").exists():
        calls["node"] = node_call
    else:
        print("node or tests/compat/node/node_modules missing: run `npm ci` there; node skipped")
    cases = [(client, kind, stream) for client in calls for kind in ("chat", "responses")
             for stream in (True, False)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        process = start_server(port, data_dir)
        operator = httpx.Client(base_url=base + "/operator/api", timeout=30,
                                headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            with ThreadPoolExecutor(len(cases)) as pool:
                futures = {}
                for client, kind, stream in cases:
                    prompt = f"{client} {kind} {'stream' if stream else 'non-stream'}"
                    futures[prompt] = pool.submit(calls[client], base, kind, stream, prompt,
                                                  client_timeout)
                deadline = time.monotonic() + 60
                while len(operator.get("/exchanges").json()) < len(cases):
                    failed = [f.exception() for f in futures.values() if f.done()]
                    if failed or time.monotonic() > deadline:
                        raise RuntimeError(f"not every request arrived: {failed}")
                    time.sleep(0.2)
                print(f"{len(cases)} requests waiting; holding them for {args.minutes:g} minutes",
                      flush=True)
                time.sleep(hold)
                held_for = time.monotonic()
                waiting = operator.get("/exchanges", params={"state": "waiting"}).json()
                for exchange in waiting:
                    for index, piece in enumerate(PIECES):
                        operator.post(f"/exchanges/{exchange['id']}/reply",
                                      json={"text": piece, "done": index == len(PIECES) - 1})
                results = {}
                for prompt, future in futures.items():
                    try:
                        results[prompt] = "ok" if future.result(120) == ANSWER else "WRONG TEXT"
                    except Exception as error:  # noqa: BLE001 - reported, not raised
                        results[prompt] = f"FAILED: {type(error).__name__}: {error}"
                answered_in = time.monotonic() - held_for
            exchanges = operator.get("/exchanges").json()
        finally:
            operator.close()
            process.terminate()
            process.wait(30)
    per_prompt: dict[str, int] = {}
    for exchange in exchanges:
        per_prompt[exchange["user_input"]] = per_prompt.get(exchange["user_input"], 0) + 1
    print(f"still waiting after {args.minutes:g} min: {len(waiting)} of {len(cases)}; "
          f"all answered in {answered_in:.1f} s")
    for prompt, result in results.items():
        print(f"  {prompt:<28} {result:<10} exchanges seen: {per_prompt.get(prompt, 0)}")
    ok = all(r == "ok" for r in results.values()) and all(v == 1 for v in per_prompt.values())
    print("RESULT:", "success" if ok and len(waiting) == len(cases) else "FAILURE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
