"""Report tests: golden files refreshed only on request.

`pytest --update-golden` (the option is declared in tests/conftest.py; or
AUDITOR_UPDATE_GOLDEN=1) rewrites the files under tests/report/golden/ instead of comparing
against them; review the diff before committing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"

Golden = Callable[[str, bytes], None]


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    update = bool(request.config.getoption("--update-golden", default=False)) or (
        os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1"
    )

    def check(name: str, actual: bytes) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
            return
        assert path.exists(), f"no golden file {name}: run pytest --update-golden"
        expected = path.read_bytes()
        if actual != expected:
            # Show the first differing line, not megabytes of HTML.
            a, e = (
                actual.decode(errors="replace").splitlines(),
                expected.decode(errors="replace").splitlines(),
            )
            line = next(
                (i for i, (x, y) in enumerate(zip(a, e, strict=False)) if x != y),
                min(len(a), len(e)),
            )
            got = a[line] if line < len(a) else "<end>"
            want = e[line] if line < len(e) else "<end>"
            pytest.fail(
                f"{name} differs from golden at line {line + 1}:\n  got:  {got}\n"
                f"  want: {want}\n(refresh with pytest --update-golden)"
            )

    return check
