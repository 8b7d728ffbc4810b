"""What the CLI does with a process it owns (`railguard ...`, never a caller's `main(args)`), to
spend its CPU on the command rather than on the interpreter's housekeeping.

- The cyclic garbage collector waits while `check` starts: importing the engine and its detectors
  makes some hundred thousand objects that all live to the end, and collecting while they are made
  was about a tenth of a one-action check's CPU. After the first action is decided the start-up
  objects are frozen (never scanned again) and the collector runs as usual for the rest of a stream.
- A command that has finished ends without tearing the interpreter down (freeing every module and
  object one by one, another tenth): output is flushed and the exit handlers (`atexit`) run as they
  would, then the process exits with the command's code. Only when no other thread runs, so no
  thread's work is cut short; otherwise the interpreter exits as usual.
"""

from __future__ import annotations

import gc
from typing import NoReturn

_paused = False


def pause_collector() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Objects made so far are kept for good: frozen, and the collector runs again (if paused)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def exit_now(code: int) -> NoReturn:
    import atexit
    import os
    import sys
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # a closed pipe...: the interpreter's own exit reports it as usual
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


__all__ = ["exit_now", "pause_collector", "resume_collector"]
