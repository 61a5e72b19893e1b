"""Regenerate the configuration reference (docs/configuration.md) and the config file's JSON
Schema (auditor/schemas/config.schema.json) from the config models.

    python tools/gen_config_docs.py          # write both
    python tools/gen_config_docs.py --check  # exit 1 when a checked-in copy is out of date

Run it after changing auditor/config.py or auditor/policy.py; tests/spine/test_config_docs.py
fails until the checked-in files match the models.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.config_docs import generated_files  # noqa: E402


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for relative, text in generated_files().items():
        path = ROOT / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(relative)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {relative}")
    if check and stale:
        print(f"out of date: {', '.join(stale)} (run python tools/gen_config_docs.py)")
        return 1
    if not stale:
        print("up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
