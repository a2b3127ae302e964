"""The validator against the store: every feed, format and archive page of the bundled store and of generated
ones, in process and on a running server; and that it notices when a served document departs from the store."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
from typing import Callable

import pytest
from werkzeug.serving import make_server

from feedservice import create_app, validate_store
from feedservice.cli import cli
from feedservice.validate import ERROR, Report
from feedservice.validate_http import AppFetcher, Response
from conftest import BUNDLED_STORE, free_port, make_store_dict


def test_bundled_store_validates_in_process(runner):
    result = runner.invoke(cli, ["validate", "--store", str(BUNDLED_STORE)])
    assert result.exit_code == 0, result.output
    # every selection of the store in 3 formats; 10 articles make no archive page
    summary = re.fullmatch(r"feedservice validate: the store .*: (\d+) document\(s\), 0 error\(s\), 0 warning\(s\) in [0-9.]+ s: ok\n", result.output)
    assert summary and int(summary.group(1)) % 3 == 0


def test_generated_store_of_2000_articles_validates(runner, write_store):
    path = write_store(make_store_dict(2000))
    result = runner.invoke(cli, ["validate", "--store", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output[-3000:]
    out = json.loads(result.output)
    # 5 selections (all 2000, molit 2000, ngii 667, policy 2000, maps 1000): 5 + 40+40+13+40+20 pages, 3 formats
    assert out["documents"] == 3 * (5 + 153)
    assert out["errors"] == 0 and out["warnings"] == 0


def _later(article: dict, hours: float) -> str:
    published = dt.datetime.fromisoformat(article["published"])
    return (published + dt.timedelta(hours=hours)).isoformat()


def rich_store(n: int = 23) -> dict:
    """A store that uses every article field: content, corrections, related URLs, ministries without homepages."""
    doc = make_store_dict(n)
    arts = doc["articles"]
    arts[-1]["content_html"] = "<p>Roads &amp; <a href=\"https://www.molit.go.kr/\">rails</a><br>한글 “quotes”</p>"
    arts[-2]["corrections"] = [{"date": _later(arts[-2], hours=25), "note": "Figure <3> & date fixed"}]
    arts[-3]["url"] = "https://www.molit.go.kr/news?id=3&lang=en"
    arts[-4]["updated"] = _later(arts[-4], hours=9.5)
    arts[3]["content_html"] = "<ul><li>one</li><li>two &lt; three</li></ul>"
    return doc


def small_app(write_store, doc: dict, **config):
    return create_app({"STORE": str(write_store(doc)), "RELOAD_SECONDS": 0, "PAGE_SIZE": 5, **config})


def validate(app, fetcher=None, http: bool = False) -> Report:
    report = Report()
    validate_store.run(app, report, fetcher=fetcher, http=http)
    return report


def test_every_field_of_a_rich_store_survives_the_round_trip(write_store):
    report = validate(small_app(write_store, rich_store()))
    assert report.problems == [], "\n".join(map(str, report.problems))
    # subscription + pages of 5: all (23) 1+4, molit (23) 1+4, ngii (8) 1+1, policy (23) 1+4, maps (12) 1+2
    assert report.documents == 3 * (5 + 5 + 2 + 5 + 3)


def test_withdrawn_articles_are_tombstones_in_atom_and_absent_elsewhere(write_store):
    """Withdrawn articles: tombstones in Atom (subscription and archive), absent from RSS and JSON, and no
    problem anywhere. (A tombstone once carried an atom:link, which feedparser took for the feed's own
    alternate link; this test caught it.)"""
    doc = rich_store()
    doc["articles"][7]["withdrawn"] = {"date": "2020-01-25", "reason": "Published twice"}  # in archive page 1
    doc["articles"][21]["withdrawn"] = {"date": "2020-02-02", "reason": "Wrong figures"}  # recent: subscription tombstone
    report = validate(small_app(write_store, doc))
    assert report.problems == [], "\n".join(map(str, report.problems))


class Mutating:
    """A fetcher that serves the app's documents with one edit: a server that departs from the store."""

    def __init__(self, app, path: str, edit: Callable[[bytes], bytes] | None = None, status: int | None = None,
                 drop_header: str | None = None) -> None:
        self.inner, self.path, self.edit, self.status, self.drop_header = AppFetcher(app), path, edit, status, drop_header
        self.hits = 0

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        resp = self.inner.get(path, headers)
        if path != self.path:
            return resp
        self.hits += 1
        body = self.edit(resp.body) if self.edit else resp.body
        assert body != resp.body or not self.edit, "the edit changed nothing"
        hdrs = {k: v for k, v in resp.headers.items() if k != self.drop_header}
        if self.status == 304 and headers:  # a server that never answers 304
            return Response(200, hdrs, body, path)
        return Response(self.status if self.status and self.status != 304 else resp.status, hdrs, body, path)


def _first_entry_removed(body: bytes) -> bytes:
    start = body.index(b"<entry>")
    return body[:start] + body[body.index(b"</entry>", start) + len(b"</entry>"):]


def _swap_first_two_items(body: bytes) -> bytes:
    a = body.index(b"<item>")
    b = body.index(b"<item>", a + 1)
    c = body.index(b"</item>", b) + len(b"</item>")
    return body[:a] + body[b:c] + body[a:b] + body[c:]


