"""Benchmark: the share of the rate limit ``lsq-import run`` keeps on a network that jitters,
beside another client of the same account, with the limiter before it learned the network as
the baseline, measured in the same run.

    python benchmarks/bench_network.py [--rows 300] [--delays 0,20,50,100] [--loopback-rows 500]

The sandbox runs in its own process at LeadSquared's 25 calls per 5 s, as a strict sliding
window that counts every call that arrives, throttled ones too. In front of it, a jitter proxy
(``jitter_proxy.py``, another process) holds each request a random 0..D ms on its way in. Both
limiters (``baseline_limiter.py``: the old one behind today's interface; and today's) send the
same rows through ``run_import`` to a freshly reset sandbox after a full window of silence.

- The share of the limit is the server's own count: calls it let through, from the second to
  the last, per second, over N/W (from the second, because the run sends its first call alone).
  With no throttle at all the ceiling is W / (W + D).
- 25 per 1 s on loopback (no proxy): the compressed rate the tests use.
- A neighbour: another client sends a third of the limit (evenly, with the same keys, straight
  to the sandbox) through the whole run, at D = 20 ms. Its throttles are counted apart; ours
  are counted per window of the run, to see whether they stop or recur.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline_limiter import BaselineAdapter  # noqa: E402

import importer.pipeline.runner  # noqa: E402
from importer.pipeline.request import RunOptions, RunRequest  # noqa: E402
from importer.pipeline.runner import run_import  # noqa: E402
from importer.sandbox.state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY  # noqa: E402
from importer.sending.connection import Connection  # noqa: E402
from importer.sending.limiter import Rate, RateLimiter  # noqa: E402

HEADERS = {"x-LSQ-AccessKey": DEFAULT_ACCESS_KEY, "x-LSQ-SecretKey": DEFAULT_SECRET_KEY}
LIMITERS = {"before (fixed 0.5 % margin)": BaselineAdapter, "now (learned)": RateLimiter}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@contextmanager
def process(*args: str):
    child = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=10)


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def write_rows(path: Path, rows: int) -> None:
    """The sample's good rows, repeated with fresh emails."""
    with open(ROOT / "data_samples" / "site_visits.csv", encoding="utf-8-sig") as handle:
        records = list(csv.reader(handle))
    header, body = records[0], [r for r in records[1:] if len(r) == len(records[0])]
    good = [
        r
        for r in body
        if r[0].count("@") == 1
        and "." in r[0].split("@")[1]
        and r[3] != "98765"
        and "12,5k" not in r
        and not r[9].startswith("31/02")
    ]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            record = list(good[i % len(good)])
            record[0] = f"net{i}@example.com"
            writer.writerow(record)


async def neighbour(url: str, rate: Rate, share: float, stop: asyncio.Event) -> int:
    """Another client of the account: ``share`` of the limit, evenly; returns its throttles."""
    throttles = 0
    period = rate.seconds / (rate.calls * share)
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        while not stop.is_set():
            async with session.get(url + "/v2/ProspectActivity.svc/ActivityTypes.Get") as answer:
                text = await answer.text()
                throttles += answer.status == 429 or "RateLimitExceeded" in text
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
    return throttles


