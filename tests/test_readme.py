"""README.md documents every URL, setting and command (it is the user's manual; nothing may hide)."""

from __future__ import annotations

import re

import pytest

from feedservice.cli import cli
from feedservice.config import DEFAULTS
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PLACEHOLDERS = {"slug:slug": "<slug>", "slug:article_id": "<id>", "page:page": "<n>", "fmt:fmt": "{atom,rss,json}"}


def _documented_forms(rule: str) -> list[str]:
    """Returns the spellings README uses for a URL rule, one per expansion of its <kind>."""
    for converter, shown in PLACEHOLDERS.items():
        rule = rule.replace(f"<{converter}>", shown)
    if "<kind:kind>" in rule:
        return [rule.replace("<kind:kind>", kind) for kind in ("ministries", "topics")]
    return [rule]


def test_every_url_is_documented(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for form in _documented_forms(rule.rule):
            if f"`{form}" not in README:
                missing.append(form)
    assert not missing, f"README.md does not document: {missing}"


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_is_documented(key):
    assert f"`FEEDSERVICE_{key}`" in README


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name):
    assert f"`feedservice {name}" in README


def test_every_command_option_has_an_environment_variable_documented():
    for command in cli.commands.values():
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if envvar:
                assert f"`{envvar}`" in README, f"{command.name} {param.name}: {envvar}"


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```\n(.*?)```", README, re.S).group(1)
    assert first_block.splitlines()[0].startswith("make run")
    assert first_block.splitlines()[1].startswith("make test")
