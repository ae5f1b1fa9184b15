"""Error classes: what the user can fix, and what broke underneath.

Every error carries a message that names what went wrong and, where there
is one, the next step.  The CLI prints it and exits non-zero; nothing else
catches these.
"""
from __future__ import annotations

import contextlib
import errno
from typing import Iterator


class KztError(Exception):
    """A problem the user can act on (bad input, missing prerequisite)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  -> {self.hint}"
        return self.message


class InfraError(KztError):
    """A tool the toolkit drives (git, make, QEMU) failed unexpectedly."""

    exit_code = 3


class GuestError(KztError):
    """The guest did not boot, crashed, timed out, or its command failed."""

    exit_code = 4


class DiskFullError(KztError):
    """A write failed with ENOSPC: the file system holding `where` is full."""

    def __init__(self, where: object, doing: str) -> None:
        super().__init__(f"no space left on device at {where} while {doing}",
                         f"free space on the file system that holds {where} (or point "
                         "KZT_BUILD_DIR at a bigger disk; './kzt doctor' shows the free "
                         "space), then run the command again")
        self.where = str(where)
        self.doing = doing


@contextlib.contextmanager
def disk_full_at(where: object, doing: str) -> Iterator[None]:
    """Turn an ENOSPC from a write in the block into a DiskFullError."""
    try:
        yield
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise DiskFullError(where, doing) from e
        raise
