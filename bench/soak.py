"""Load and faults: many connections against `feedservice serve` while the store is replaced, sometimes broken.

    .venv/bin/python bench/soak.py                      # make soak: 100,000 articles, 64 connections, 60 s
    .venv/bin/python bench/soak.py --short              # CI: 5,000 articles, 16 connections, 15 s

Checks, for every response: no connection error, no 5xx, the ETag is the hash of the (decoded) body, and the
document comes from one store version (the feed's title and its newest entry carry the same version mark).
A third of the requests carry a distinct query string, so the render cache sees as many distinct URLs;
the workers' resident memory is sampled and must stay within the cache bound plus headroom.
Exits 1 on any failure; writes its figures into the "Soak" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
BIN = Path(sys.executable).parent
MARK_RE = re.compile(rb"Soak v(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_store(n: int) -> dict:
    path = OUT / f"store-{n}.json"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_store.py"), str(n), str(path)], check=True, timeout=600)
    return json.loads(path.read_text(encoding="utf-8"))


def version_of(doc: dict, v: int) -> str:
    """Returns the store text of version ``v``: the portal title and one new newest article carry the mark."""
    doc["portal"]["title"] = f"Soak v{v}"
    doc["articles"].append({
        "id": f"soak-v{v}", "title": f"Soak v{v} newest", "published": f"2030-01-01T00:00:{v % 60:02d}+09:00",
        "ministries": [doc["ministries"][0]["slug"]], "topics": [doc["topics"][0]["slug"]], "summary": f"Soak v{v}",
    })
    text = json.dumps(doc, ensure_ascii=False)
    doc["articles"].pop()
    return text


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def worker_pids(server_pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: dict[int, int] = {}
        self.failures: list[str] = []
        self.requests = 0

    def add(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.status[status] = self.status.get(status, 0) + 1

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(message)


def check_response(path: str, status: int, headers: dict[str, str], body: bytes, stats: Stats) -> None:
    if status >= 500:
        stats.fail(f"{path}: {status}")
        return
    if status != 200:
        return
    plain = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    etag = headers.get("etag", "")
    if path.split("?")[0].startswith("/feeds/") and etag:
        digest = hashlib.sha256(plain).hexdigest()[:32]
        if etag.strip('"').removesuffix("-gz") != digest:
            stats.fail(f"{path}: ETag {etag} is not the hash of the body")
    if path.startswith("/feeds/all.json"):
        doc = json.loads(plain)
        feed_mark = MARK_RE.search(doc["title"].encode())
        newest = doc["items"][0]["title"].encode() if doc["items"] else b""
        item_mark = MARK_RE.search(newest)
        if feed_mark and item_mark and feed_mark.group(1) != item_mark.group(1):
            stats.fail(f"{path}: mixes store versions {feed_mark.group(1)} and {item_mark.group(1)}")


def client_loop(port: int, paths: list[str], stop: threading.Event, stats: Stats, counter: list[int], seed: int) -> None:
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    etags: dict[str, str] = {}
    while not stop.is_set():
        path = rnd.choice(paths)
        if rnd.random() < 0.33:
            with stats.lock:
                counter[0] += 1
                path = f"{path}{'&' if '?' in path else '?'}q={counter[0]}"
        headers = {}
        if rnd.random() < 0.5:
            headers["Accept-Encoding"] = "gzip"
        if path in etags and rnd.random() < 0.5:
            headers["If-None-Match"] = etags[path]
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            stats.fail(f"{path}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        stats.add(resp.status)
        if "etag" in hdrs and "?" not in path:
            etags[path] = hdrs["etag"]
        check_response(path, resp.status, hdrs, body, stats)
    conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--replace-every", type=float, default=3.0)
    parser.add_argument("--cache-mb", type=int, default=32)
    parser.add_argument("--short", action="store_true", help="CI form: 5,000 articles, 16 connections, 15 s")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.short:
        args.articles, args.connections, args.seconds = 5000, 16, 15

    doc = base_store(args.articles)
    workdir = OUT / "soak"
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "articles.json"
    write_atomically(store, version_of(doc, 0))
    port = free_port()
    env = dict(os.environ, FEEDSERVICE_STORE=str(store), FEEDSERVICE_RELOAD_SECONDS="1",
               FEEDSERVICE_CACHE_BYTES=str(args.cache_mb * 1024 * 1024), FEEDSERVICE_BASE_URL=f"http://127.0.0.1:{port}")
    log = open(workdir / "server.log", "w")
    server = subprocess.Popen([str(BIN / "feedservice"), "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stats = Stats()
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("soak: the server did not start; see", workdir / "server.log", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        ministries = [m["slug"] for m in doc["ministries"][:5]]
        topics = [t["slug"] for t in doc["topics"][:5]]
        paths = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/all.json?limit=7", "/healthz",
                 "/feeds/all/archive/1.atom", "/feeds/all/archive/2.json", "/feeds.opml", "/"]
        paths += [f"/feeds/ministries/{m}.{f}" for m in ministries for f in ("atom", "rss", "json")]
        paths += [f"/feeds/topics/{t}.atom" for t in topics] + ["/feeds/nope.atom", "/feeds/all.atom?limit=0"]
        time.sleep(1)
        baseline = {pid: rss_mb(pid) for pid in worker_pids(server.pid)}
        counter = [0]
        threads = [threading.Thread(target=client_loop, args=(port, paths, stop, stats, counter, i), daemon=True)
                   for i in range(args.connections)]
        for t in threads:
            t.start()
        started = time.monotonic()
        version, replaced, broken, peak = 0, 0, 0, dict(baseline)
        next_replace = started + args.replace_every
        while time.monotonic() - started < args.seconds:
            time.sleep(0.25)
            for pid in worker_pids(server.pid):
                peak[pid] = max(peak.get(pid, 0.0), rss_mb(pid))
            if time.monotonic() >= next_replace:
                next_replace += args.replace_every
                replaced += 1
                if replaced % 4 == 0:  # every fourth replacement is a broken file: it must be refused
                    broken += 1
                    write_atomically(store, version_of(doc, version + 1).replace('"published": "2030', '"published": "20300', 1))
                else:
                    version += 1
                    write_atomically(store, version_of(doc, version))
        stop.set()
        for t in threads:
            t.join(timeout=35)
        elapsed = time.monotonic() - started
        if server.poll() is not None:
            stats.fail(f"the server exited with {server.returncode}")
    finally:
        stop.set()
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()

    store_mb = store.stat().st_size / 1e6
    growth = max((peak[p] - baseline.get(p, peak[p]) for p in peak), default=0.0)
    # Within the cache bound plus headroom: the cache itself, and during a reload a second store in memory.
    allowed = args.cache_mb * 1.05 + max(baseline.values(), default=0) + 64
    if growth > allowed:
        stats.fail(f"worker memory grew {growth:.0f} MB, over the cache bound plus headroom ({allowed:.0f} MB)")
    server_errors = sum(n for s, n in stats.status.items() if s >= 500)
    lines = [
        f"`{' '.join(['bench/soak.py', *argv]) or 'bench/soak.py'}` ({time.strftime('%Y-%m-%d')}): "
        f"{args.articles:,} articles ({store_mb:.1f} MB), {args.connections} connections for {elapsed:.0f} s, store "
        f"replaced {replaced} times every {args.replace_every:g} s ({broken} of them broken)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests | {stats.requests:,} ({stats.requests / elapsed:,.0f}/s) |",
        f"| responses by status | {', '.join(f'{s}: {n:,}' for s, n in sorted(stats.status.items()))} |",
        f"| distinct query strings | {counter[0]:,} |",
        f"| connection errors and 5xx | {len([f for f in stats.failures if 'Error' in f or ': 5' in f])} and {server_errors} |",
        f"| ETag/body mismatches, mixed versions | {len([f for f in stats.failures if 'ETag' in f])}, {len([f for f in stats.failures if 'mixes' in f])} |",
        f"| worker RSS: start, peak, growth | {', '.join(f'{baseline.get(p, 0):.0f}' for p in baseline)} MB; "
        f"{', '.join(f'{v:.0f}' for v in peak.values())} MB; {growth:.0f} MB (allowed {allowed:.0f}, cache bound {args.cache_mb} MB) |",
        f"| verdict | {'PASS' if not stats.failures else 'FAIL: ' + '; '.join(stats.failures[:5])} |",
    ]
    print("\n".join(lines))
    if not args.no_results:
        write_section(lines)
    return 1 if stats.failures else 0


def write_section(lines: list[str]) -> None:
    start, end = "<!-- soak:start -->", "<!-- soak:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    section = f"{start}\n## Soak: load and faults\n\n" + "\n".join(lines) + f"\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
