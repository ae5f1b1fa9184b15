"""Terminal output: steps, progress lines and tables."""
from __future__ import annotations

import sys
import time
from typing import Sequence

_start = time.monotonic()


def step(msg: str) -> None:
    print(f"[kzt {time.monotonic() - _start:6.1f}s] {msg}", flush=True)


def info(msg: str) -> None:
    print(f"    {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"kzt: warning: {msg}", file=sys.stderr, flush=True)


class Progress:
    """One line rewritten in place on a terminal, sparse lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stdout.isatty()
        self._last = 0.0

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self.tty:
            sys.stdout.write(f"\r    {self.label}: {text[:100]:<100}")
            sys.stdout.flush()
        elif now - self._last > 30:
            print(f"    {self.label}: {text}", flush=True)
            self._last = now

    def done(self) -> None:
        if self.tty:
            sys.stdout.write("\r" + " " * 110 + "\r")
            sys.stdout.flush()


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    allrows = ([header] if header else []) + list(rows)
    if not allrows:
        return ""
    widths = [max(len(r[i]) for r in allrows) for i in range(len(allrows[0]))]
    out = []
    for n, r in enumerate(allrows):
        out.append("  ".join(c.rjust(w) if _numeric(c) and i > 0 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if header and n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _numeric(cell: str) -> bool:
    try:
        float(cell.rstrip("s%x"))
        return True
    except ValueError:
        return False
