"""Fixtures: a small store built from a dict in tmp_path, and the app, client and CLI runner over it."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from feedservice import create_app

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_STORE = ROOT / "data" / "articles.json"


def make_store_dict(n: int = 3, **portal: Any) -> dict[str, Any]:
    """Returns a valid store dict with ``n`` articles over two ministries and two topics, one per day."""
    doc: dict[str, Any] = {
        "portal": {
            "title": "Test Portal",
            "subtitle": "Tests & <checks>",
            "base_url": "https://feeds.example.go.kr",
            "tag_authority": "example.go.kr,2025",
            "language": "en",
            "timezone": "+09:00",
            **portal,
        },
        "ministries": [
            {"slug": "molit", "name": "Ministry of Land, Infrastructure and Transport", "homepage": "https://www.molit.go.kr"},
            {"slug": "ngii", "name": "National Geographic Information Institute"},
        ],
        "topics": [{"slug": "policy", "name": "Policy"}, {"slug": "maps", "name": "Maps & Surveys"}],
        "articles": [],
    }
    for i in range(n):
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        year = 2020 + i // (28 * 12)
        doc["articles"].append(
            {
                "id": f"a{i:05d}",
                "title": f"Article {i}: roads & <rails> “국토” 'quoted'",
                "published": f"{year}-{month:02d}-{day:02d}T09:00:00+09:00",
                "ministries": ["molit"] if i % 3 else ["molit", "ngii"],
                "topics": ["policy"] if i % 2 else ["maps", "policy"],
                "summary": f"Summary {i} with & and < and \"quotes\" and 한글.",
            }
        )
    return doc


def free_port() -> int:
    """Returns a loopback port nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def write_store(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Returns a function that writes a store dict to tmp_path/articles.json and returns its path."""

    def write(doc: dict[str, Any], name: str = "articles.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    return write


@pytest.fixture
def store_dict() -> dict[str, Any]:
    return copy.deepcopy(make_store_dict())


@pytest.fixture
def store_path(write_store, store_dict) -> Path:
    return write_store(store_dict)


@pytest.fixture
def app(store_path):
    return create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def bundled_app():
    return create_app({"STORE": str(BUNDLED_STORE), "RELOAD_SECONDS": 0})


@pytest.fixture
def bundled_client(bundled_app):
    return bundled_app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/ from the current output")
