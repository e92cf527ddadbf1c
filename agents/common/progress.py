"""Progress of long commands (train, evaluate, bundle, import, publish, pull, reproduce).

On a terminal: a `rich` bar with the count, the rate, the ETA and a short note (the latest reward, the
file being uploaded). Anywhere else (CI logs, ``nohup``, a pipe): plain lines, at most one every
``every`` seconds plus the last one, so a log stays readable and greppable. Output goes to stdout, with
the command's other output: stderr is kept for the one line that says why a command failed.
"""

from __future__ import annotations

import math
import os
import sys
import time
from types import TracebackType
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def on_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal that can redraw a bar."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class Progress:
    """One counted task: ``update(done)`` or ``advance(n)``, then ``close()`` (or use it as a context).

    :param title: what runs, e.g. ``train breakout seed 1``
    :param total: how many units make it complete (None: unknown, no percentage or ETA)
    :param unit: the counted thing, plural (``steps``, ``episodes``, ``files``)
    :param start: units already done before this process (a resumed run): the rate counts only new ones
    :param every: seconds between plain lines off a terminal
    :param stream: where to write (default ``sys.stdout``)
    :param bar: force the terminal bar on or off (default: on exactly when ``stream`` is a terminal)
    """

    def __init__(
        self,
        title: str,
        total: int | None,
        unit: str = "steps",
        *,
        start: int = 0,
        every: float = 10.0,
        stream: TextIO | None = None,
        bar: bool | None = None,
    ):
        self.title, self.total, self.unit, self.every = title, total, unit, every
        self.stream = stream if stream is not None else sys.stdout
        self.done = start
        self._start_count, self._t0 = start, time.monotonic()
        self._last_line = -math.inf
        self._note = ""
        self._detail = ""
        self._closed = False
        self._rich: Any = None
        if bar if bar is not None else on_terminal(self.stream):
            self._rich = self._make_bar()

    def _make_bar(self) -> Any:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(file=self.stream),
            transient=False,
        )
        bar.start()
        self._task = bar.add_task(self.title, total=self.total, completed=self.done, rate="", note="")
        return bar

    # --- what callers use ------------------------------------------------------------------------------

    def rate_text(self) -> str:
        """The rate for a person: "2,040 steps/s", or per minute below one per second ("7.5 matches/min", where
        "0 matches/s" said nothing)."""
        if 0 < self.rate < 1:
            return f"{self.rate * 60:,.1f} {self.unit}/min"
        return f"{self.rate:,.0f} {self.unit}/s"

    @property
    def rate(self) -> float:
        """Units per second in this process."""
        elapsed = time.monotonic() - self._t0
        return (self.done - self._start_count) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the current rate (inf when unknown)."""
        if self.total is None or self.rate <= 0:
            return math.inf
        return max(self.total - self.done, 0) / self.rate

    def update(self, done: int, note: str | None = None, detail: str | None = None) -> None:
        """Set the count to ``done``; ``note`` is shown on the bar and in lines, ``detail`` in lines only."""
        self.done = done
        if note is not None:
            self._note = note
        if detail is not None:
            self._detail = detail
        if self._rich is not None:
            self._rich.update(self._task, completed=done, rate=self.rate_text(), note=self._note)
        elif time.monotonic() - self._last_line >= self.every:
            self._line()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.update(self.done + n, note)

    def line(self) -> str:
        """The plain progress line, as written off a terminal."""
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        parts = [f"{self.title}: {count} {self.unit}"]
        if self.total:
            parts.append(f"({100 * self.done / self.total:.1f} %)")
        parts.append(self.rate_text())
        if self.total is not None:
            parts.append(f"ETA {_clock(self.eta)}")
        parts += [text for text in (self._note, self._detail) if text]
        return "  ".join(parts)

    def _line(self) -> None:
        self._last_line = time.monotonic()
        print(self.line(), file=self.stream, flush=True)

    def close(self, note: str | None = None) -> None:
        """End the task: the bar stops (left on screen); off a terminal, the last line is written."""
        if self._closed:
            return
        self._closed = True
        if note is not None:
            self._note = note
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done, note=self._note)
            self._rich.stop()
        else:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Silent(Progress):
    """The same interface, writing nothing (``--quiet``, library calls)."""

    def __init__(self, title: str = "", total: int | None = None, unit: str = "steps", **_: Any):
        super().__init__(title, total, unit, bar=False)

    def _line(self) -> None:
        pass


def progress(title: str, total: int | None, unit: str = "steps", *, quiet: bool = False, **kw: Any) -> Progress:
    """A :class:`Progress`, or a :class:`Silent` one when ``quiet``."""
    return Silent(title, total, unit) if quiet else Progress(title, total, unit, **kw)
