"""Broken stores: every one refused by check-store, by serve at start and by hot reload, with place and fix.

The corpus is ``tests/stores/bad/``, one broken store per file; ``tests/stores/expected.txt`` names, for each,
a substring of its message giving the place and one giving the fix. Files too big or too odd to commit (a
200 MB store, 100,000 nested brackets) are made in ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from feedservice import create_app
from feedservice import loader
from feedservice.cli import cli
from feedservice.errors import StoreError
from feedservice.live import LiveStore
from feedservice.loader import DEFAULT_MAX_BYTES, load_store

STORES = Path(__file__).resolve().parent / "stores"
GOOD = STORES / "good.json"


def _expected() -> list[tuple[str, str, str]]:
    rows = []
    for line in (STORES / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, place, fix = line.split("\t")
            rows.append((name, place, fix))
    return rows


EXPECTED = _expected()
CASES = [pytest.param(STORES / "bad" / name, place, fix, id=name.removesuffix(".json")) for name, place, fix in EXPECTED]


def _assert_message(text: str, path: Path | str, place: str, fix: str) -> None:
    assert "Traceback" not in text
    assert f"{path}: " in text, f"the file is not named:\n{text}"
    assert place in text, f"no place {place!r} in:\n{text}"
    assert fix in text, f"no fix {fix!r} in:\n{text}"
    assert "\x1b" not in text and "\x00" not in text


def _touch_changed(path: Path, step: int) -> None:
    """Gives ``path`` an mtime no earlier check has seen, so the watcher cannot miss the change."""
    ns = 1_700_000_000_000_000_000 + step * 1_000_000_000
    os.utime(path, ns=(ns, ns))


def test_corpus_is_complete():
    files = sorted(p.name for p in (STORES / "bad").iterdir())
    assert len(files) >= 30
    assert files == sorted(name for name, _, _ in EXPECTED), "every corpus file needs one line in expected.txt"
    load_store(GOOD)  # the store the corpus breaks is itself good


@pytest.mark.parametrize(("path", "place", "fix"), CASES)
def test_check_store_refuses(runner, path, place, fix):
    result = runner.invoke(cli, ["check-store", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    _assert_message(result.stdout, path, place, fix)
    assert "problem(s); nothing was changed" in result.stderr


@pytest.mark.parametrize(("path", "place", "fix"), CASES)
def test_create_app_refuses(path, place, fix):
    with pytest.raises(StoreError) as info:
        create_app({"STORE": str(path), "RELOAD_SECONDS": 0})
    assert info.value.problems
    assert all(p.startswith(f"{path}: ") for p in info.value.problems)
    _assert_message(str(info.value), path, place, fix)


@pytest.mark.parametrize(("path", "place", "fix"), CASES)
def test_serve_refuses_to_start(runner, monkeypatch, path, place, fix):
    monkeypatch.setenv("FEEDSERVICE_STORE", "unset")  # serve writes it for its workers; restored afterwards
    result = runner.invoke(cli, ["serve", "--store", str(path), "--port", "1"])
    assert result.exit_code == 1, result.output
    assert "refusing to start" in result.stderr
    _assert_message(result.stderr, path, place, fix)


@pytest.mark.parametrize(("path", "place", "fix"), CASES)
def test_hot_reload_keeps_the_last_good_store(tmp_path, path, place, fix):
    live_path = tmp_path / "articles.json"
    shutil.copyfile(GOOD, live_path)
    live = LiveStore(str(live_path), DEFAULT_MAX_BYTES, interval=0)
    good_version = live.current.version

    shutil.copyfile(path, live_path)
    _touch_changed(live_path, 1)
    assert live.check() is False
    assert live.current.version == good_version
    assert live.status == "degraded"
    _assert_message(live.error or "", live_path, place, fix)

    shutil.copyfile(GOOD, live_path)
    _touch_changed(live_path, 2)
    live.check()
    assert live.status == "ok" and live.error is None
    assert live.current.version == good_version


def test_a_running_app_keeps_serving_and_reports_the_refused_store(tmp_path):
    live_path = tmp_path / "articles.json"
    shutil.copyfile(GOOD, live_path)
    app = create_app({"STORE": str(live_path), "RELOAD_SECONDS": 0})
    client = app.test_client()
    before = client.get("/feeds/all.json").data
    name, place, fix = next(row for row in EXPECTED if row[0] == "055-naive-date.json")
    shutil.copyfile(STORES / "bad" / name, live_path)
    _touch_changed(live_path, 1)
    assert app.extensions["feedservice"].live.check() is False
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    _assert_message(health["error"], live_path, place, fix)
    assert client.get("/feeds/all.json").data == before


# -- too big, too deep: made at test time -----------------------------------------------------------------------

def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)  # a hole: no disk used, no time spent writing
    return path


def test_a_200_mb_store_is_refused_by_size_without_reading_it(tmp_path, runner, monkeypatch):
    big = _sparse(tmp_path / "big.json", 200 * 1024 * 1024)
    assert big.stat().st_size > DEFAULT_MAX_BYTES

    def no_open(*args, **kwargs):
        raise AssertionError("the loader opened a file it should have refused by its size")

    monkeypatch.setattr(loader, "open", no_open, raising=False)  # shadows the builtin inside the loader only
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        load_store(big)
    assert time.monotonic() - started < 1.0
    message = str(info.value)
    assert message == (
        f"{big}: the file is 209,715,200 bytes, over the limit of 157,286,400; "
        "split the archive or raise FEEDSERVICE_MAX_STORE_BYTES"
    )

    result = runner.invoke(cli, ["check-store", str(big)])
    assert result.exit_code == 1 and "over the limit of 157,286,400" in result.stdout

    with pytest.raises(StoreError, match="over the limit"):
        create_app({"STORE": str(big), "RELOAD_SECONDS": 0})

    monkeypatch.setenv("FEEDSERVICE_STORE", "unset")
    result = runner.invoke(cli, ["serve", "--store", str(big), "--port", "1"])
    assert result.exit_code == 1 and "over the limit" in result.stderr and "Traceback" not in result.output


def test_hot_reload_refuses_a_200_mb_store(tmp_path):
    live_path = tmp_path / "articles.json"
    shutil.copyfile(GOOD, live_path)
    live = LiveStore(str(live_path), DEFAULT_MAX_BYTES, interval=0)
    _sparse(tmp_path / "big.json", 200 * 1024 * 1024)
    os.replace(tmp_path / "big.json", live_path)
    assert live.check() is False
    assert live.status == "degraded" and "over the limit of 157,286,400" in (live.error or "")


def test_max_store_bytes_setting_is_the_limit(tmp_path):
    path = tmp_path / "articles.json"
    shutil.copyfile(GOOD, path)
    size = path.stat().st_size
    with pytest.raises(StoreError, match=f"the file is {size:,} bytes, over the limit of 1,000; "):
        create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "MAX_STORE_BYTES": 1000})
    create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "MAX_STORE_BYTES": size})


@pytest.mark.parametrize("opening", ["[", '{"a":', '{"articles":['])
def test_deeply_nested_json_is_refused(tmp_path, runner, opening):
    path = tmp_path / "deep.json"
    path.write_text(opening * 100_000, encoding="utf-8")
    result = runner.invoke(cli, ["check-store", str(path)])
    assert result.exit_code == 1
    _assert_message(result.stdout, path, "nested too deeply", "check for runaway brackets")
    with pytest.raises(StoreError, match="nested too deeply"):
        create_app({"STORE": str(path), "RELOAD_SECONDS": 0})


def test_deeply_nested_json_is_refused_by_the_reload_thread(tmp_path):
    """The watcher runs in a thread, whose stack is smaller than the main thread's."""
    live_path = tmp_path / "articles.json"
    shutil.copyfile(GOOD, live_path)
    live = LiveStore(str(live_path), DEFAULT_MAX_BYTES, interval=0)
    live_path.write_text("[" * 100_000, encoding="utf-8")
    _touch_changed(live_path, 1)
    errors: list[BaseException] = []

    def check() -> None:
        try:
            live.check()
        except BaseException as e:  # noqa: BLE001 - the test reports whatever escaped
            errors.append(e)

    thread = threading.Thread(target=check)
    thread.start()
    thread.join(30)
    assert not errors
    assert live.status == "degraded" and "nested too deeply" in (live.error or "")


