"""A live progress display for interactive scans (stderr, only on a TTY).

Target names are data: they are shown through `display_text` and with rich markup off, so a
name like `[/]` neither crashes the display nor styles it."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from auditor.safe_text import display_text


class ScanProgress:
    """One line per target showing what it is doing; usable as the runner's callback."""

    def __init__(self, targets: list[str]) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[target]}", markup=False),
            TextColumn("{task.description}", style="dim", markup=False),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._tasks = {
            name: self._progress.add_task("queued", total=1, target=display_text(name, 80))
            for name in targets
        }
        self._lock = threading.Lock()

    def __call__(self, target: str, event: str) -> None:
        with self._lock:
            task = self._tasks.get(target)
            if task is not None:
                finished = event in ("done", "timed out")
                self._progress.update(
                    task, description=display_text(event), completed=1 if finished else 0
                )

    def __enter__(self) -> ScanProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
