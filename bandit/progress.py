"""Progress display for both labs: a tqdm bar on a terminal, short plain lines everywhere else.

A tqdm bar redraws itself with carriage returns; written to a file or a pipe (``make reproduce > log``, CI, a
notebook's captured stderr) it leaves one long line of redraws. :func:`progress` therefore returns a tqdm bar only
when stderr is a terminal, and otherwise a :class:`LineProgress` with the same small API (iteration, ``update``,
``set_postfix``, ``close``, context manager) that prints one line at every tenth of the work (at most one every
``min_interval`` seconds, and always the last).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["LineProgress", "progress"]


class LineProgress:
    """A progress report for non-terminals: ``desc: n/total (p %) elapsed s [postfix]`` lines, every tenth of the work.

    Args:
        iterable: what to iterate over (optional when only ``update`` is used).
        total: number of steps (default ``len(iterable)``); None prints every ``min_interval`` seconds.
        desc: label at the start of each line.
        disable: print nothing.
        min_interval: seconds between two lines at least (the last line always prints).
        stream: where to print (default stderr).
    """

    def __init__(
        self,
        iterable: Iterable | None = None,
        total: int | None = None,
        desc: str = "",
        disable: bool = False,
        min_interval: float = 5.0,
        stream: Any = None,
        **_: Any,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.disable = total, desc, disable
        self.min_interval, self.stream = min_interval, stream
        self.n, self.postfix = 0, ""
        self.start = self._last = time.monotonic()
        self._next = self._step()

    def _step(self) -> int:
        return self.n + max(1, (self.total or 0) // 10) if self.total else self.n + 1

    def _print(self) -> None:
        elapsed = time.monotonic() - self.start
        done = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f} %)" if self.total else f"{self.n}"
        post = f" [{self.postfix}]" if self.postfix else ""
        print(f"{self.desc}: {done} {elapsed:.0f} s{post}", file=self.stream or sys.stderr, flush=True)
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps; print a line when a tenth of the work is done (or, without total, by time)."""
        self.n += n
        if self.disable:
            return
        finished = self.total is not None and self.n >= self.total
        due = self.n >= self._next and time.monotonic() - self._last >= self.min_interval
        if finished or due:
            self._print()
            self._next = self._step()

    def set_postfix(self, ordered_dict: dict | None = None, **kwargs: Any) -> None:
        """Metrics shown at the end of the next line (``key=value``)."""
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def close(self) -> None:
        """Print the final count if the last update did not."""
        if not self.disable and self.n and (self.total is None or self.n < self.total):
            self._print()
        self.disable = True

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update()
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(iterable: Iterable | None = None, **kwargs: Any) -> Any:
    """A tqdm bar when stderr is a terminal, else a :class:`LineProgress` (same arguments: total, desc, disable…)."""
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
    return LineProgress(iterable, **kwargs)
