"""The bootstrap and repeated CV on threads and on a Dask cluster give the serial run's numbers, bit for bit;
scheduler addresses are checked at the boundary; Stop keeps what is done; progress counts up with the time left."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig
from core.workflows import cluster
from core.workflows.cluster import (LOCAL, SERIAL, THREADS, DaskRunner, SerialRunner, ThreadRunner,
                                    check_scheduler_address, executor_setting, resample_runner, time_left)
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc
from tests.studies import small_sample_study

N_BOOT, SEED = 6, 3


@pytest.fixture(scope="module")
def small_study(sample_study):
    return small_sample_study(sample_study, SplitConfig(seed=1), name="small")


@pytest.fixture(scope="module")
def local_cluster():
    """Two single-threaded worker processes, as the dashboard starts them (its address for the --scheduler path)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as started:
        yield started


@pytest.fixture(scope="module")
def serial(small_study):
    return (optimism_corrected_auc(small_study, n_boot=N_BOOT, seed=SEED),
            repeated_cv_auc(small_study, n_folds=3, n_repeats=1, seed=SEED))


def _same_bootstrap(result, expected) -> None:
    pd.testing.assert_frame_equal(result.table, expected.table, check_exact=True)
    pd.testing.assert_frame_equal(result.runs, expected.runs, check_exact=True)
    pd.testing.assert_frame_equal(result.resamples, expected.resamples, check_exact=True)
    assert (result.requested, result.stopped) == (expected.requested, expected.stopped)


@pytest.mark.slow
def test_a_local_cluster_and_threads_give_the_serial_numbers(small_study, local_cluster, serial):
    """Done when of issue 26: the same seed on a Dask LocalCluster of 2 processes (reached by its scheduler
    address, as with --scheduler) and on threads gives exactly the serial frames."""
    boot, cv = serial
    assert len(boot.resamples) == N_BOOT and len(cv)
    address = local_cluster.scheduler_address
    assert address.startswith("tcp://")
    with resample_runner(address) as runner:
        assert isinstance(runner, DaskRunner)
        _same_bootstrap(optimism_corrected_auc(small_study, n_boot=N_BOOT, seed=SEED, where=runner), boot)
        on_cluster = repeated_cv_auc(small_study, n_folds=3, n_repeats=1, seed=SEED, where=runner)
    pd.testing.assert_frame_equal(on_cluster, cv, check_exact=True)
    assert on_cluster.attrs == cv.attrs and cv.attrs["folds_run"] == len(cv.attrs["folds"]) == 3
    _same_bootstrap(optimism_corrected_auc(small_study, n_boot=N_BOOT, seed=SEED, where=THREADS), boot)
    pd.testing.assert_frame_equal(repeated_cv_auc(small_study, n_folds=3, n_repeats=1, seed=SEED, where=THREADS),
                                  cv, check_exact=True)


@pytest.mark.slow
def test_stop_on_the_cluster_cancels_the_rest_and_keeps_the_resamples_done(small_study, local_cluster, serial):
    from distributed import Client

    seen = []

    def stop() -> bool:
        return len(seen) >= 3  # after two resamples are done (the first call is the start, with none done)

    with Client(local_cluster) as client:
        result = optimism_corrected_auc(small_study, n_boot=200, seed=SEED, where=client, should_stop=stop,
                                        on_progress=lambda *progress: seen.append(progress))
    assert result.stopped and result.requested == 200
    done = list(result.resamples.index)
    assert 2 <= len(done) < 200 and done == sorted(done)
    # every resample kept is the serial run's resample of that number
    full = optimism_corrected_auc(small_study, n_boot=max(done) + 1, seed=SEED)
    pd.testing.assert_frame_equal(result.resamples, full.resamples.loc[done], check_exact=True)
    pd.testing.assert_frame_equal(result.runs.reset_index(drop=True),
                                  full.runs[full.runs["resample"].isin(done)].reset_index(drop=True),
                                  check_exact=True)
    assert (result.table["n_boot"] <= len(done)).all()


