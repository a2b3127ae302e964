"""A first load split with a forked child (``forked``, ``loader_parts``) and the articles built when shown
(``store.LazyArticles``) give the very store a load in one process gives."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest

from feedservice import forked, loader
from feedservice.loader_parts import PartRead, merged_index, part_index
from feedservice.lazy import LazyArticles, LazyDict
from feedservice.store import Correction, Entry, Ministry, Topic, Withdrawal
from test_loader_equivalence import _generated, _lines

ROOT = Path(__file__).resolve().parent.parent

# Loads a store in a new process (no thread but the main one, so it may fork) with the fork threshold at 1, and
# prints what a reader could see of it, and whether a child did its share.
PROBE = r"""
import json, sys
from feedservice import forked, loader, loader_parts
loader.FORK_FROM = 1
import os
ran = []
running = []  # whether the child was still running when its answer was read
start = forked.start
def spying(work):
    result = start(work)
    if result is None:
        return None
    def waited():
        got = result()
        ran.append(got is not None)
        if got is not None:
            # WNOWAIT: only look, leave it to be waited for
            running.append(os.waitid(os.P_PID, forked._exiting[0], os.WEXITED | os.WNOHANG | os.WNOWAIT) is None)
        return got
    return waited
forked.start = spying
reaps = []
reap = forked.reap
def reaping():
    reaps.append(reap())
    return reaps[-1]
forked.reap = reaping
def children_left():
    try:
        os.waitpid(-1, os.WNOHANG)
        return 1
    except ChildProcessError:
        return 0  # no child, not even one that has exited and was never waited for
if sys.argv[2] == "slow-exit":  # the child takes a second to exit after its answer
    import time
    main, exit_now = os.getpid(), os._exit
    def slow_exit(code):
        if os.getpid() != main:
            time.sleep(1)
        exit_now(code)
    os._exit = slow_exit
merged = False
merge = loader.merged_index
def merging(*args):
    global merged
    merged = True
    return merge(*args)
loader.merged_index = merging
if sys.argv[2] == "child-fails":
    def fails(*args):
        raise RuntimeError("the child fails on purpose")
    loader_parts.PartRead.encode = fails
if sys.argv[2] == "parent-fails":  # the parent's own part raises while the child works
    typed_part = loader._Checker._typed_part
    def failing(elements, ks, typed):
        if ks and ks[0] == 0:
            raise MemoryError("the parent fails on purpose")
        return typed_part(elements, ks, typed)
    loader._Checker._typed_part = staticmethod(failing)
    try:
        loader.parse_store(open(sys.argv[1], "rb").read(), "store.json")
    except MemoryError:
        import os
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            sys.stdout.write(json.dumps({"ran": ran, "left": 0}))
        else:
            sys.stdout.write(json.dumps({"ran": ran, "left": 1}))
    sys.exit()
if sys.argv[2] == "no-memfd":  # the shared range cannot be made (no file descriptor left, say)
    def no_memfd(*args):
        raise OSError(24, "Too many open files")
    forked.Shared.__init__ = no_memfd
met = []
shared_met = forked.Shared.met
def meeting(self):
    met.append(shared_met(self))
    return met[-1]
forked.Shared.met = meeting
if sys.argv[2].startswith(("slow-child", "slow-parent")):  # one process is slowed down on its own part
    import os, time
    loader.CHUNK = 4  # the shared articles in pieces of 4
    loader.KEPT = 10 if sys.argv[2].endswith("-kept") else 0  # the child leaves the parent 10 of them, or none
    main = os.getpid()
    typed_part = loader._Checker._typed_part
    def slowed(elements, ks, typed):
        child = os.getpid() != main
        if ks and (ks[-1] == len(elements.texts) - 1 if child else ks[0] == 0) and child == sys.argv[2].startswith("slow-child"):
            time.sleep(0.5)
        return typed_part(elements, ks, typed)
    loader._Checker._typed_part = staticmethod(slowed)
if sys.argv[2] == "reaped":  # a host's SIGCHLD handler reaps the child before the loader can
    import os
    waitpid = os.waitpid
    def reaped(pid, options):
        waitpid(pid, options)
        raise ChildProcessError(10, "No child processes")
    os.waitpid = reaped
