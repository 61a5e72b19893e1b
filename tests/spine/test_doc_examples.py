"""Config examples in the documentation are valid configs: every fenced YAML block in
README.md and docs/*.md that holds a whole config (a top-level `targets:`) loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def _configs() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, block in enumerate(_BLOCK.findall(path.read_text(encoding="utf-8"))):
            if re.search(r"^targets:", block, re.M):
                found.append((f"{path.relative_to(ROOT)}#{i}", block))
    return found


def test_there_are_examples_to_check() -> None:
    names = {name.split("#")[0] for name, _ in _configs()}
    assert {"README.md", "docs/managed-database.md"} <= names


@pytest.mark.parametrize(("name", "text"), _configs(), ids=[n for n, _ in _configs()])
def test_documented_config_loads(name: str, text: str) -> None:
    config = parse_config(text, name)
    assert config.targets
