"""The embed widget and iframe page in a real browser: headless Chromium, two loopback origins, a strict CSP.

The service runs on http://127.0.0.1:<port> (its BASE_URL); a partner portal runs on http://localhost:<other>,
a different origin, and sends ``default-src 'none'; script-src BASE; connect-src BASE; style-src 'self';
frame-src BASE``. Chromium loads the partner's pages with ``--dump-dom``; the widgets' DOM, the browser's
console (CSP violations) and the requests the service saw are checked. Chromium runs in Los Angeles time,
so a date shown in the reader's zone instead of Korea's would be a day early.

Needs Debian's ``chromium`` (CI installs it); skipped otherwise. The screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from feedservice import create_app
from conftest import make_store_dict

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STATIC = Path(__file__).resolve().parent.parent / "feedservice" / "static"
TIMEOUT = 60  # seconds, for each Chromium run
PAUSE = b"<!--pause-->"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not found: install Debian's chromium package (apt-get install chromium)"
)

STORE = make_store_dict(8)  # a00000 (2020-01-01) .. a00007 (2020-01-08), all at 09:00 KST
TITLES = {a["id"]: a["title"] for a in STORE["articles"]}
MOLIT = "Ministry of Land, Infrastructure and Transport"
NGII = "National Geographic Information Institute"


# Servers


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:
        pass


@dataclass
class Service:
    """The real app on 127.0.0.1, and every (path?query, status) it answered."""

    base: str
    requests: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    path = tmp_path_factory.mktemp("store") / "articles.json"
    path.write_text(json.dumps(STORE, ensure_ascii=False), encoding="utf-8")
    holder: dict[str, Callable] = {}
    seen: list[tuple[str, int]] = []

    def recording(environ: dict, start_response: Callable) -> Any:
        qs = environ.get("QUERY_STRING")
        target = environ["PATH_INFO"] + (f"?{qs}" if qs else "")

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            seen.append((target, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return holder["app"](environ, start)

    # The port is known only once the server is bound, and BASE_URL needs it: bind first, then build the app.
    server = make_server("127.0.0.1", 0, recording, threaded=True, request_handler=_QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "BASE_URL": base})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Service(base, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


@dataclass
class Partner:
    """The partner portal on http://localhost:<port>: pages (body, CSP) by path."""

    origin: str
    pages: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def partner(service: Service) -> Iterator[Partner]:
    pages: dict[str, tuple[str, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/svc/feeds/"):
                # A feed server that dies mid-request: the connection closes with no response at all.
                self.close_connection = True
                return
            if self.path == "/svc/embed.js":
                self._send(200, (STATIC / "embed.js").read_bytes(), "text/javascript; charset=utf-8", "")
            elif self.path in pages:
                body, csp = pages[self.path]
                ctype = "text/css" if self.path.endswith(".css") else "text/html; charset=utf-8"
                self._send(200, body.encode("utf-8"), ctype, csp)
            else:
                self._send(404, b"not found\n", "text/plain", "")

        def _send(self, status: int, body: bytes, ctype: str, csp: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if csp:
                self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            # A page with a pause marker arrives in two parts, so its scripts run before the rest is parsed.
            first, pause, rest = body.partition(PAUSE)
            self.wfile.write(first)
            if pause:
                self.wfile.flush()
                time.sleep(0.5)
            self.wfile.write(pause + rest)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # localhost, not 127.0.0.1: another origin than the service's.
        yield Partner(f"http://localhost:{server.server_port}", pages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def strict_csp(base: str, extra: str = "") -> str:
    return f"default-src 'none'; script-src {base}{extra}; connect-src {base}{extra}; style-src 'self'; frame-src {base}"


# The browser


@dataclass
class Run:
    dom: str
    console: list[str]  # the page's and its frames' console messages: CSP violations land here


def chromium(url: str, *extra: str, tmp_path: Path) -> Run:
    """Loads ``url`` in headless Chromium (Los Angeles time) and returns the DOM after scripts ran."""
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
        "--enable-logging=stderr", "--v=0", "--lang=en-US", "--dump-dom", *extra, url,
    ]
    env = {**os.environ, "TZ": "America/Los_Angeles", "LANG": "en_US.UTF-8"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "</html>" in proc.stdout, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return Run(proc.stdout, console)


class Widgets(HTMLParser):
    """Collects each rendered widget (an element with class "feedservice") and what it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.widgets: list[dict[str, Any]] = []
        self.styled: list[str] = []  # tags with a style attribute
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "style" in a:
            self.styled.append(tag)
        if "feedservice" in classes:
            self.widgets.append({"id": a.get("id"), "links": [], "dates": [], "ministries": [], "fallback": []})
            return
        if not self.widgets:
            return
        w = self.widgets[-1]
        if "feedservice-link" in classes:
            w["links"].append([a.get("href"), ""])
            self._field = "link"
        elif "feedservice-date" in classes:
            w["dates"].append([a.get("datetime"), ""])
            self._field = "date"
        elif "feedservice-ministry" in classes:
            w["ministries"].append("")
            self._field = "ministry"
        elif tag == "a" and self._field == "fallback":
            w["fallback"].append(a.get("href"))
        elif "feedservice-fallback" in classes:
            self._field = "fallback"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "time", "span", "p"):
            self._field = None if self._field != "fallback" or tag == "p" else self._field

    def handle_data(self, data: str) -> None:
        if not self.widgets or self._field is None:
            return
        w = self.widgets[-1]
        if self._field == "link":
            w["links"][-1][1] += data
        elif self._field == "date":
            w["dates"][-1][1] += data
        elif self._field == "ministry":
            w["ministries"][-1] += data


def parse(dom: str) -> Widgets:
    p = Widgets()
    p.feed(dom)
    p.close()
    return p


def violations(run: Run) -> list[str]:
    return [line for line in run.console if "violates" in line or "Refused" in line]


def get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
        resp.read()
        return resp.status


def kst_day_shown(text: str, day: int) -> bool:
    """True if a localized date of January ``day``, 2020 shows that day (and not the one before)."""
    numbers = re.findall(r"\d+", text)
    return "2020" in numbers and str(day) in numbers and str(day - 1) not in numbers


# The tests


def test_widgets_show_the_newest_headlines_under_a_strict_csp(service, partner, tmp_path):
    base = service.base
    partner.pages["/host.css"] = ((ARTIFACT_CSS + (STATIC / "embed.css").read_text(encoding="utf-8")), "")
    partner.pages["/news.html"] = (
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Partner city portal</title>
<link rel="stylesheet" href="/host.css">
<script src="{base}/embed.js" data-feed="all" data-limit="5" data-target="news" async></script>
</head><body>
<!--pause-->
<header><h1>Partner city portal</h1><p>Headlines from the Smart City Comprehensive Portal, embedded two ways.</p></header>
<main>
<section><h2>Script widget: all news</h2><div id="news"><a href="{base}/">Smart city news</a></div>
<h2>Script widget: NGII, 2 items</h2>
<script src="{base}/embed.js" data-feed="ministries/ngii" data-limit="2" async></script></section>
<section><h2>Iframe: topic Maps &amp; Surveys</h2>
<iframe src="{base}/embed/topics/maps.html?limit=3" title="Maps and surveys news" width="440" height="330"></iframe></section>
</main></body></html>""",
        strict_csp(base),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "embed.png"
    shot.unlink(missing_ok=True)
    run = chromium(f"{partner.origin}/news.html", f"--screenshot={shot}", "--window-size=1000,700", tmp_path=tmp_path)

    assert violations(run) == []
    page = parse(run.dom)
    assert page.styled == []
    news, ngii = page.widgets
    # data-target, from a script in <head> that may run before the target is parsed: the host's link replaced.
    assert news["id"] == "news"
    assert news["fallback"] == []
    newest = ["a00007", "a00006", "a00005", "a00004", "a00003"]
    assert news["links"] == [[f"{base}/articles/{i}", TITLES[i]] for i in newest]
    assert [d for d, _ in news["dates"]] == [f"2020-01-0{int(i[-1]) + 1}T09:00:00+09:00" for i in newest]
    for (_, text), i in zip(news["dates"], newest):
        assert kst_day_shown(text, int(i[-1]) + 1), text
    assert news["ministries"] == [MOLIT, f"{MOLIT}, {NGII}", MOLIT, MOLIT, f"{MOLIT}, {NGII}"]
    # No data-target: the list goes right after the script.
    assert ngii["id"] is None
    assert ngii["links"] == [[f"{base}/articles/{i}", TITLES[i]] for i in ("a00006", "a00003")]
    assert '<script src="' + base + '/embed.js" data-feed="ministries/ngii" data-limit="2" async="" data-feedservice-done=""></script><div class="feedservice">' in run.dom
    # Every link works.
    for href, _ in news["links"] + ngii["links"]:
        assert get_status(href) == 200, href
    # The browser asked for exactly what the attributes said, and framed the iframe page.
    assert ("/feeds/all.json?limit=5", 200) in service.requests
    assert ("/feeds/ministries/ngii.json?limit=2", 200) in service.requests
    assert ("/embed/topics/maps.html?limit=3", 200) in service.requests
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_iframe_page_renders_in_the_browser_without_any_csp_violation(service, tmp_path):
    run = chromium(f"{service.base}/embed/topics/maps.html?limit=3", tmp_path=tmp_path)
    assert violations(run) == []  # its inline style is allowed by its hash
    (widget,) = parse(run.dom).widgets  # <body class="feedservice">
    ids = ["a00006", "a00004", "a00002"]
    assert widget["links"] == [[f"{service.base}/articles/{i}", TITLES[i]] for i in ids]
    assert [t for _, t in widget["dates"]] == ["2020-01-07", "2020-01-05", "2020-01-03"]
    for href, _ in widget["links"]:
        assert get_status(href) == 200


def test_widget_falls_back_to_a_plain_link_when_the_feed_cannot_be_had(service, partner, tmp_path):
    base = service.base
    partner.pages["/fallback.html"] = (
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Broken widgets</title></head><body>
<div id="missing"></div><script src="{base}/embed.js" data-feed="ministries/nope" data-target="missing" async></script>
<div id="bad-feed"></div><script src="{base}/embed.js" data-feed="../healthz?" data-target="bad-feed" async></script>
<div id="bad-limit"></div><script src="{base}/embed.js" data-feed="all" data-limit="50" data-target="bad-limit" async></script>
<div id="dead"></div><script src="{partner.origin}/svc/embed.js" data-feed="all" data-target="dead" async></script>
<iframe src="{base}/embed/all.html" title="allowed"></iframe>
<iframe src="{base}/" title="not framable: proves frame-ancestors violations are seen"></iframe>
</body></html>""",
        strict_csp(base, " 'self'"),
    )
    before = len(service.requests)
    run = chromium(f"{partner.origin}/fallback.html", tmp_path=tmp_path)

    widgets = {w["id"]: w for w in parse(run.dom).widgets}
    assert set(widgets) == {"missing", "bad-feed", "bad-limit", "dead"}
    for name in ("missing", "bad-feed", "bad-limit"):
        assert widgets[name]["links"] == [], name
        assert widgets[name]["fallback"] == [f"{base}/"], name
    assert widgets["dead"]["fallback"] == [f"{partner.origin}/svc/"]
    assert get_status(f"{base}/") == 200
    # An invalid data-feed or data-limit is never requested; the unknown feed is, and is a 404.
    asked = service.requests[before:]
    assert ("/feeds/ministries/nope.json?limit=5", 404) in asked
    assert not [t for t, _ in asked if "healthz" in t or "limit=50" in t]
    # The iframe page may be framed by anyone; the index page (the control) may not.
    bad = violations(run)
    assert len(bad) == 1 and "frame-ancestors 'none'" in bad[0] and f"'{base}/'" in bad[0], bad
    assert ("/embed/all.html", 200) in asked


# The partner's own style sheet for the screenshot: a two-column page; the widget styled by embed.css.
ARTIFACT_CSS = """
body { font: 16px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f4f6f8; }
header { background: #2d6a4f; color: #fff; padding: .4rem 1.2rem; }
header h1 { margin: .2rem 0; font-size: 1.4rem; }
main { display: flex; gap: 1.5rem; padding: 0 1.2rem; }
section { flex: 1; background: #fff; padding: .2rem 1rem 1rem; margin-top: 1rem; }
h2 { font-size: 1rem; color: #2d6a4f; margin: .8rem 0 .3rem; }
iframe { border: 1px solid #ccd; }
"""
