"""Golden files: a small store's feeds in every format, byte for byte.

After an intended change to the output, run `make test PYTEST_ARGS=--regen-golden` (or
`.venv/bin/python -m pytest tests/test_golden.py --regen-golden`) and review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedservice import create_app
from conftest import make_store_dict

GOLDEN = Path(__file__).parent / "golden"
PATHS = [
    "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json",
    "/feeds/all/archive/1.atom", "/feeds/all/archive/2.rss", "/feeds/all/archive/1.json",
    "/feeds/ministries/ngii.atom", "/feeds/topics/maps.rss", "/feeds/topics/policy.json",
    "/feeds.opml",
]


@pytest.fixture(scope="module")
def golden_app(tmp_path_factory):
    doc = make_store_dict(5)
    arts = doc["articles"]
    arts[1]["content_html"] = '<p>Full text with <a href="https://www.molit.go.kr/x">a link</a> &amp; 국토.</p>'
    arts[2]["url"] = "https://www.molit.go.kr/news/2"
    arts[3]["updated"] = "2020-01-05T18:30:00+09:00"
    arts[0]["withdrawn"] = {"date": "2020-01-09", "reason": "Published in error; see the corrected notice."}
    arts[4]["corrections"] = [{"date": "2020-01-08", "note": "The budget figure was corrected."}]
    path = tmp_path_factory.mktemp("golden") / "articles.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "PAGE_SIZE": 2})


@pytest.mark.parametrize("path", PATHS)
def test_golden(golden_app, path, request):
    body = golden_app.test_client().get(path).get_data()
    golden = GOLDEN / (path.strip("/").replace("/", "__"))
    if request.config.getoption("--regen-golden"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(body)
    assert golden.exists(), f"{golden} is missing: run pytest {__file__} --regen-golden and review it"
    assert body == golden.read_bytes(), f"{path} differs from {golden}; if intended, regenerate and review the diff"
