"""`op25b run` in the lab's router, probes from the subscriber side, and a real Prometheus server
(the Debian package) scraping the daemon every second in the same namespace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from op25b.lab.topology import ADDRESSES, INTERNET_V4, INTERNET_V6

from .conftest import METRICS_PORT, wait_for

pytestmark = pytest.mark.kernel
PROMETHEUS_PORT = 9090
PROBES = 5


@pytest.fixture
def prometheus(lab, tmp_path):
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not shutil.which(binary):
        pytest.skip("prometheus is not installed (scripts/setup.sh installs the Debian package)")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: op25b
    static_configs:
      - targets: ["127.0.0.1:{METRICS_PORT}"]
""")
    log = (tmp_path / "prometheus.log").open("w")
    process = lab.popen(lab.router, binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}", stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def query(daemon, expression: str) -> dict[str, float]:
    """Instant query against the test's Prometheus: {family label or "": value}."""
    url = f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?query={urllib.parse.quote(expression)}"
    text = daemon.fetch(url)
    if not text:
        return {}
    result = json.loads(text)["data"]["result"]
    return {row["metric"].get("family", ""): float(row["value"][1]) for row in result}


def test_prometheus_sees_exactly_the_blocked_probes(lab, daemon, listener, connect, prometheus):
    for _ in range(PROBES):
        assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"
        assert connect(ADDRESSES["dynamic"][1], INTERNET_V6, 25) == "refused"
    assert connect(ADDRESSES["monitor"][0], INTERNET_V4, 25) == "accepted"
    assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 587) == "accepted"

    # Reject answers each SYN with a RST at once: one blocked packet per probe, per family.
    expected = {"ipv4": PROBES, "ipv6": PROBES}
    wait_for(lambda: query(daemon, 'op25b_blocked_packets_total{pool="ftth-east"}') == expected, 30,
             "Prometheus to scrape the blocked probes", step=0.5)
    total = query(daemon, "sum(op25b_blocked_packets_total)")[""]
    assert total == 2 * PROBES > 0
    assert query(daemon, 'op25b_would_block_packets_total{pool="cable-west", family="ipv4"}')["ipv4"] > 0
    assert query(daemon, 'op25b_submission_packets_total{port="587", family="ipv4"}')["ipv4"] > 0
    assert query(daemon, "op25b_up") == {"": 1.0}
    # Two sources tried port 25 over IPv4 (enforce and monitor pool), one over IPv6.
    assert query(daemon, "op25b_offenders") == {"ipv4": 2.0, "ipv6": 1.0}
    assert query(daemon, 'op25b_prefixes{pool="ftth-east", kind="dynamic"}') == {"ipv4": 1.0, "ipv6": 1.0}
    assert query(daemon, 'op25b_reconcile_total{result="applied"}')[""] >= 1

    # No label anywhere carries an address.
    series = daemon.fetch(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/series?match[]=%7B__name__%3D~%22op25b_.%2B%22%7D")
    assert series and "198.51.100" not in series and "2001:db8" not in series


def test_top_lists_the_offenders_with_their_counters(lab, daemon, listener, connect, config_path):
    for _ in range(3):
        assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"
    assert connect(ADDRESSES["dynamic"][1], INTERNET_V6, 25) == "refused"
    done = lab.run(lab.router, sys.executable, "-m", "op25b", "top", "-c", str(config_path), "--json")
    rows = json.loads(done.stdout)
    assert [(r["address"], r["pool"], r["packets"]) for r in rows] == [
        (ADDRESSES["dynamic"][0], "ftth-east", 3), (ADDRESSES["dynamic"][1], "ftth-east", 1)]
    assert 3500 < rows[0]["expires_in_seconds"] <= 3600
    text = lab.run(lab.router, sys.executable, "-m", "op25b", "top", "-n", "1", "--table", "op25b").stdout
    assert "top 1 of 2" in text and ADDRESSES["dynamic"][0] in text