def test_a_missing_file_and_a_directory_are_refused(tmp_path, runner):
    for path, what in ((tmp_path / "none.json", "No such file or directory"), (tmp_path, "Is a directory")):
        result = runner.invoke(cli, ["check-store", str(path)])
        assert result.exit_code == 1
        _assert_message(result.stdout, path, what, "check the path and its permissions")


def test_every_problem_is_reported_at_once_in_file_order():
    import json

    doc = json.loads(GOOD.read_text(encoding="utf-8"))
    doc["portal"]["timezone"] = "KST"
    doc["ministries"][0]["homepage"] = "www.molit.go.kr"
    doc["articles"][0]["published"] = "15/02/2024"
    doc["articles"][1]["ministries"] = ["molt"]
    doc["articles"][2]["title"] = "bell\u0007"
    with pytest.raises(StoreError) as info:
        loader.parse_store(json.dumps(doc).encode(), "s.json")
    places = [p.split(": ")[1] for p in info.value.problems]
    assert places == [
        "portal", "ministries[0] (molit)", "articles[0] (2024-02-15-digital-twin)",
        "articles[1] (2024-03-01-smart-city-challenge)", "articles[2] (2024-05-23-solution-expansion)",
    ]


# -- the real command, with a real terminal encoding ----------------------------------------------------------

def _run_check_store(path: str | bytes) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "feedservice", "check-store", path], capture_output=True, env=env, timeout=60
    )


@pytest.mark.parametrize("name", ["073-surrogate-in-date.json", "074-terminal-escape-in-date.json", "007-latin1.json"])
def test_check_store_command_prints_unprintable_values_escaped(name):
    done = _run_check_store(str(STORES / "bad" / name))
    assert done.returncode == 1
    assert b"Traceback" not in done.stdout + done.stderr
    assert b"\x1b" not in done.stdout and b"\xed\xa0\x80" not in done.stdout  # no ESC, no encoded surrogate
    done.stdout.decode("utf-8")  # strict: the output is valid UTF-8


def test_check_store_command_with_a_file_name_that_is_not_utf8(tmp_path):
    path = os.fsencode(tmp_path) + b"/store-\xff.json"
    with open(path, "wb") as f:
        f.write(b"")
    done = _run_check_store(path)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"store-\\udcff.json: the file is empty" in done.stdout
