"""Hot reload: a changed store is served within the interval, a broken one is refused and reported."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from pathlib import Path

import pytest

from feedservice import create_app
from conftest import make_store_dict

ROOT = Path(__file__).resolve().parent.parent


def _replace(path, doc_or_text) -> None:
    """Writes the new store beside the old one and renames it into place, as the README advises."""
    tmp = path.with_suffix(".tmp")
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text, ensure_ascii=False)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_new_article_is_served_within_the_interval_under_concurrent_requests(store_path):
    app = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0.2})
    errors: list[str] = []
    counts: set[int] = set()
    stop = threading.Event()

    def poll() -> None:
        client = app.test_client()
        while not stop.is_set():
            resp = client.get("/feeds/all.json")
            if resp.status_code != 200:
                errors.append(f"status {resp.status_code}")
                continue
            items = json.loads(resp.get_data())["items"]
            counts.add(len(items))
            ids = [i["id"] for i in items]
            if len(items) == 4 and not ids[0].endswith("a99999"):
                errors.append("new store without its newest article")

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        doc = make_store_dict(3)
        doc["articles"].append({"id": "a99999", "title": "Brand new", "published": "2030-01-01",
                                "ministries": ["molit"], "topics": ["policy"], "summary": "New."})
        written = time.monotonic()
        _replace(store_path, doc)
        assert _wait_for(lambda: 4 in counts, timeout=3.0)
        assert time.monotonic() - written < 2.0  # the interval is 0.2 s; generous for a loaded machine
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
    assert not errors
    assert counts <= {3, 4}


def test_broken_store_is_refused_and_last_good_one_served_then_recovery(store_path):
    app = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0.1})
    client = app.test_client()
    good_body = client.get("/feeds/all.atom").get_data()
    good_version = client.get("/healthz").get_json()["version"]

    broken = make_store_dict(3)
    broken["articles"][1]["published"] = "yesterday"
    _replace(store_path, broken)
    assert _wait_for(lambda: client.get("/healthz").get_json()["status"] == "degraded")
    health = client.get("/healthz").get_json()
    assert health["version"] == good_version
    assert "articles[1] (a00001): published: 'yesterday' is not an RFC 3339 date" in health["error"]
    assert str(store_path) in health["error"]
    assert client.get("/feeds/all.atom").get_data() == good_body

    mended = make_store_dict(3)
    mended["articles"][1]["title"] = "Mended"
    _replace(store_path, mended)
    assert _wait_for(lambda: client.get("/healthz").get_json()["status"] == "ok")
    assert client.get("/healthz").get_json()["version"] != good_version
    assert "Mended" in client.get("/feeds/all.atom").get_data(as_text=True)


def test_truncated_and_deleted_files_are_refused(store_path):
    app = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0})
    live = app.extensions["feedservice"].live
    version = live.current.version
    store_path.write_text('{"portal": ', encoding="utf-8")
    assert live.check() is False and live.current.version == version and "line 1" in live.error
    store_path.unlink()
    assert live.check() is False and live.current.version == version and "cannot read the store" in live.error


def test_sighup_asks_for_a_check_at_once(store_path):
    import signal

    app = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 3600})
    live = app.extensions["feedservice"].live
    doc = make_store_dict(2)
    _replace(store_path, doc)
    os.kill(os.getpid(), signal.SIGHUP)
    assert _wait_for(lambda: len(live.current.articles) == 2, timeout=3.0)


@pytest.mark.parametrize("store", ["bundled", "every way through the loader"])
def test_a_load_leaves_no_reference_cycles(tmp_path, monkeypatch, store):
    # What a load leaves is frozen with the store, out of the cyclic collector's reach (live._kept), and a
    # process's first load is not followed by a collection (live._loaded): a load must make no garbage that only
    # that collector could free.
    from feedservice import loader
    from test_loader_equivalence import _lines
    from test_loader_parts import _doc

    path = ROOT / "data" / "articles.json"
    if store != "bundled":
        path = tmp_path / "store.json"
        path.write_bytes(_lines(_doc()))  # typed, dict and detailed paths, and a first read (the memo is empty)
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    gc.collect()
    with loader.collector_paused():
        assert len(loader.load_store(path).articles) >= 10
        assert gc.collect() == 0
