"""The README stays true: every command and every config key is documented."""

from __future__ import annotations

import re

import click
import pytest
from tests.conftest import ROOT

from feedloom.cli import main

README = (ROOT / "README.md").read_text(encoding="utf-8")
GETTERS = (
    r"\b(?:t|table|st|author|retention_t)\."
    r"(?:string|integer|boolean|str_list|table|tables|url|duration|timezone|path_value)"
    r"\(\s*\"(\w+)\""
)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_is_documented(name: str) -> None:
    command = main.commands[name]
    assert isinstance(command, click.Command)
    assert command.help, f"feedloom {name} has no help text"
    assert f"feedloom {name}" in README, f"README does not mention 'feedloom {name}'"


def keys_read_by(module: str) -> set[str]:
    source = (ROOT / "src" / "feedloom" / module).read_text(encoding="utf-8")
    return set(re.findall(GETTERS, source))


@pytest.mark.parametrize("module", ["config.py", "sources/newspage.py", "sources/remote.py"])
def test_every_config_key_is_documented(module: str) -> None:
    keys = keys_read_by(module)
    assert len(keys) >= 3, f"no config keys found in {module}: the pattern is stale"
    forms = ("`{k}`", "] {k}`", "`[{k}]", "`[[{k}]]`", "`{k} = ")
    missing = sorted(k for k in keys if not any(f.format(k=k) in README for f in forms))
    assert not missing, f"README's config reference lacks {missing} (read in {module})"


def test_fetch_keys_are_documented() -> None:
    from feedloom.config import _FETCH_KEYS

    for key in _FETCH_KEYS:
        assert key in README, f"[fetch] {key} is not in the README"
