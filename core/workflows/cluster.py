"""Where the resamples of a validation run are computed: in this process, on threads, on local worker
processes (a Dask ``LocalCluster``) or on an existing Dask cluster.

Each resample is one call of a pure top-level task ``task(study, *job)`` (its patient ids drawn up front
from the seed), so the rows it returns do not depend on where it ran: the results of every runner are
identical, bit for bit, to the serial run for the same seed. The runners are a registry
(:data:`RUNNERS`); a setting is a runner's name or the address of a Dask scheduler
(``tcp://HOST:8786``, ``tls://HOST:8786``), checked by :func:`executor_setting`.

On a cluster of your own, every worker needs the same RadNomo version (and its requirements) importable as
``core``: start the workers from a checkout or environment of this version (``dask scheduler`` on one
machine, ``dask worker tcp://HOST:8786 --nthreads 1`` on each). The study travels to them pickled by Dask,
once per worker (scattered); it holds only RadNomo's own objects, never an uploaded file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from core.errors import RadNomoError

__all__ = ["ResampleRunner", "SerialRunner", "ThreadRunner", "DaskRunner", "RUNNERS", "SERIAL", "THREADS", "LOCAL",
           "SCHEDULER_SCHEMES", "CONNECT_TIMEOUT_S", "ResampleProgress", "executor_setting",
           "check_scheduler_address", "resample_runner", "local_workers", "time_left", "describe_setting"]

# The runners' names (a setting is one of them or a scheduler address).
SERIAL, THREADS, LOCAL = "serial", "threads", "local"
# Schemes of a Dask scheduler address that a cluster of RadNomo workers answers on.
SCHEDULER_SCHEMES = ("tcp", "tls")
# How long to wait for a scheduler (and for its first worker) before saying it cannot be reached.
CONNECT_TIMEOUT_S = 5.0
# How often a running cluster job checks for Stop and for finished resamples.
POLL_S = 0.1

#: Called after each resample with (resamples done, resamples asked for, estimated seconds left, or None
#: before the first is done).
ResampleProgress = Callable[[int, int, "float | None"], None]

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*$")


def check_scheduler_address(address: str) -> str:
    """The Dask scheduler address ``address`` (``tcp://HOST:PORT`` or ``tls://HOST:PORT``), stripped.

    Only its form is checked here (scheme, host name or IP address, port 1-65535); whether a scheduler
    answers there is checked when a run connects (:func:`resample_runner`).

    Raises
    ------
    RadNomoError
        Saying which part is wrong and the expected form.
    """
    text = str(address).strip()
    form = "give it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (the address `dask scheduler` prints)"
    if "://" not in text:
        raise RadNomoError(f"Scheduler address '{text}' has no scheme: {form}.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:  # a port that is not a number or out of range, a broken IPv6 literal
        raise RadNomoError(f"Scheduler address '{text}': {error}; {form}.") from error
    if parts.scheme.lower() not in SCHEDULER_SCHEMES:
        raise RadNomoError(f"Scheduler address '{text}': the scheme must be "
                           f"{' or '.join(s + '://' for s in SCHEDULER_SCHEMES)} (not '{parts.scheme}://'); {form}.")
    host = parts.hostname or ""
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise RadNomoError(f"Scheduler address '{text}' has more than a host and a port; {form}.")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise RadNomoError(f"Scheduler address '{text}': '{host}' is not a host name or IP address; "
                               f"{form}.") from None
    if port is None or port == 0:
        raise RadNomoError(f"Scheduler address '{text}' has no port (1-65535); {form}.")
    return f"{parts.scheme.lower()}://{parts.netloc}"


def executor_setting(text: str | None) -> str:
    """Where resamples run, from what a person typed: empty or "local" -> :data:`LOCAL` (local worker
    processes), "serial" or "threads" -> that runner, anything else a scheduler address
    (:func:`check_scheduler_address`).

    Raises
    ------
    RadNomoError
        If it is neither a runner's name nor a well-formed scheduler address.
    """
    value = "" if text is None else str(text).strip()
    if value.lower() in ("", LOCAL):
        return LOCAL
    if value.lower() in RUNNERS:
        return value.lower()
    if "://" not in value:
        raise RadNomoError(f"'{value}' is neither a Dask scheduler address (tcp://HOST:8786) nor one of "
                           f"{', '.join(RUNNERS)}; leave it empty to use local processes.")
    return check_scheduler_address(value)


def describe_setting(setting: str) -> str:
    """The setting in words, for a progress line or a report."""
    if setting == LOCAL:
        workers = local_workers()
        return f"{workers} local worker processes" if workers > 1 else "this process (one core)"
    return {SERIAL: "this process", THREADS: "threads of this process"}.get(setting, f"the Dask cluster at {setting}")


def local_workers() -> int:
    """CPU cores this process may use (its affinity), at least 1: the local cluster's worker count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def time_left(seconds: float) -> str:
    """A rough duration in words ("40 s", "2 min", "1 h 5 min"): for "about ... left"."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{max(1, round(seconds / 5) * 5) if seconds >= 5 else max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


class _Clock:
    """Counts finished resamples and estimates the time left from the pace so far (all workers together)."""

    def __init__(self, total: int, on_progress: ResampleProgress | None) -> None:
        self.total, self.done, self.on_progress = total, 0, on_progress
        self.start = time.perf_counter()
        if on_progress is not None:
            on_progress(0, total, None)

    def tick(self) -> None:
        self.done += 1
        if self.on_progress is not None:
            elapsed = time.perf_counter() - self.start
            self.on_progress(self.done, self.total, elapsed / self.done * (self.total - self.done))


class ResampleRunner(Protocol):
    """Runs ``task(study, *job)`` for every job; returns ({job position: its result} for the jobs done,
    stopped). ``should_stop`` is checked between results: when it returns True the outstanding jobs are
    cancelled and those done are returned with ``stopped`` True. ``on_progress`` is called in the calling
    thread after each job."""

    def run(self, task: Callable[..., Any], study: Any, jobs: Sequence[tuple], *,
            on_progress: ResampleProgress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[dict[int, Any], bool]: ...


class SerialRunner:
    """One job after the other in this process (``should_stop`` checked before each: a stopped run holds
    the first jobs, as if fewer were asked for)."""

    def run(self, task: Callable[..., Any], study: Any, jobs: Sequence[tuple], *,
            on_progress: ResampleProgress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[dict[int, Any], bool]:
        clock = _Clock(len(jobs), on_progress)
        results: dict[int, Any] = {}
        for position, job in enumerate(jobs):
            if should_stop is not None and should_stop():
                return results, True
            results[position] = task(study, *job)
            clock.tick()
        return results, False


def _collect_futures(futures: dict[Any, int], clock: _Clock, should_stop: Callable[[], bool] | None,
                     ready: Callable[[], list], cancel: Callable[[list], None], result: Callable[[Any], Any],
                     pending: Callable[[], list]) -> tuple[dict[int, Any], bool]:
    """The loop shared by the thread and Dask runners: results as they complete, Stop checked in between."""
    results: dict[int, Any] = {}
    while len(results) < len(futures):
        if should_stop is not None and should_stop():
            cancel(pending())
            for future in ready():  # finished before Stop: kept
                if future.cancelled():
                    # Cancelled just now: a Dask as_completed hands cancelled futures back as completed too (their
                    # result would raise FutureCancelledError), so only those that finished are kept.
                    continue
                results[futures[future]] = result(future)
                clock.tick()
            return results, True
        batch = ready()
        if not batch:
            time.sleep(POLL_S)
            continue
        for future in batch:
            try:
                results[futures[future]] = result(future)
            except BaseException:
                cancel(pending())  # a job failed unexpectedly: nothing more is computed for this run
                raise
            clock.tick()
    return results, False


@dataclass
class ThreadRunner:
    """Jobs on ``workers`` threads of this process (the numerical code releases the GIL in places)."""

    workers: int = 2

    def run(self, task: Callable[..., Any], study: Any, jobs: Sequence[tuple], *,
            on_progress: ResampleProgress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[dict[int, Any], bool]:
        clock = _Clock(len(jobs), on_progress)
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="resample") as pool:
            futures = {pool.submit(task, study, *job): position for position, job in enumerate(jobs)}
            seen: set = set()

            def ready() -> list:
                done = [f for f in futures if f.done() and f not in seen]
                seen.update(done)
                return done

            def cancel(outstanding: list) -> None:
                for future in outstanding:
                    future.cancel()  # a job already running finishes, but its result is not kept

            return _collect_futures(futures, clock, should_stop, ready, cancel, lambda f: f.result(),
                                    lambda: [f for f in futures if not f.done()])


@dataclass
class DaskRunner:
    """Jobs on the workers of a Dask ``client``: the study is scattered to every worker once, each job is
    one task, results come back as they complete."""

    client: Any

    def run(self, task: Callable[..., Any], study: Any, jobs: Sequence[tuple], *,
            on_progress: ResampleProgress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[dict[int, Any], bool]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        clock = _Clock(len(jobs), on_progress)
        if not jobs:
            return {}, False
        shared = self.client.scatter(study, broadcast=True, hash=False)
        run_id = uuid.uuid4().hex[:8]
        name = getattr(task, "__name__", "resample")
        futures = {self.client.submit(task, shared, *job, key=f"radnomo-{name}-{run_id}-{position}", pure=False,
                                      priority=-position): position  # earlier resamples first
                   for position, job in enumerate(jobs)}
        finished = as_completed(list(futures))

        def cancel(outstanding: list) -> None:
            if outstanding:
                self.client.cancel(outstanding)

        def result(future: Any) -> Any:
            try:
                return future.result()
            except ImportError as error:  # e.g. a worker without RadNomo, or with another version
                raise RadNomoError(
                    f"A worker of the cluster could not run resample {futures[future] + 1} ({error}); every worker "
                    "needs this RadNomo version installed (start them from the same checkout).") from error
            except KilledWorker as error:
                raise RadNomoError(
                    f"Resample {futures[future] + 1} killed the workers that ran it ({error}); they may lack "
                    "memory for this study: give the workers more memory or use fewer per machine.") from error

        try:
            return _collect_futures(futures, clock, should_stop,
                                    lambda: finished.next_batch(block=False) if finished.has_ready() else [],
                                    cancel, result, lambda: [f for f in futures if not f.done()])
        finally:
            self.client.cancel([shared])


@contextlib.contextmanager
def _serial() -> Iterator[ResampleRunner]:
    yield SerialRunner()


@contextlib.contextmanager
def _threads() -> Iterator[ResampleRunner]:
    yield ThreadRunner(workers=max(2, local_workers()))


@contextlib.contextmanager
def _local() -> Iterator[ResampleRunner]:
    """A LocalCluster of one single-threaded worker process per core (serial on a one-core machine)."""
    workers = local_workers()
    if workers < 2:
        yield SerialRunner()
        return
    from distributed import Client, LocalCluster

    # No dashboard: its fixed port would clash between users of one machine. Workers are spawned processes
    # that import RadNomo from this checkout (sys.path travels with them); each starts single-threaded (Dask
    # sets OMP/MKL/OpenBLAS threads to 1), so cores are not oversubscribed.
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield DaskRunner(client)


def _radnomo_version() -> str:
    """RadNomo's version where this runs: on each worker when connecting, it imports the pipeline there, so
    a worker without RadNomo (or with a broken install) is found before any resample."""
    from core.workflows import fit  # noqa: F401 - what every resample task imports

    return str(sys.modules["core"].__version__)


@contextlib.contextmanager
def _cluster(address: str) -> Iterator[ResampleRunner]:
    """The existing Dask cluster whose scheduler listens at ``address``."""
    from distributed import Client

    version = _radnomo_version()
    address = check_scheduler_address(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as error:
        raise RadNomoError(f"No Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S:.0f} s ({error}). "
                           "Start one there (`dask scheduler`, with `dask worker ADDRESS` on each machine), check "
                           "the host and port, or leave the setting empty to use local processes.") from error
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise RadNomoError(f"The Dask scheduler at {address} has no worker: start at least one "
                               f"(`dask worker {address} --nthreads 1`) and run again.") from error
        try:
            versions = client.run(_radnomo_version)
        except Exception as error:  # noqa: BLE001 - any failure to import RadNomo on a worker says the same
            raise RadNomoError(f"The workers of the Dask cluster at {address} cannot import RadNomo "
                               f"({type(error).__name__}: {error}); install RadNomo {version} on every "
                               "worker (or start the workers from this checkout).") from error
        other = {w: v for w, v in versions.items() if v != version}
        if other:
            raise RadNomoError(f"Workers of the Dask cluster at {address} run another RadNomo version "
                               f"({', '.join(sorted(set(other.values())))}, here {version}): install the "
                               "same version on every worker, so that the results are those of this one.")
        yield DaskRunner(client)
    finally:
        client.close()


#: The runners by name: a context manager giving a :class:`ResampleRunner`. Add a kind of executor here.
RUNNERS: dict[str, Callable[[], contextlib.AbstractContextManager[ResampleRunner]]] = {
    SERIAL: _serial, THREADS: _threads, LOCAL: _local}


@contextlib.contextmanager
def resample_runner(where: Any = None) -> Iterator[ResampleRunner]:
    """A runner for ``where``: None -> serial; a runner -> itself (kept open by its owner); a
    ``distributed.Client`` -> its cluster; a name of :data:`RUNNERS` or a scheduler address (see
    :func:`executor_setting`). A cluster it starts (local) or connects to (an address) is closed at the end.

    Raises
    ------
    RadNomoError
        For a malformed setting, an unreachable scheduler, a cluster without workers or without RadNomo.
    """
    if where is None:
        where = SERIAL
    if isinstance(where, str):
        setting = executor_setting(where)
        opener = RUNNERS.get(setting)
        with (opener() if opener is not None else _cluster(setting)) as runner:
            yield runner
        return
    if isinstance(where, (SerialRunner, ThreadRunner, DaskRunner)):  # opened by the caller, who closes it
        yield where
        return
    from distributed import Client

    if isinstance(where, Client):  # a client the caller owns
        yield DaskRunner(where)
        return
    raise RadNomoError(f"Where the resamples run must be a setting (tcp://HOST:8786, {', '.join(RUNNERS)}), a Dask "
                       f"client or a runner, not {type(where).__name__}.")
