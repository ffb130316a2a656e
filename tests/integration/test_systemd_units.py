"""The systemd units in op25b/data/systemd: `systemd-analyze verify`, and the directives that matter.

systemd-analyze works offline, without systemd as PID 1. It refuses a unit whose executable is
missing, and /opt/op25b/venv (installed by the Ansible role) does not exist here, so the units
are verified from a copy whose op25b path points at an executable that does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parents[2] / "op25b" / "data" / "systemd"
UNITS = ("op25b.service", "op25b-restore.service")
OP25B = "/opt/op25b/venv/bin/op25b"
CONFIG = "/etc/op25b/op25b.yaml"
# Exposure score of `systemd-analyze security`, times ten (its --threshold scale): 0 is a fully
# sandboxed unit, 100 an unsandboxed root service. Ours are about 17; a dropped directive shows.
EXPOSURE_THRESHOLD = 25


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # Fixed argv of a test tool, no shell: nothing untrusted reaches it.
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Section → key → values in order. systemd allows a key more than once; configparser does not."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def words(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> set[str]:
    return {w for value in unit[section].get(key, []) for w in value.split()}


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}= should be set exactly once, is {values}"
    return values[0]


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze not found (Debian package systemd)")
    return path


@pytest.fixture
def unit_copies(tmp_path: Path) -> list[Path]:
    """The units, with the op25b executable replaced by one that exists on this machine."""
    stand_in = shutil.which("true")
    assert stand_in, "no `true` executable on PATH"
    copies = []
    for name in UNITS:
        text = (UNIT_DIR / name).read_text()
        assert OP25B in text, f"{name} no longer runs {OP25B}"
        copy = tmp_path / name
        copy.write_text(text.replace(OP25B, stand_in))
        copies.append(copy)
    return copies


def verify(systemd_analyze: str, paths: list[Path]) -> list[str]:
    """Problems systemd reports for our units. Unknown or misspelt keys are only warnings (exit
    code 0), so the messages that name one of the files count as well."""
    result = run([systemd_analyze, "verify", "--man=no", *map(str, paths)])
    names = [p.name for p in paths]
    problems = [line for line in result.stderr.splitlines() if any(n in line for n in names)]
    if result.returncode != 0:
        problems.append(f"exit code {result.returncode}: {result.stderr.strip()}")
    return problems


@pytest.fixture(scope="module")
def daemon() -> dict[str, dict[str, list[str]]]:
    return parse_unit((UNIT_DIR / "op25b.service").read_text())


@pytest.fixture(scope="module")
def restore() -> dict[str, dict[str, list[str]]]:
    return parse_unit((UNIT_DIR / "op25b-restore.service").read_text())


def test_systemd_analyze_verify(systemd_analyze, unit_copies):
    assert verify(systemd_analyze, unit_copies) == []


def test_verify_catches_a_misspelt_directive(systemd_analyze, unit_copies):
    """The check above can fail: a typo that systemd would silently ignore is reported."""
    daemon_copy = unit_copies[0]
    daemon_copy.write_text(daemon_copy.read_text().replace("ProtectSystem=", "ProtectSytem=", 1))
    assert any("ProtectSytem" in p for p in verify(systemd_analyze, unit_copies))


@pytest.mark.parametrize("name", UNITS)
def test_exposure_stays_low(systemd_analyze, unit_copies, name):
    path = next(p for p in unit_copies if p.name == name)
    result = run(
        [
            systemd_analyze,
            "security",
            "--offline=true",
            "--no-pager",
            f"--threshold={EXPOSURE_THRESHOLD}",
            str(path),
        ]
    )
    summary = result.stdout.strip().splitlines()[-1:] or [result.stderr]
    assert result.returncode == 0, summary[0]


def test_daemon_commands(daemon):
    assert one(daemon, "Service", "ExecStartPre") == f"{OP25B} check -c {CONFIG}"
    assert one(daemon, "Service", "ExecStart") == f"{OP25B} run -c {CONFIG}"
    assert daemon["Service"]["ExecReload"][-1] == "/bin/kill -HUP $MAINPID"
    assert one(daemon, "Service", "Restart") == "on-failure"
    assert {"network-online.target", "op25b-restore.service"} <= words(daemon, "Unit", "After")
    assert "multi-user.target" in words(daemon, "Install", "WantedBy")


def test_daemon_hardening(daemon):
    service = daemon["Service"]
    assert one(daemon, "Service", "CapabilityBoundingSet") == "CAP_NET_ADMIN"
    assert one(daemon, "Service", "AmbientCapabilities") == "CAP_NET_ADMIN"
    dynamic = service.get("DynamicUser") == ["yes"]
    static = bool(service.get("User")) and service["User"] != ["root"]
    assert dynamic or static, "run as DynamicUser=yes or as a dedicated User="
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "op25b",
        "StateDirectoryMode": "0700",
        "ProtectKernelModules": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
    }
    assert {k: one(daemon, "Service", k) for k in expected} == expected
    assert words(daemon, "Service", "RestrictAddressFamilies") == {
        "AF_NETLINK",
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
    }


@pytest.mark.parametrize("unit_name", UNITS)
def test_stays_in_the_host_network_namespace(unit_name):
    """nftables rules only filter the namespace they live in; the routed traffic is in the host's."""
    service = parse_unit((UNIT_DIR / unit_name).read_text())["Service"]
    for key in ("PrivateNetwork", "NetworkNamespacePath", "JoinsNamespaceOf"):
        assert service.get(key, ["no"]) == ["no"], f"{unit_name}: {key}= must not be set"
    # In a private user namespace CAP_NET_ADMIN would not reach the host's netfilter.
    assert service.get("PrivateUsers", ["no"]) == ["no"], unit_name


def test_restore_runs_once_before_the_network(restore):
    assert one(restore, "Service", "Type") == "oneshot"
    assert one(restore, "Service", "RemainAfterExit") == "yes"
    assert one(restore, "Service", "ExecStart") == f"{OP25B} restore --state-dir /var/lib/op25b"
    assert one(restore, "Unit", "DefaultDependencies") == "no"
    assert "network-pre.target" in words(restore, "Unit", "Before")
    assert "network-pre.target" in words(restore, "Unit", "Wants")
    assert "local-fs.target" in words(restore, "Unit", "After")
    assert one(restore, "Service", "CapabilityBoundingSet") == "CAP_NET_ADMIN"


def test_restore_cannot_hold_up_the_boot(restore, daemon):
    """Pulled in with Wants= only, and left in place on stop: a failed restore is visible but
    neither blocks the network nor removes what it loaded."""
    assert "Requires" not in restore["Unit"] and "RequiredBy" not in restore.get("Install", {})
    assert "op25b-restore.service" not in words(daemon, "Unit", "Requires")
    assert "op25b-restore.service" not in words(daemon, "Unit", "BindsTo")
    assert "ExecStop" not in restore["Service"]


def test_restore_reads_what_the_daemon_writes(restore, daemon):
    for key in ("User", "StateDirectory", "StateDirectoryMode", "DynamicUser"):
        assert restore["Service"].get(key) == daemon["Service"].get(key), key
