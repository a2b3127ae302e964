"""`feedservice serve` runs a real server: both supported servers answer with the same bytes and headers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BUNDLED_STORE, free_port

BIN = Path(sys.executable).parent


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _stop(proc: subprocess.Popen) -> None:
    """Stops a server started in its own session, and every process it started."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(params=["feedservice", "granian", "gunicorn"])
def server(request):
    port = free_port()
    env = dict(os.environ, FEEDSERVICE_BASE_URL=f"http://127.0.0.1:{port}")
    proc = subprocess.Popen(
        [str(BIN / "feedservice"), "serve", "--store", str(BUNDLED_STORE), "--port", str(port), "--server", request.param],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"{request.param} did not start")
        yield base
    finally:
        _stop(proc)


def test_served_feeds_match_the_in_process_app(server, bundled_client):
    for path in ("/feeds/all.atom", "/feeds/ministries/ngii.rss", "/feeds/topics/smart-city-policy.json", "/"):
        for _ in range(3):  # first a render, then cached hits from the fast path, on either worker
            status, headers, body = _get(server + path)
            assert status == 200, path
        if path.startswith("/feeds"):
            expected = bundled_client.get(path, base_url=server).get_data()
            # The in-process app has the bundled base URL; the server was given its own.
            assert body == expected.replace(b"https://feeds.smartcity.go.kr", server.encode())
            assert headers["etag"].strip('"') and headers["date"]
    status, headers, _ = _get(server + "/feeds/all.atom", {"If-None-Match": _get(server + "/feeds/all.atom")[1]["etag"]})
    assert status == 304
    assert _get(server + "/nope")[0] == 404
    assert _get(server + "/feeds/all.atom?limit=0")[0] == 400


def test_serve_refuses_a_broken_store(write_store, store_dict, runner):
    from feedservice.cli import cli

    store_dict["articles"][0]["published"] = "soon"
    result = runner.invoke(cli, ["serve", "--store", str(write_store(store_dict)), "--port", str(free_port())])
    assert result.exit_code == 1
    assert "published: 'soon' is not an RFC 3339 date" in result.output and "Traceback" not in result.output


def _children(pid: int) -> set[int]:
    """Returns the pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
@pytest.mark.parametrize("server_name", ["feedservice", "granian", "gunicorn"])
def test_a_worker_restarted_while_the_store_is_broken_serves_the_last_good_store(tmp_path, server_name):
    """serve hands its store down to the workers it forks: a worker that dies and is restarted while the file
    is broken starts from that store (degraded) instead of failing to start again and again."""
    store = tmp_path / "articles.json"
    store.write_bytes(BUNDLED_STORE.read_bytes())
    port = free_port()
    env = dict(os.environ, FEEDSERVICE_BASE_URL=f"http://127.0.0.1:{port}", FEEDSERVICE_RELOAD_SECONDS="0.5")
    proc = subprocess.Popen(
        [str(BIN / "feedservice"), "serve", "--store", str(store), "--port", str(port), "--workers", "2",
         "--server", server_name],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def wait_for(condition, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{server_name}: {what}")

    try:
        wait_for(lambda: _get(base + "/healthz")[0] == 200 and len(_children(proc.pid)) >= 2, "did not start")
        good = _get(base + "/feeds/all.atom")[2]
        broken = tmp_path / "broken.json"
        broken.write_text('{"portal": ', encoding="utf-8")
        os.replace(broken, store)
        wait_for(lambda: all(_get(base + "/healthz")[2].count(b'"degraded"') for _ in range(6)), "never degraded")
        workers = _children(proc.pid)
        victim = max(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(_children(proc.pid) - workers) >= 1, "did not restart the worker")
        restarted = _children(proc.pid) - workers
        time.sleep(3)  # a worker that could not start would have exited by now
        assert restarted <= _children(proc.pid), "the restarted worker exited: it had no store to serve"
        for _ in range(20):  # either worker answers, each with the last good store
            status, _, body = _get(base + "/feeds/all.atom")
            assert status == 200 and body == good
            assert b'"degraded"' in _get(base + "/healthz")[2]
    finally:
        _stop(proc)


@pytest.mark.parametrize("args, env, expected", [
    ([], {}, ("feedservice", 2)),
    (["--server", "granian"], {}, ("granian", 8)),
    (["--server", "gunicorn"], {}, ("gunicorn", 8)),
    (["--threads", "5"], {}, ("feedservice", 5)),
    ([], {"FEEDSERVICE_THREADS": "3", "FEEDSERVICE_SERVER": "granian"}, ("granian", 3)),
])
def test_serve_threads_default_by_server(runner, monkeypatch, args, env, expected):
    from feedservice import live, server
    from feedservice.cli import cli

    seen = {}

    def started(name):
        return lambda host, port, workers, threads, **kw: seen.update(server=name, threads=threads)

    monkeypatch.setattr(server, "_granian", started("granian"))
    monkeypatch.setattr(server, "_gunicorn", lambda *a, worker_class="gthread", **kw: started(
        "gunicorn" if worker_class == "gthread" else "feedservice")(*a))
    monkeypatch.setenv("FEEDSERVICE_STORE", str(BUNDLED_STORE))  # serve sets it for its workers: undone after
    monkeypatch.setattr(live, "_handed_down", live._handed_down)  # and hands its store down: undone after
    result = runner.invoke(cli, ["serve", "--store", str(BUNDLED_STORE), *args], env=env)
    assert result.exit_code == 0, result.output
    assert (seen["server"], seen["threads"]) == expected