async def one_run(sandbox: str, target: str, rows: int, rate: Rate, limiter, share: float) -> dict:
    urllib.request.urlopen(
        urllib.request.Request(sandbox + "/_sandbox/reset", method="POST"), timeout=10
    ).close()
    await asyncio.sleep(rate.seconds * 1.5)  # a full window of silence
    importer.pipeline.runner.RateLimiter = limiter
    stop = asyncio.Event()
    other = asyncio.create_task(neighbour(sandbox, rate, share, stop)) if share else None
    with tempfile.TemporaryDirectory() as folder:
        data, out = Path(folder) / "in.csv", Path(folder) / "out"
        write_rows(data, rows)
        mapping = ROOT / "mappings" / "site_visits.yaml"
        connection = Connection(target, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
        options = RunOptions(rate=rate, check_account=False, log_path=out / "calls.jsonl")
        summary = await run_import(RunRequest(data, mapping, out, connection, options))
        log = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    stop.set()
    theirs = await other if other else 0
    importer.pipeline.runner.RateLimiter = RateLimiter
    seen = get(sandbox + "/_sandbox/state?times=1")
    calls = [r for r in log if r["event"] == "call"]
    start = _time(calls[0]["time"])
    ours = [(_time(r["time"]) - start) / rate.seconds for r in calls if r["outcome"] == "throttled"]
    if share:
        # the run's own calls only: the server's admissions include the neighbour's
        admitted = [_time(r["time"]) for r in calls if r["outcome"] != "throttled"][1:]
        observed = (len(admitted) - 1) / (admitted[-1] - admitted[0])
    else:
        admitted = seen["admitted_times"][1:]
        observed = (len(admitted) - 1) / (admitted[-1] - admitted[0])
    return {
        "share": observed / (rate.calls / rate.seconds),
        "throttles": len(ours),
        "windows": sorted(int(w) for w in ours),
        "theirs": theirs,
        "succeeded": summary.succeeded,
        "elapsed": summary.elapsed,
    }


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def scenario(rows: int, rate: Rate, delay_ms: float | None, share: float = 0.0) -> dict:
    sandbox_port = free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    args = ["-m", "importer", "sandbox", "--port", str(sandbox_port), "--rate", str(rate)]
    with process(*args, "--throttle-200-share", "0.3", "--seed", "1"):
        wait_for(sandbox_port)
        if delay_ms is None:
            return _both(sandbox, sandbox, rows, rate, share)
        proxy_port = free_port()
        proxy = [
            str(ROOT / "benchmarks" / "jitter_proxy.py"),
            "--listen",
            str(proxy_port),
            "--target",
            str(sandbox_port),
            "--delay-ms",
            str(delay_ms),
            "--seed",
            "1",
        ]
        with process(*proxy):
            wait_for(proxy_port)
            return _both(sandbox, f"http://127.0.0.1:{proxy_port}", rows, rate, share)


def _both(sandbox: str, target: str, rows: int, rate: Rate, share: float) -> dict:
    return {
        name: asyncio.run(one_run(sandbox, target, rows, rate, limiter, share))
        for name, limiter in LIMITERS.items()
    }


def show(title: str, results: dict, ceiling: float | None) -> None:
    print(f"\n{title}" + (f" (ceiling without a throttle: {ceiling:.3f})" if ceiling else ""))
    for name, r in results.items():
        windows = ",".join(map(str, r["windows"])) or "-"
        extra = f", neighbour throttled {r['theirs']}" if r["theirs"] else ""
        print(
            f"  {name:28} share {r['share']:.3f}  throttles {r['throttles']:>2} "
            f"(in windows {windows}){extra}  {r['succeeded']} rows in {r['elapsed']:.0f} s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--delays", default="0,20,50,100")
    parser.add_argument("--loopback-rows", type=int, default=500)
    parser.add_argument("--neighbour-rows", type=int, default=300)
    args = parser.parse_args()
    real = Rate(25, 5.0)
    for delay in (float(d) for d in args.delays.split(",") if d):
        ceiling = real.seconds / (real.seconds + delay / 1000)
        show(
            f"{args.rows} rows at {real}, jitter 0-{delay:g} ms",
            scenario(args.rows, real, delay),
            ceiling,
        )
    if args.loopback_rows:
        fast = Rate(25, 1.0)
        show(
            f"{args.loopback_rows} rows at {fast}, loopback",
            scenario(args.loopback_rows, fast, None),
            None,
        )
    if args.neighbour_rows:
        results = scenario(args.neighbour_rows, real, 20.0, share=1 / 3)
        show(
            f"{args.neighbour_rows} rows at {real}, jitter 0-20 ms, a neighbour sending a third "
            "of the limit (share: of the whole limit; at most 0.667 is left)",
            results,
            None,
        )


if __name__ == "__main__":
    main()
