"""Where the config file declares each target, as `path:line` relative to the repository
root, so SARIF can anchor a target's findings to a real file line (GitHub code scanning
rejects results without a physical location).

The path is relative to the enclosing git work tree (the folder holding `.git`), because
that is what code-scanning uploads resolve against; outside a repository, relative to the
current directory when possible, else the bare file name.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from auditor.model import ScanResults


def repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repo_relative(path: Path) -> str:
    resolved = path.resolve()
    root = repo_root(resolved.parent)
    for base in (root, Path.cwd().resolve()):
        if base is not None and resolved.is_relative_to(base):
            return resolved.relative_to(base).as_posix()
    return resolved.name


def declared_lines(text: str) -> dict[str, int]:
    """Target name -> the line of its `- name: …` entry under `targets:` (1-based)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    lines: dict[str, int] = {}
    for key, value in root.value:
        if key.value != "targets" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            for k, v in item.value:
                if k.value == "name" and isinstance(v, yaml.ScalarNode):
                    lines[str(v.value)] = item.start_mark.line + 1
    return lines


def _declaring_line(name: str, lines: dict[str, int]) -> int | None:
    """A target's own line, else that of the discovery target that found it (its name is
    the discovery target's name, '/', the scope and the database)."""
    if name in lines:
        return lines[name]
    parent = name
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in lines:
            return lines[parent]
    return None


def with_declarations(results: ScanResults, config_path: Path, text: str) -> ScanResults:
    where = repo_relative(config_path)
    lines = declared_lines(text)
    found = {t.name: _declaring_line(t.name, lines) for t in results.targets}
    targets = tuple(
        # a database of a server target (`srv/db`) is declared where its server is
        replace(t, declared_at=f"{where}:{found[t.name]}") if found[t.name] is not None else t
        for t in results.targets
    )
    return replace(results, targets=targets)


def with_declarations_from(results: ScanResults, config_path: Path) -> ScanResults:
    """As with_declarations, reading the config again; an unreadable file (moved during the
    scan) only costs the anchors, never the scan."""
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return results
    return with_declarations(results, config_path, text)
