"""Worker processes that end with the process that started them.

A batch killed with SIGKILL (or a dashboard server that dies) cannot clean up its process pool; the
workers would otherwise linger, holding memory and files. Each worker asks the Linux kernel to end it
when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and elsewhere watches its parent's PID.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from core.io.limits import limit, whole_number_in_range

__all__ = ["worker_pool", "MAX_WORKERS"]

#: Most worker processes one batch may start: four per CPU core of this machine (at least 4), so a typing
#: slip such as ``--workers 100000`` is refused instead of starting processes until the machine gives out.
#: ``RADNOMO_MAX_WORKERS`` overrides it.
MAX_WORKERS = limit("MAX_WORKERS", max(4, 4 * (os.cpu_count() or 1)))

_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """Pool initializer: run in each worker before any task."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:  # no libc by that name (musl, ...): the watcher below still ends the worker
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of ``workers`` whose workers end when this process does (even by SIGKILL).

    Raises
    ------
    RadNomoError
        If ``workers`` is not a whole number from 1 to :data:`MAX_WORKERS` (checked before any process starts).
    """
    workers = whole_number_in_range(workers, 1, MAX_WORKERS, "workers")
    return ProcessPoolExecutor(max_workers=workers, initializer=_end_with_parent, initargs=(os.getpid(),))