def seen(store):
    return repr((store.version, list(store.entries), list(store.articles),
        {k: list(s.positions) for k, s in store.selections.items()}, store.by_id, store.withdrawn_positions,
        store.corrected_positions, store.last_change))
def reloaded(store):  # a reload from the file named third, if any: what it gives, and how many entries it kept
    if len(sys.argv) <= 3:
        return {}
    again = loader.parse_store(open(sys.argv[3], "rb").read(), "store.json")
    before = {e.id: e for e in store.entries}
    return {"again": seen(again), "kept": sum(e is before.get(e.id) for e in again.entries)}
store = loader.parse_store(open(sys.argv[1], "rb").read(), "store.json")
print(json.dumps({"ran": ran, "running": running, "reaped": reaps, "left": children_left(), "merged": merged, "met": met,
    "seen": seen(store), **reloaded(store)}))
"""


def _seen(store) -> str:
    return repr((store.version, list(store.entries), list(store.articles),
                 {k: list(s.positions) for k, s in store.selections.items()}, store.by_id, store.withdrawn_positions,
                 store.corrected_positions, store.last_change))


def _forked_load(tmp_path: Path, raw: bytes, mode: str = "", then: bytes | None = None) -> dict:
    """What ``PROBE`` prints for a load of ``raw``, and a reload of ``then`` after it, if given."""
    path, again = tmp_path / "store.json", tmp_path / "again.json"
    path.write_bytes(raw)
    if then is not None:
        again.write_bytes(then)
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), mode, *([str(again)] if then is not None else [])],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _doc(n: int = 120, plain: bool = False) -> dict:
    """A store whose articles take every way through the loader, in both parts; or, ``plain``, only the typed
    path (the parts are then indexed apart and merged)."""
    doc = _generated(n, seed=7)
    if plain:
        return doc
    for k in (11, 101):
        doc["articles"][k]["source"] = {"newsletter": 58, "note": "caf\u00e9"}  # a suspect byte: checked text by text
    for k in (13, 103):
        doc["articles"][k]["url"] = "https://example.org:8080/a"  # not a plain URL: the detailed check takes it
    for k in (17, 107):
        doc["articles"][k]["content_html"] = None  # the Structs refuse a null; orjson and the dict path take it
    return doc


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("mode, reaped", [
    ("", [0]),
    ("child-fails", [1, None]),  # reaped when its answer did not come, then nothing is left to reap
    ("reaped", ["reaped elsewhere"]),  # a SIGCHLD handler took it after its answer: the answer is still used
    ("slow-exit", [0]),
])
def test_a_first_read_shared_with_a_child_gives_the_store_one_process_gives(tmp_path, monkeypatch, mode, reaped, plain):
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    raw = _lines(_doc(plain=plain))
    alone = loader.parse_store(raw, "store.json")
    got = _forked_load(tmp_path, raw, mode)
    assert got["merged"] == (mode != "child-fails" and plain)  # the parts' own indexes, merged
    assert got["ran"] == [mode != "child-fails"]  # a child ran; when it failed, the parent did its share
    assert got["reaped"] == reaped and got["left"] == 0
    if mode == "slow-exit":
        assert got["running"] == [True]  # its answer was read while it was still exiting
    assert got["seen"] == _seen(alone)


@pytest.mark.parametrize("change", ["layout", "title"])
def test_a_reload_after_a_merged_first_read_keeps_what_it_read(tmp_path, monkeypatch, change):
    # After a merge, the store's entries and texts are in the merged order, not the file's: the reload memo and
    # the entries kept when a reload reads everything again must pair each text with its own entry.
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    doc = _doc(plain=True)
    raw = _lines(doc)
    if change == "layout":  # every article's text differs: all are read again, merged, and kept if equal
        then = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    else:  # one article's text differs: only that one is read again
        doc["articles"][7]["title"] += " (revised)"
        then = _lines(doc)
    got = _forked_load(tmp_path, raw, then=then)
    assert got["merged"] and got["seen"] == _seen(loader.parse_store(raw, "store.json"))
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    assert got["again"] == _seen(loader.parse_store(then, "store.json"))
    # the title is not in an entry, so even the revised article's entry is equal; it was read again, though
    assert got["kept"] == len(doc["articles"]) - (change == "title")


@pytest.mark.parametrize("slow, met", [
    ("slow-child", 75), ("slow-parent", 51),
    ("slow-parent-kept", 63),  # the child took 63-74 a piece at a time; taking 59-62 would have left 8 of 10
])
def test_the_shared_articles_go_to_whichever_process_is_free_first(tmp_path, monkeypatch, slow, met):
    # 120 articles: the parent's own part is articles 0-50, the child's 75-119, and 51-74 go to the first free.
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    raw = _lines(_doc(plain=True))
    got = _forked_load(tmp_path, raw, slow)
    assert got["met"] == [met]  # the child's part began there: it took none of the shared articles, or all
    assert got["ran"] == [True] and got["merged"]
    assert got["seen"] == _seen(loader.parse_store(raw, "store.json"))


def test_a_first_read_that_cannot_share_its_work_does_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    raw = _lines(_doc())
    got = _forked_load(tmp_path, raw, "no-memfd")
    assert got["ran"] == [] and got["met"] == []  # no child was forked
    assert got["seen"] == _seen(loader.parse_store(raw, "store.json"))


def test_a_parent_that_fails_while_the_child_works_leaves_no_child_behind(tmp_path):
    assert _forked_load(tmp_path, _lines(_doc(plain=True)), "parent-fails") == {"ran": [True], "left": 0}


@pytest.mark.parametrize("twice", [(2, 110), (100, 110), (2, 4)])  # across the parts, in the child's, in the parent's
def test_an_id_given_twice_is_found_whichever_parts_hold_it(tmp_path, twice):
    doc = _doc(plain=True)
    first, again = twice
    doc["articles"][again]["id"] = doc["articles"][first]["id"]
    path = tmp_path / "store.json"
    path.write_bytes(_lines(doc))
    problems = _forked_problems(path)
    assert problems == [
        f"store.json: articles[{again}] ({doc['articles'][first]['id']}): id: '{doc['articles'][first]['id']}' is "
        f"already the id of articles[{first}]; ids are permanent, give this article a new one"
    ]


def _forked_problems(path: Path) -> list[str]:
    script = PROBE.replace("store = loader", "try:\n    store = loader").replace(
        "print(json.dumps", "except Exception as e:\n    print(json.dumps({'problems': e.problems}))\n    sys.exit()\nprint(json.dumps")
    out = subprocess.run([sys.executable, "-c", script, str(path), ""], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["problems"]


def test_a_first_read_shared_with_a_child_still_names_every_problem(tmp_path, monkeypatch):
    doc = _doc()
    doc["articles"][100]["published"] = "15/02/2024"  # in the child's part
    doc["articles"][3]["ministries"] = ["no-such-ministry"]  # in the parent's
    path = tmp_path / "store.json"
    path.write_bytes(_lines(doc))
    problems = _forked_problems(path)
    assert [p.split(": ")[1] for p in problems] == [
        f"articles[3] ({doc['articles'][3]['id']})", f"articles[100] ({doc['articles'][100]['id']})"
    ]
    assert "published: '15/02/2024' is not an RFC 3339 date" in problems[1]


@pytest.mark.parametrize("tz, usable", [
    (dt.timezone(dt.timedelta(hours=9)), True),
    (dt.timezone(dt.timedelta(hours=-3, minutes=-30)), True),
    (dt.timezone(dt.timedelta(hours=9, seconds=30)), False),  # RFC 3339 cannot write it
    (zoneinfo.ZoneInfo("Asia/Seoul"), False),  # offsets in seconds before 1908
])
def test_a_part_goes_through_bytes_only_in_a_zone_rfc_3339_writes_exactly(tz, usable):
    assert PartRead.usable(tz) is usable


def test_a_part_read_back_is_the_part_written():
    tz = dt.timezone(dt.timedelta(hours=9))
    at = dt.datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=tz)
    later = at + dt.timedelta(days=2)
    slugs = ("molit", "ngii")
    entries = [
        Entry("a", at, at, slugs, ("smart-city",)),
        None,
        Entry("b", at, later, ("molit",), ("smart-city",), (Correction(later, "Fixed a figure"),)),
        Entry("c", later, later, slugs, (), (), Withdrawal(later, "Published in error")),
        None,
    ]
    wire = PartRead(tz)
    back, built, read, index = wire.decode(wire.encode(entries, 7, 9))
    assert back == entries and (built, read) == (7, 9) and index is None  # refused articles: no index
    whole = [e for e in entries if e is not None]
    own = part_index(whole, {"molit": Ministry("molit", "MOLIT"), "ngii": Ministry("ngii", "NGII")},
                     {"smart-city": Topic("smart-city", "Smart city")})
    back_whole, *_, index = wire.decode(wire.encode(whole, 0, 0, own))
    assert (index.order, index.groups, index.withdrawn, index.corrected) == (own.order, own.groups, [2], [1])
    assert back_whole == whole and own.keys is None  # the child's own index: the parent makes the keys
    assert index.ids == [e.id for e in whole] and index.keys == [(whole[k].published, whole[k].id) for k in own.order]
    assert {k: list(v) for k, v in index.groups.items()} == {
        "ministries/molit": [0, 1, 2], "ministries/ngii": [0, 2], "topics/smart-city": [0, 1]}
    assert part_index(whole + whole[:1], {"molit": Ministry("molit", "MOLIT")}, {}) is None  # an id twice
    assert back[0].ministries is back[3].ministries  # equal slug lists are one tuple again
    assert all(e is None or e.published.tzinfo == tz and e.published.utcoffset() == at.utcoffset() for e in back)


def test_lazy_articles_build_each_when_asked_and_keep_the_last_ones_built(monkeypatch):
    monkeypatch.setattr(LazyArticles, "CACHED", 2)
    store = loader.parse_store(_lines(_generated(12)), "store.json")
    arts = store.articles
    assert isinstance(arts, LazyArticles)
    built: list[bytes] = []
    build = arts._build
    lazy = LazyArticles(arts._texts, arts.entries, lambda text: built.append(bytes(text)) or build(text))
    assert len(lazy) == 12 and lazy[-1] == lazy[11] and lazy[2:5] == [lazy[2], lazy[3], lazy[4]]
    assert [a.id for a in lazy] == [e.id for e in arts.entries] and lazy == tuple(arts)
    with pytest.raises(IndexError):
        lazy[12]
    built.clear()
    lazy[0], lazy[0], lazy[1], lazy[0], lazy[2], lazy[1], lazy[0]
    assert len(built) == 4  # 0, 1 and 2 once each; 0 again after 2 pushed it out: only 2 are kept
    assert lazy[1] is lazy[1] and lazy[1].title and lazy[0].summary
    built.clear()
    assert lazy.many([5, 7, 5]) == [lazy[5], lazy[7], lazy[5]] == [build(arts._texts[k]) for k in (5, 7, 5)]
    assert len(built) == 2  # one build for each article not kept
    assert store.slice(store.selections["all"], 3, 6) == [lazy[5], lazy[4], lazy[3]]


@pytest.mark.parametrize("split", [0, 1, 37, 60, 119, 120])
def test_two_parts_indexed_apart_and_merged_are_the_whole_indexed_at_once(split):
    store = loader.parse_store(_lines(_doc()), "store.json")  # one process: fewer than FORK_FROM articles
    entries = list(store.entries)
    random.Random(split).shuffle(entries)  # file order is any order
    first, second = entries[:split], entries[split:]
    first_index = part_index(first, store.ministries, store.topics, keys=True)
    second_index = part_index(second, store.ministries, store.topics, keys=True)
    merged = merged_index(first_index, second_index, store.ministries, store.topics)
    assert [entries[k] for k in merged.order] == list(store.entries)  # places in first + second
    assert (merged.withdrawn, merged.corrected) == (store.withdrawn_positions, store.corrected_positions)
    assert len(merged.withdrawn) > 0 and len(merged.corrected) > 1
    assert {k: (s.title, list(s.positions)) for k, s in merged.selections.items()} == {
        k: (s.title, list(s.positions)) for k, s in store.selections.items()  # the whole's, indexed at once
    }


def test_a_lazy_dict_is_made_once_on_first_read_and_reads_as_the_dict():
    made = []
    index = LazyDict(lambda: made.append(1) or {"a": 0, "b": 1})
    store = loader.parse_store(_lines(_generated(12)), "store.json")
    assert made == [] and isinstance(store.by_id, LazyDict)  # the load did not make the id index
    assert index.get("a") == 0 and index["b"] == 1 and "b" in index and "c" not in index and index.get("c") is None
    assert index == {"a": 0, "b": 1} and list(index.values()) == [0, 1] and dict(index.items()) == {"a": 0, "b": 1}
    assert made == [1] and len(index) == 2 and repr(index) == "{'a': 0, 'b': 1}"
    first = store.entries[0]
    assert store.article(first.id).id == first.id and store.by_id[first.id] == 0


@pytest.mark.skipif(sys.platform != "linux", reason="forked.Shared is made only where a load may fork (Linux)")
@pytest.mark.parametrize("start, end, step, kept", [
    (0, 10, 3, 0), (5, 5, 2, 0), (7, 3, 2, 0), (0, 1000, 1, 0), (0, 10, 3, 4), (0, 1000, 7, 300), (0, 10, 3, 20),
])
def test_a_shared_range_is_taken_once_piece_by_piece_from_both_ends(start, end, step, kept):
    shared = forked.Shared(start, end, step, kept)
    taken: dict[str, list] = {"first": [], "last": []}
    for side in ["first", "last", "last"] * (abs(end - start) + 1):
        piece = getattr(shared, side)()
        if piece is not None:
            assert 0 < piece[1] - piece[0] <= step
            taken[side].append(piece)
    assert shared.first() is None and shared.last() is None
    pieces = taken["first"] + taken["last"]
    assert sorted(k for low, high in pieces for k in range(low, high)) == list(range(start, max(start, end)))
    assert shared.met() == min((low for low, _ in taken["last"]), default=max(start, end))
    shared.close()
    # last() leaves kept to first(), or all there is, even when it is asked first
    shared = forked.Shared(start, end, step, kept)
    lasts = list(iter(shared.last, None))
    firsts = list(iter(shared.first, None))
    assert sum(high - low for low, high in firsts) >= min(kept, max(0, end - start))
    assert sorted(k for low, high in firsts + lasts for k in range(low, high)) == list(range(start, max(start, end)))
    shared.close()


# In a new process, which runs no other thread, so it may fork: a child takes pieces from the end while this
# process takes them from the start; prints what each took and where they met.
SHARED_PROBE = r"""
import json, time
from feedservice import forked
shared = forked.Shared(0, 20_000, 7)
def pieces():  # a little work for each piece, as a load has: without it the child could take them all in the
    out = []   # few milliseconds this process may sleep past its turn on a busy host
    for piece in iter(shared.last, None):
        out.append(piece)
        time.sleep(0.0002)
    return out
result = forked.start(lambda: json.dumps(pieces()).encode())
assert result is not None, "no child"
deadline = time.monotonic() + 30
while shared.met() == 20_000 and time.monotonic() < deadline:  # until the child has begun
    time.sleep(0.001)
mine = list(iter(shared.first, None))
print(json.dumps({"mine": mine, "theirs": json.loads(result()), "met": shared.met()}))
shared.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="forked.Shared is made only where a load may fork (Linux)")
def test_a_shared_range_is_taken_once_by_a_process_and_its_child_at_the_same_time():
    out = subprocess.run([sys.executable, "-c", SHARED_PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    mine, theirs = [tuple(p) for p in got["mine"]], [tuple(p) for p in got["theirs"]]
    assert theirs and mine  # both took some
    places = [k for low, high in mine + theirs for k in range(low, high)]
    assert sorted(places) == list(range(20_000))  # every place once: none taken twice, none left
    assert got["met"] == min(low for low, _ in theirs) == max(high for _, high in mine)