def _json_item(index: int, **changes) -> Callable[[bytes], bytes]:
    def edit(body: bytes) -> bytes:
        doc = json.loads(body)
        doc["items"][index].update(changes)
        return json.dumps(doc, ensure_ascii=False).encode()

    return edit


MUTATIONS = [
    ("/feeds/all.atom", _first_entry_removed, "store:entries-mismatch"),
    ("/feeds/all.rss", _swap_first_two_items, "store:entries-mismatch"),
    ("/feeds/all.rss", lambda b: b.replace(b"<title>Article 22:", b"<title>Article 22 (draft):", 1), "store:entry-mismatch"),
    ("/feeds/topics/maps.atom", lambda b: b.replace(b"<name>National Geographic Information Institute</name>", b"<name>NGII</name>", 1), "store:entry-mismatch"),
    # The same instant in UTC: readers show another date than the portal's +09:00.
    ("/feeds/all.json", _json_item(0, date_published="2020-01-23T00:00:00Z"), "store:entry-mismatch"),
    ("/feeds/all.json", _json_item(0, content_html="<p>Highways</p>"), "store:entry-mismatch"),
    ("/feeds/all.json", _json_item(1, tags=["Maps & Surveys"]), "store:entry-mismatch"),
    ("/feeds/all.rss", lambda b: b.replace(b"with &amp;amp; and &amp;lt;", b"with &amp; and &lt;", 1), "store:entry-mismatch"),
    ("/feeds/all/archive/2.atom", lambda b: b.replace(b"<fh:archive/>", b"", 1), "store:feed-mismatch"),
    ("/feeds/all/archive/2.rss", lambda b: b.replace(b"/feeds/all/archive/1.rss", b"/feeds/all/archive/3.rss", 1), "store:archive-walk"),
    ("/feeds/all/archive/3.json", lambda b: b.replace(b'"next_url"', b'"_next_url"', 1), "store:archive-walk"),
    ("/feeds/ministries/ngii.atom", lambda b: b.replace(b"<title>Test Portal: National", b"<title>Portal: National", 1), "store:feed-mismatch"),
    ("/feeds/topics/policy.json", lambda b: b.replace(b"+09:00", b"+0900", 1), "json:date-invalid"),
]


@pytest.mark.parametrize("path, edit, rule", MUTATIONS, ids=[f"{m[2]}:{m[0]}" for m in MUTATIONS])
def test_a_document_that_departs_from_the_store_is_caught(write_store, path, edit, rule):
    app = small_app(write_store, rich_store())
    fetcher = Mutating(app, path, edit)
    report = validate(app, fetcher)
    assert fetcher.hits == 1
    assert rule in report.rules(ERROR), "\n".join(map(str, report.problems))


def test_a_missing_document_and_a_served_withdrawn_article_are_caught(write_store):
    app = small_app(write_store, rich_store())
    report = validate(app, Mutating(app, "/feeds/topics/maps/archive/1.rss", status=404))
    assert "store:document-missing" in report.rules(ERROR)
    withdrawn = rich_store()
    withdrawn["articles"][20]["withdrawn"] = {"date": "2020-02-02", "reason": "Wrong"}
    served_anyway = create_app({"STORE": str(write_store(rich_store(), "served.json")), "RELOAD_SECONDS": 0, "PAGE_SIZE": 5})
    report = validate(small_app(write_store, withdrawn), AppFetcher(served_anyway))
    assert "store:withdrawn-entry-present" in report.rules(ERROR)


@pytest.mark.parametrize(
    "kwargs, rule",
    [
        ({"drop_header": "etag"}, "http:etag-missing"),
        ({"drop_header": "last-modified"}, "http:last-modified-missing"),
        ({"drop_header": "content-type"}, "http:content-type"),
        ({"status": 304}, "http:not-revalidated"),
    ],
)
def test_http_contract_is_checked(write_store, kwargs, rule):
    app = small_app(write_store, make_store_dict(6))
    report = validate(app, Mutating(app, "/feeds/topics/maps.rss", **kwargs), http=True)
    assert report.rules(ERROR) == {rule}, "\n".join(map(str, report.problems))


@pytest.fixture
def server(write_store):
    """Serves a generated store on a free loopback port; yields (base URL, store path)."""
    path = write_store(rich_store(60))
    app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", path
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_running_server_validates_over_http(runner, server):
    url, path = server
    result = runner.invoke(cli, ["validate", "--url", url, "--store", str(path)])
    assert result.exit_code == 0, result.output[-3000:]
    assert f"{url} with the store {path}" in result.output


def test_running_server_with_another_store_is_reported(runner, server, write_store):
    url, _ = server
    other = write_store(make_store_dict(60), "other.json")
    result = runner.invoke(cli, ["validate", "--url", url, "--store", str(other)])
    assert result.exit_code == 1
    assert "error http:store-version: the server serves store version" in result.output


def test_refused_connection_and_unreadable_store_exit_2(runner, tmp_path):
    refused = runner.invoke(cli, ["validate", "--url", f"http://127.0.0.1:{free_port()}", "--store", str(BUNDLED_STORE)])
    assert refused.exit_code == 2
    assert "cannot fetch" in refused.output
    missing = runner.invoke(cli, ["validate", "--store", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**copy.deepcopy(make_store_dict(1)), "portal": {}}), encoding="utf-8")
    assert runner.invoke(cli, ["validate", "--store", str(broken)]).exit_code == 1
