"""Benchmark: how close ``lsq-import run`` keeps to the rate limit, and what it costs in
throttles, beside two naive clients measured in the same run against the same sandbox.

    python benchmarks/bench_run.py [--rows 500] [--rate 25/1s]

The sandbox runs in its own process (``lsq-import sandbox``) at a compressed rate, with
log-normal latency (median 0.1 s, then 1 s; sigma 0.5, so a long tail). Each client sends the
same payloads (data_samples/site_visits.csv, repeated with fresh emails) to a freshly reset
sandbox, after a full window of silence:

- sequential: one call, sleep W/N, the next call;
- AsyncLimiter(N, W) + gather: aiolimiter as its README shows it, every row at once;
- lsq-import: ``run_import``, the library call behind ``lsq-import run``.

The share of the limit is the server's own count: row calls (CreateCustom) it let through, over
the time between the second and the last of them, divided by N/W: the steady state. What comes
before it (lsq-import's pre-flight reads the account, then its first row call goes alone) is
shown apart, as the time from the first call to the second row call. The sequential client
sends only its first 100 rows: its pace is steady, and at 1 s latency 500 rows take ten minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
from aiolimiter import AsyncLimiter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from importer.mapping.config import load_mapping  # noqa: E402
from importer.mapping.validation import open_input  # noqa: E402
from importer.pipeline.request import RunOptions, RunRequest  # noqa: E402
from importer.pipeline.runner import run_import  # noqa: E402
from importer.sandbox import parse_rate  # noqa: E402
from importer.sandbox.state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY  # noqa: E402
from importer.sending.connection import Connection  # noqa: E402
from importer.sending.limiter import Rate  # noqa: E402

HEADERS = {"x-LSQ-AccessKey": DEFAULT_ACCESS_KEY, "x-LSQ-SecretKey": DEFAULT_SECRET_KEY}
CREATE = "/v2/ProspectActivity.svc/CreateCustom"
SEQUENTIAL_ROWS = 100


def payloads(count: int) -> list[dict]:
    source, plan = open_input(
        ROOT / "data_samples" / "site_visits.csv",
        load_mapping(ROOT / "mappings" / "site_visits.yaml"),
    )
    base = []
    for chunk in source.chunks():
        mapped = plan.map_chunk(chunk)
        base += [plan.payload(mapped, i) for i in mapped.good()]
    out = []
    for i in range(count):
        body = json.loads(json.dumps(base[i % len(base)]))
        body["LeadDetails"][0]["Value"] = f"bench{i}@example.com"
        out.append(body)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def state(url: str) -> dict:
    with urllib.request.urlopen(url + "/_sandbox/state", timeout=10) as response:
        return json.load(response)


def reset(url: str, window: float) -> None:
    request = urllib.request.Request(url + "/_sandbox/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    time.sleep(window * 1.5)  # a full window of silence


def measure(url: str, rate: Rate) -> dict:
    with urllib.request.urlopen(url + "/_sandbox/state?times=1", timeout=10) as response:
        seen = json.load(response)
    admitted = list(zip(seen["admitted_times"], seen["admitted_paths"], strict=True))
    rows = [t for t, path in admitted if path == CREATE]
    # the steady state: the row calls from the second on (lsq-import's first goes alone)
    times = rows[1:]
    share = None
    if len(times) > 1:
        observed = (len(times) - 1) / (times[-1] - times[0])
        share = observed / (rate.calls / rate.seconds)
    return {
        "share": share,
        "throttles": seen["counters"].get("throttled", 0),
        "activities": len(seen["activities"]),
        # the pre-flight's calls and the first row call: from the first call to the second row's
        "start": rows[1] - admitted[0][0] if len(rows) > 1 else None,
    }


async def sequential(url: str, bodies: list[dict], rate: Rate) -> None:
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        for body in bodies[:SEQUENTIAL_ROWS]:  # its pace is steady: a sample of rows tells it
            async with session.post(url + CREATE, json=body) as response:
                await response.read()
            await asyncio.sleep(rate.seconds / rate.calls)


async def aiolimiter_gather(url: str, bodies: list[dict], rate: Rate) -> None:
    limiter = AsyncLimiter(rate.calls, rate.seconds)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:

        async def one(body: dict) -> None:
            async with limiter, session.post(url + CREATE, json=body) as response:
                await response.read()

        await asyncio.gather(*(one(b) for b in bodies))


async def importer(url: str, rows: int, rate: Rate) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "in.csv"
        # the sample's rows, repeated with fresh emails (the few that fail to map are left out)
        with open(ROOT / "data_samples" / "site_visits.csv", encoding="utf-8-sig") as handle:
            records = list(csv.reader(handle))
        header, body = records[0], [r for r in records[1:] if len(r) == len(records[0])]
        with open(data, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            written = 0
            for i in range(rows * 2):
                record = list(body[i % len(body)])
                if record[0].count("@") != 1 or record[3] == "98765" or "12,5k" in record:
                    continue
                if record[9].startswith("31/02"):
                    continue
                record[0] = f"bench{i}@example.com"
                writer.writerow(record)
                written += 1
                if written == rows:
                    break
        connection = Connection(url, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
        mapping = ROOT / "mappings" / "site_visits.yaml"
        out = Path(folder) / "out"
        summary = await run_import(
            RunRequest(data, mapping, out, connection, RunOptions(rate=rate))
        )
        return {"succeeded": summary.succeeded, "failed": summary.failed_by_type}


def scenario(rows: int, rate: Rate, latency: float) -> list[tuple[str, dict, float]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "importer",
            "sandbox",
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--latency",
            str(latency),
            "--latency-sigma",
            "0.5",
            "--throttle-200-share",
            "0.3",
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                state(url)
                break
            except OSError:
                time.sleep(0.1)
        bodies = payloads(rows)
        results = []
        for name, client in (
            ("sequential (call, sleep W/N)", lambda: sequential(url, bodies, rate)),
            ("AsyncLimiter(N, W) + gather", lambda: aiolimiter_gather(url, bodies, rate)),
            ("lsq-import run", lambda: importer(url, rows, rate)),
        ):
            reset(url, rate.seconds)
            started = time.perf_counter()
            extra = asyncio.run(client())
            elapsed = time.perf_counter() - started
            result = measure(url, rate)
            if isinstance(extra, dict):
                result.update(extra)
            results.append((name, result, elapsed))
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)


async def first_window(limiter_factory, rate: Rate) -> int:
    """How many acquisitions a limiter lets through in the first W seconds, from cold."""
    limiter = limiter_factory()
    loop = asyncio.get_running_loop()
    start = loop.time()
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(loop.time() - start)

    tasks = [asyncio.create_task(one()) for _ in range(rate.calls * 3)]
    await asyncio.sleep(rate.seconds * 1.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sum(1 for t in times if t < rate.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rate", default="25/1s")
    args = parser.parse_args()
    rate = Rate(*parse_rate(args.rate))
    from importer.sending.limiter import RateLimiter

    plain = asyncio.run(first_window(lambda: AsyncLimiter(rate.calls, rate.seconds), rate))
    ours = asyncio.run(first_window(lambda: RateLimiter(rate), rate))
    print(
        f"acquisitions in the first {rate.seconds:g} s from cold (limit {rate.calls}): "
        f"AsyncLimiter({rate.calls}, {rate.seconds:g}) {plain}, lsq-import's limiter {ours}"
    )
    for latency in (0.1, 1.0):
        print(f"\n{args.rows} rows, limit {rate}, latency median {latency} s (sigma 0.5)")
        print(
            f"  {'client':32} {'share of limit':>15} {'throttles':>10} {'activities':>11} "
            f"{'wall time':>10} {'start':>7}"
        )
        for name, result, elapsed in scenario(args.rows, rate, latency):
            share = f"{result['share'] * 100:.2f} %" if result["share"] else "-"
            print(
                f"  {name:32} {share:>15} {result['throttles']:>10} "
                f"{result['activities']:>11} {elapsed:>9.1f}s {result['start']:>6.2f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
