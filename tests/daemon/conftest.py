"""Fixtures for the daemon tests: a lab per test, `op25b run` in its router namespace, scrapes.

Every namespace is created by the test and removed on exit, even on failure; every process the
test starts is killed by its process group on teardown. Nothing talks outside the namespaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from op25b.lab.topology import lab_config

METRICS_PORT = 9025  # each lab router namespace has its own, empty port space
_FETCH = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"


def daemon_config(tmp_path: Path, interval: int = 1, extra: str = "", **kw) -> str:
    """The lab configuration with a short reconcile interval and a private state directory."""
    return lab_config(extra=f"reconcile_interval: {interval}\nstate_dir: {tmp_path / 'state'}\n"
                            f"metrics:\n  listen: 127.0.0.1:{METRICS_PORT}\n{extra}", **kw)


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


class Daemon:
    """`op25b run` in a namespace, as its own process group."""

    def __init__(self, ns: str, config: Path, log: Path) -> None:
        self.ns, self.config, self.log_path = ns, config, log
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> Daemon:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "op25b", "run", "-c", str(self.config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            wait_for(lambda: self.passes() >= 1, 60, "the daemon's first reconcile pass")
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def stop(self, timeout: float = 30) -> int:
        self.signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill_group(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def fetch(self, url: str) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", _FETCH, url],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            return ""
        return done.stdout

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """One scrape: {(sample name, sorted labels): value}."""
        text = self.fetch(f"http://127.0.0.1:{METRICS_PORT}/metrics")
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def value(self, name: str, **labels) -> float | None:
        return self.metrics().get((name, tuple(sorted(labels.items()))))

    def passes(self) -> float:
        scrape = self.metrics()
        return sum(scrape.get(("op25b_reconcile_total", (("result", r),)), 0) for r in ("applied", "unchanged"))


@pytest.fixture
def netns():
    """One bare network namespace (loopback up), deleted even on failure."""
    name = f"o25d-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = tmp_path / "op25b.yaml"
    path.write_text(daemon_config(tmp_path))
    return path


@pytest.fixture
def daemon(lab, config_path, tmp_path, request):
    """A started daemon in the lab's router namespace; killed (group) at teardown."""
    created = Daemon(lab.router, config_path, tmp_path / "daemon.log")
    try:
        yield created.start()
    finally:
        created.kill_group()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(created.log())  # shown by pytest with the failure


@pytest.fixture
def nft(lab):
    """nft(...) inside the lab's router namespace only."""
    return lambda *args, check=True: lab.run(lab.router, "nft", *args, check=check)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # lets fixtures print the daemon log on failure
    return report