@pytest.mark.parametrize("address, says", [
    ("http://10.0.0.5:8786", "the scheme must be tcp:// or tls://"),
    ("10.0.0.5:8786", "has no scheme"),
    ("tcp://10.0.0.5", "has no port"),
    ("tcp://10.0.0.5:0", "has no port"),
    ("tcp://10.0.0.5:99999", "Port out of range"),
    ("tcp://10.0.0.5:http", "Port could not be cast"),
    ("tcp://:8786", "'' is not a host name or IP address"),
    ("tcp://bad host:8786", "'bad host' is not a host name"),
    ("tcp://10.0.0.5:8786/status", "more than a host and a port"),
])
def test_malformed_scheduler_addresses_are_refused_with_the_expected_form(address, says):
    with pytest.raises(RadNomoError, match="give it as tcp://HOST:PORT") as refused:
        check_scheduler_address(address)
    assert says in str(refused.value)
    with pytest.raises(RadNomoError):
        executor_setting(address)


def test_settings_name_a_runner_or_a_scheduler():
    assert executor_setting("") == executor_setting(None) == executor_setting(" local ") == LOCAL
    assert executor_setting("Serial") == SERIAL and executor_setting("threads") == THREADS
    assert executor_setting(" tcp://10.0.0.5:8786 ") == "tcp://10.0.0.5:8786"
    assert executor_setting("TLS://sched.example.org:8786") == "tls://sched.example.org:8786"
    assert executor_setting("tcp://[::1]:8786") == "tcp://[::1]:8786"
    with pytest.raises(RadNomoError, match="neither a Dask scheduler address .* nor one of serial, threads, local"):
        executor_setting("cluster-please")


def test_an_unreachable_scheduler_is_said_within_the_timeout(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RadNomoError, match=f"No Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s"):
        with resample_runner(f"tcp://127.0.0.1:{port}"):
            pass


def _square(study, value: int) -> int:
    """A resample stand-in: a pure top-level function of (shared object, job)."""
    return value * value + study


@pytest.mark.parametrize("runner", [SerialRunner(), ThreadRunner(workers=2)], ids=["serial", "threads"])
def test_progress_counts_up_with_the_time_left(runner):
    seen = []
    results, stopped = runner.run(_square, 1, [(k,) for k in range(5)], on_progress=lambda *p: seen.append(p))
    assert results == {k: k * k + 1 for k in range(5)} and not stopped
    assert [done for done, _, _ in seen] == [0, 1, 2, 3, 4, 5] and {total for _, total, _ in seen} == {5}
    assert seen[0][2] is None and all(left >= 0 for _, _, left in seen[1:]) and seen[-1][2] == 0


def test_a_stopped_serial_run_keeps_the_first_jobs():
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    results, stopped = SerialRunner().run(_square, 0, [(k,) for k in range(10)], should_stop=stop)
    assert stopped and results == {0: 0, 1: 1}


def test_time_left_in_words():
    assert [time_left(s) for s in (0.4, 3, 42, 61, 150, 3600, 3900)] == ["1 s", "3 s", "40 s", "1 min", "2 min",
                                                                         "1 h", "1 h 5 min"]


def test_a_runner_opened_by_the_caller_is_used_as_it_is():
    runner = ThreadRunner(workers=3)
    with resample_runner(runner) as used:
        assert used is runner
    with resample_runner(None) as used:
        assert isinstance(used, SerialRunner)
    with pytest.raises(RadNomoError, match="a Dask client or a runner, not int"):
        with resample_runner(3):
            pass


def _fails_on_three(study, value: int) -> int:
    if value == 3:
        raise ValueError("resample 3 broke")
    return value


@pytest.mark.parametrize("runner", [SerialRunner(), ThreadRunner(workers=2)], ids=["serial", "threads"])
def test_a_job_that_fails_unexpectedly_ends_the_run_with_its_error(runner):
    with pytest.raises(ValueError, match="resample 3 broke"):
        runner.run(_fails_on_three, None, [(k,) for k in range(6)])


def test_the_command_line_refuses_a_malformed_scheduler_before_anything_runs(tmp_path, capsys):
    from core.cli.validation import main

    with pytest.raises(SystemExit) as exited:
        main(["--out", str(tmp_path / "run"), "--scheduler", "http://10.0.0.5:8786"])
    assert exited.value.code == 2
    assert "the scheme must be tcp:// or tls://" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_command_line_says_an_unreachable_scheduler(tmp_path, capsys, monkeypatch):
    from core.cli.validation import main

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["--out", str(tmp_path / "run"), "--n-boot", "10", "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert f"error: No Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
