"""Load-test a running ``mode=serve`` server: throughput and latency percentiles per client count.

    python -m nlprnn recipe=sentiment mode=serve ckpt=RUN &
    python scripts/serve_load.py http://127.0.0.1:8000 --clients 1,8,32 --requests 200

Each client is a thread sending ``POST URL/predict`` one request after another (stdlib only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def post(url: str, body: bytes) -> float:
    """Seconds one request took; an error status raises."""
    request = urllib.request.Request(url, body, headers={"content-type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - start


def run(url: str, clients: int, requests: int, body: bytes) -> dict:
    """``requests`` requests shared by ``clients`` threads: requests/s and latency percentiles (ms)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(lambda _: post(url, body), range(requests)))
    seconds = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=20)  # cut 9: the median, cut 18: the 95th percentile
    p50, p95 = cuts[9] * 1e3, cuts[18] * 1e3
    return {"clients": clients, "req_s": requests / seconds, "p50_ms": p50, "p95_ms": p95}


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--clients", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests per client count")
    parser.add_argument("--inputs", type=int, default=1, help="texts per request")
    parser.add_argument("--text", default="The film was long, but the actors were wonderful.")
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/predict"
    body = json.dumps({"inputs": [args.text] * args.inputs}).encode()
    post(url, body)  # warm-up (and a clear error now if the server is not there)
    print(f"{'clients':>7} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9}")
    for clients in map(int, args.clients.split(",")):
        row = run(url, clients, max(args.requests, 2), body)
        print(f"{row['clients']:>7} {row['req_s']:>9.1f} {row['p50_ms']:>9.2f} {row['p95_ms']:>9.2f}")


if __name__ == "__main__":
    main()
