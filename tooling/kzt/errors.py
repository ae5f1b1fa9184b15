"""Error classes: what the user can fix, and what broke underneath.

Every error carries a message that names what went wrong and, where there
is one, the next step.  The CLI prints it and exits non-zero; nothing else
catches these.
"""
from __future__ import annotations


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
