"""The validator on single documents: the corpus of broken feeds (one defect each), good and warning-only feeds,
the rule table, value checks, and the ``feedservice validate FILE_OR_URL`` command.

Corpus files are named after the rule they break: ``tests/feeds/bad/atom.entry-id-missing.atom`` must be
reported as ``atom:entry-id-missing``; text after ``--`` tells variants apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from feedservice.cli import cli
from feedservice.validate import ERROR, RULES, WARNING, Report, check_document, render_text, validate_sources
from feedservice.validate_rules import MAX_PER_RULE
from feedservice.validate_values import double_escaped, is_absolute_iri, rfc822, rfc3339

CORPUS = Path(__file__).resolve().parent / "feeds"
BAD = sorted((CORPUS / "bad").iterdir())
GOOD = sorted((CORPUS / "good").iterdir())
WARN = sorted((CORPUS / "warn").iterdir())
# What a reader also says about a document whose version is wrong: allowed beside the named rule.
COMPANIONS = {"feedparser:version"}


def expected_rule(path: Path) -> str:
    stem = path.name.rsplit(".", 1)[0].split("--")[0]
    return stem.replace(".", ":", 1)


def run(*paths: Path) -> Report:
    report = Report()
    assert validate_sources([str(p) for p in paths], report) == []
    return report


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_every_broken_feed_is_caught_by_the_rule_it_breaks(path):
    report = run(path)
    rule = expected_rule(path)
    assert RULES[rule].severity == ERROR
    errors = report.rules(ERROR)
    assert rule in errors, "\n".join(map(str, report.problems))
    assert errors - {rule} <= COMPANIONS, "\n".join(map(str, report.problems))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_feeds_raise_no_alarm(path):
    report = run(path)
    assert report.problems == []


@pytest.mark.parametrize("path", WARN, ids=lambda p: p.name)
def test_advice_is_a_warning_and_passes(path):
    report = run(path)
    rule = expected_rule(path)
    assert RULES[rule].severity == WARNING
    assert report.rules(WARNING) == {rule}, "\n".join(map(str, report.problems))
    assert report.errors == 0


def test_corpus_covers_every_format_with_at_least_forty_defects():
    by_format = {"atom": 0, "rss": 0, "json": 0}
    for path in BAD:
        ext = path.suffix.lstrip(".")
        if ext in by_format:
            by_format[ext] += 1
    assert len(BAD) >= 40
    assert all(n >= 10 for n in by_format.values()), by_format
    assert len({p.name for p in BAD}) == len(BAD)


def test_every_document_rule_has_a_broken_feed_in_the_corpus():
    """Rules about one document (not the store, HTTP, or several documents) are each proven by a corpus file."""
    proven = {expected_rule(p) for p in BAD + WARN}
    needs_more = {"feedparser:version", "xml:encoding-conflict", "rfc5005:chain-inconsistent"}
    families = ("xml:", "json:", "atom:", "rss:", "tombstone:", "rfc5005:", "feed:", "feedparser:")
    unproven = {r for r in RULES if r.startswith(families)} - proven - needs_more
    assert not unproven


def test_rules_have_stable_names_a_severity_and_a_citation():
    for name, rule in RULES.items():
        assert re.fullmatch(r"[a-z0-9]+:[a-z0-9-]+", name), name
        assert rule.severity in (ERROR, WARNING)
        assert rule.cite and rule.summary


def test_served_format_and_charset_are_checked():
    body = (CORPUS / "good" / "portal.atom").read_bytes()
    report = Report()
    check_document(body, "as-rss", report, content_type="application/rss+xml; charset=utf-8")
    assert report.rules(ERROR) == {"feedparser:version"}
    report = Report()
    check_document(body, "latin", report, content_type="application/atom+xml; charset=iso-8859-1")
    assert report.rules() == {"xml:encoding-conflict"} and report.errors == 0
    report = Report()
    check_document(body, "html", report, content_type="text/html; charset=utf-8")
    assert "http:content-type" in report.rules(ERROR)
    report = Report()
    check_document((CORPUS / "good" / "portal.json").read_bytes(), "json-as-atom", report, content_type="application/atom+xml")
    assert report.rules(ERROR) == {"feedparser:version"}


def test_archive_chain_is_checked_across_documents(tmp_path):
    page = (CORPUS / "good" / "archive-page.rss").read_text(encoding="utf-8")
    (tmp_path / "1.rss").write_text(page, encoding="utf-8")
    newer = page.replace("archive/1.rss\" rel=\"self\"", "archive/2.rss\" rel=\"self\"").replace(
        "archive/2.rss\" rel=\"next-archive\"", "archive/1.rss\" rel=\"prev-archive\""
    )
    (tmp_path / "2.rss").write_text(newer, encoding="utf-8")
    assert run(tmp_path / "1.rss", tmp_path / "2.rss").problems == []
    (tmp_path / "2.rss").write_text(newer.replace("archive/1.rss\" rel=\"prev-archive\"", "archive/0.rss\" rel=\"prev-archive\""), encoding="utf-8")
    (tmp_path / "0.rss").write_text(page.replace("archive/1.rss\" rel=\"self\"", "archive/0.rss\" rel=\"self\""), encoding="utf-8")
    report = run(tmp_path / "0.rss", tmp_path / "1.rss", tmp_path / "2.rss")
    assert report.rules(ERROR) == {"rfc5005:chain-inconsistent"}


def test_problems_per_rule_are_capped_per_document():
    items = "".join(f"<item><title>t{i}</title><guid>id-{i}</guid></item>" for i in range(MAX_PER_RULE + 5))
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        '<link>https://example.org/</link><description>d</description>'
        f'<atom:link rel="self" href="https://example.org/f.rss"/>{items}</channel></rss>'
    ).encode()
    report = Report()
    check_document(body, "many", report)
    lines = [p for p in report.problems if p.rule == "rss:guid-permalink-not-url"]
    assert len(lines) == MAX_PER_RULE + 1 and "and 5 more" in lines[-1].message


@pytest.mark.parametrize(
    "value, ok",
    [
        ("2024-05-23T09:00:00+09:00", True), ("2024-05-23T00:00:00Z", True), ("2024-05-23T00:00:00.25-03:30", True),
        ("2016-12-31T23:59:60Z", True), ("2024-05-23", False), ("2024-05-23 09:00:00+09:00", False),
        ("2024-05-23t09:00:00z", False), ("2024-02-30T00:00:00Z", False), ("2024-05-23T09:00:00+24:00", False),
        ("2024-05-23T09:00+09:00", False),
    ],
)
def test_rfc3339(value, ok):
    assert (rfc3339(value) is not None) is ok


@pytest.mark.parametrize(
    "value, verdict",
    [
        ("Tue, 26 Nov 2024 00:00:00 +0900", "ok"), ("26 Nov 2024 00:00 GMT", "ok"), ("Tue, 26 Nov 24 00:00:00 GMT", "loose"),
        ("tue, 26 nov 2024 00:00:00 gmt", "loose"), ("Mon, 26 Nov 2024 00:00:00 +0900", "weekday"),
        ("Tue, 26 Nov 2024 00:00:00", "invalid"), ("2024-11-26T00:00:00+09:00", "invalid"), ("31 Feb 2024 00:00 GMT", "invalid"),
    ],
)
def test_rfc822(value, verdict):
    assert rfc822(value)[1] == verdict


@pytest.mark.parametrize(
    "value, ok",
    [
        ("tag:smartcity.go.kr,2025:articles/x", True), ("https://example.org/a", True), ("urn:uuid:1225c695", True),
        ("articles/x", False), ("https:///nohost", False), ("tag:example.org:x", False), ("http://a b/", False),
    ],
)
def test_absolute_iri(value, ok):
    assert is_absolute_iri(value) is ok


@pytest.mark.parametrize(
    "html, bad",
    [
        ("Summary with &amp; and &lt; and \"quotes\" and 한글.", None),  # plain text escaped once, as feeds.py does
        ("roads &amp; &lt;rails&gt;", None),  # "<rails>" is text, not an HTML tag
        ("<p>Fine &amp; dandy</p>", None),
        ("&lt;p&gt;Shown as markup&lt;/p&gt;", "&lt;p&gt;"),
        ("AT&amp;amp;T", "&amp;amp;"),
        ("R&amp;D; costs", None),
        ("&amp;#8217;", "&amp;#8217;"),
    ],
)
def test_double_escaped_html(html, bad):
    assert double_escaped(html) == bad


def test_cli_exit_codes_for_files(runner):
    good = runner.invoke(cli, ["validate", str(CORPUS / "good" / "portal.rss")])
    assert good.exit_code == 0, good.output
    assert good.output.strip().endswith(": ok")
    bad = runner.invoke(cli, ["validate", str(CORPUS / "bad" / "atom.entry-id-missing.atom")])
    assert bad.exit_code == 1
    assert "atom.entry-id-missing.atom:14: entry 1: error atom:entry-id-missing: atom:entry has no atom:id" in bad.output
    warn = runner.invoke(cli, ["validate", str(CORPUS / "warn" / "rss.date-problematic.rss")])
    assert warn.exit_code == 0 and "warning rss:date-problematic" in warn.output and "1 warning(s)" in warn.output
    missing = runner.invoke(cli, ["validate", str(CORPUS / "good" / "portal.rss"), "no/such/feed.xml"])
    assert missing.exit_code == 2
    assert "cannot read no/such/feed.xml" in missing.output


def test_cli_json_output(runner):
    result = runner.invoke(cli, ["validate", "--format", "json", str(CORPUS / "bad" / "rss.guid-duplicate.rss"), str(CORPUS / "good" / "portal.json")])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert set(out) == {"validated", "ok", "documents", "errors", "warnings", "seconds", "problems", "failures"}
    assert out["ok"] is False and out["documents"] == 2 and out["errors"] == 1 and out["failures"] == []
    (problem,) = out["problems"]
    assert problem["rule"] == "rss:guid-duplicate" and problem["severity"] == "error"
    assert problem["entry"] == "tag:example.go.kr,2025:articles/2024-11-26-certified-smart-cities"
    assert problem["feed"].endswith("rss.guid-duplicate.rss") and problem["line"] == 25
    assert problem["cite"] == RULES["rss:guid-duplicate"].cite


def test_cli_lists_rules_and_refuses_bad_usage(runner):
    listed = runner.invoke(cli, ["validate", "--list-rules"])
    assert listed.exit_code == 0
    assert len(listed.output.splitlines()) == len(RULES)
    both = runner.invoke(cli, ["validate", "--url", "http://127.0.0.1:1", "feed.xml"])
    assert both.exit_code == 2
    scheme = runner.invoke(cli, ["validate", "--url", "ftp://example.org"])
    assert scheme.exit_code == 2


def test_summary_line_counts_documents_errors_and_warnings():
    report = run(CORPUS / "bad" / "json.item-id-missing.json", CORPUS / "warn" / "json.feed-url-missing.json")
    assert render_text(report, "2 files", 0.01)[-1] == (
        "feedservice validate: 2 files: 2 document(s), 1 error(s), 1 warning(s) in 0.0 s: problems found"
    )
