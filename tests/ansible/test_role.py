"""The Ansible role, run for real: ansible-playbook -c local inside a network namespace.

The whole deployment (ansible/site.yml with the op25b role) runs inside a network namespace
this test creates, so the nftables table lands in that namespace's kernel and nowhere else.
The namespace has only lo, so the Python dependencies come from a wheelhouse the test
downloads beforehand (outside the namespace), as they would from an internal mirror.

What is checked, in order: check mode on the fresh router changes nothing; the first run
changes things; the second run has changed=0; check mode with --diff has changed=0 and
failed=0; the table is in the namespace's kernel; a bad pool never reaches the router
(validate: op25b check); a changed pool changes only the config task and the reload handler,
and the kernel has the new pool; op25b_state=absent removes our table and files and leaves
another table alone. Also: ansible-lint (production profile) is clean, and the role's units
equal the packaged ones and pass `systemd-analyze verify`.

No systemd runs as PID 1 on the test machines, and a service started by systemd would run in
the host's network namespace anyway, not the test's: the role runs with
op25b_manage_service=false, which skips only the enable/start tasks (and says so).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
ROLE_DIR = ANSIBLE_DIR / "roles" / "op25b"
PACKAGED_UNITS = REPO / "op25b" / "data" / "systemd"
HOST = "router-under-test"
TABLE = "op25b"
CONFIG_TASK = "Write the op25b configuration"
RELOAD_HANDLER = "Apply the op25b configuration"
SERVICE_TASKS = (
    "Enable op25b-restore.service, which loads the last ruleset at boot",
    "Enable and start op25b.service",
)
# The parts of the repository that make up the wheel. They are copied, so that an edit of the
# working tree during the test cannot change the wheel between two runs, and build/ stays out
# of the repository.
SOURCE_ITEMS = ("pyproject.toml", "README.md", "LICENSE", "op25b")
BUILD_REQUIREMENTS = ("setuptools>=68", "wheel")

pytestmark = pytest.mark.kernel


def _venv_tool(name: str) -> str | None:
    """A tool of the virtualenv running pytest (ansible-core and ansible-lint live there)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


ANSIBLE_PLAYBOOK = _venv_tool("ansible-playbook")
ANSIBLE_ADHOC = _venv_tool("ansible")
ANSIBLE_LINT = _venv_tool("ansible-lint")
IP = shutil.which("ip")
NFT = shutil.which("nft")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
SYSTEM_PYTHON = "/usr/bin/python3"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
needs_tools = pytest.mark.skipif(
    not (ANSIBLE_PLAYBOOK and IP and NFT and Path(SYSTEM_PYTHON).exists()),
    reason="needs ansible-playbook, ip, nft and /usr/bin/python3",
)


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("check", False)
    return subprocess.run(argv, **kwargs)  # noqa: S603 - argv lists only, never a shell


# --- parsing ansible-playbook's default output ------------------------------------------------

_HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[(?:[^\]:]+ : )?(?P<name>.*?)\] \**$")
_STATUS = re.compile(r"^(ok|changed|skipping|failed|fatal): \[")
_RECAP = re.compile(
    rf"^{re.escape(HOST)}\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.M,
)


@dataclass
class PlaybookRun:
    label: str
    rc: int
    output: str
    seconds: float
    recap: dict[str, int] = field(default_factory=dict)
    changed_tasks: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)
    statuses: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, label: str, rc: int, output: str, seconds: float) -> PlaybookRun:
        result = cls(label, rc, output, seconds)
        match = _RECAP.search(output)
        if match:
            result.recap = {key: int(value) for key, value in match.groupdict().items()}
        task = None
        for line in output.splitlines():
            header = _HEADER.match(line)
            if header:
                task = header.group("name")
                result.statuses.setdefault(task, set())
                continue
            status = _STATUS.match(line)
            if not (task and status):
                continue
            result.statuses[task].add(status.group(1))
            if status.group(1) == "changed" and task not in result.changed_tasks:
                result.changed_tasks.append(task)
            if status.group(1) in ("failed", "fatal") and task not in result.failed_tasks:
                result.failed_tasks.append(task)
        return result

    def summary(self) -> str:
        return (
            f"{self.label}: rc={self.rc} recap={self.recap} changed tasks={self.changed_tasks} "
            f"({self.seconds:.1f}s)"
        )

    def explain(self) -> str:
        return f"{self.summary()}\n--- ansible-playbook output ---\n{self.output[-12000:]}"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the op25b source the role builds its wheel from (op25b_source_dir)."""
    snapshot = tmp_path_factory.mktemp("op25b-source")
    for name in SOURCE_ITEMS:
        item = REPO / name
        if item.is_dir():
            shutil.copytree(
                item, snapshot / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        elif item.exists():
            shutil.copy2(item, snapshot / name)
    if not (snapshot / "README.md").exists():  # pyproject names it as the readme
        (snapshot / "README.md").write_text("op25b\n")
    return snapshot


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """op25b's dependencies and build backend as wheels, fetched outside the namespace."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = list(meta["project"]["dependencies"]) + list(BUILD_REQUIREMENTS)
    house = tmp_path_factory.mktemp("wheelhouse")
    done = run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--dest",
            str(house),
            *requirements,
        ]
    )
    if done.returncode != 0:
        pytest.fail(
            f"cannot fetch op25b's dependencies from the package index: {done.stderr[-2000:]}"
        )
    return house


@pytest.fixture(scope="module")
def system_packages() -> None:
    """The role's op25b_python_packages, installed outside the namespace (apt needs the network).

    Inside the namespace only lo exists, so the role's package task must find them installed.
    """
    defaults = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
    wanted = [defaults["op25b_nftables_package"], *defaults["op25b_python_packages"]]
    missing = [
        pkg
        for pkg in wanted
        if "install ok installed" not in run(["dpkg-query", "-W", "-f=${Status}", pkg]).stdout
    ]
    if missing:
        print(f"installing Debian packages the role needs, outside the namespace: {missing}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        done = run(install, env=env)
        if done.returncode != 0:  # stale package lists
            run(["apt-get", "update", "-q"], env=env)
            done = run(install, env=env)
        if done.returncode != 0:
            pytest.fail(f"cannot install {missing}: {done.stderr[-2000:]}")


@pytest.fixture
def netns() -> str:
    """A fresh network namespace with lo up, deleted afterwards whatever happens."""
    name = f"op25b-ans-{secrets.token_hex(4)}"
    created = run([IP, "netns", "add", name])
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr}")
    try:
        run([IP, "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        run([IP, "netns", "delete", name])


@pytest.fixture
def system_user() -> str:
    """A user/group name of this test only; removed afterwards even if the role could not."""
    name = f"op25b-t{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        run(["userdel", name])
        run(["groupdel", name])


class Deployment:
    """An inventory in tmp_path and ansible-playbook runs of site.yml inside `netns`."""

    def __init__(self, tmp_path: Path, netns: str, source: Path, wheelhouse: Path, user: str):
        self.tmp = tmp_path
        self.netns = netns
        self.wheelhouse = wheelhouse
        self.inventory = tmp_path / "inventory"
        self.root = tmp_path / "router"  # the router's file system paths, all under tmp_path
        self.host_vars: dict = {
            "ansible_connection": "local",
            "ansible_python_interpreter": SYSTEM_PYTHON,
            "ansible_become": False,  # root already; the test machine has no sudo
            "op25b_manage_service": False,
            "op25b_source_dir": str(source),
            "op25b_local_cache_path": str(tmp_path / "controller-wheels"),
            "op25b_pip_extra_args": f"--no-index --find-links {wheelhouse}",
            "op25b_python": SYSTEM_PYTHON,
            "op25b_venv": str(self.root / "opt/op25b/venv"),
            "op25b_wheel_dir": str(self.root / "opt/op25b/wheels"),
            "op25b_config_path": str(self.root / "etc/op25b/op25b.yaml"),
            "op25b_state_dir": str(self.root / "var/lib/op25b"),
            "op25b_systemd_dir": str(self.root / "etc/systemd/system"),
            "op25b_system_user": user,
            "op25b_system_group": user,
            "op25b_table": TABLE,
            "op25b_host_exemptions": [
                {
                    "prefix": "198.51.100.77/32",
                    "reason": "own MTA, ticket 4711",
                    "expires": "2099-12-31",
                },
            ],
        }
        # Pools per group, as in the example inventory; the host adds its own on top.
        self.group_vars: dict = {
            "op25b_relays": ["192.0.2.25", "2001:db8:25::25"],
            "op25b_mode": "enforce",
            "op25b_pools": [
                {
                    "name": "ftth-test",
                    "kind": "dynamic",
                    "prefixes": ["198.51.100.0/25", "2001:db8:1000::/40"],
                },
                {"name": "biz-test", "kind": "static", "prefixes": ["203.0.113.0/27"]},
            ],
        }
        self.host_pools: list[dict] = [
            {
                "name": "lte-test",
                "kind": "dynamic",
                "mode": "monitor",
                "prefixes": ["203.0.113.128/26"],
            },
        ]
        for folder in ("ansible-home", "ansible-local-tmp", "ansible-remote-tmp"):
            (tmp_path / folder).mkdir()
        # Part of the operating system on a real router, not something the role creates.
        Path(self.host_vars["op25b_systemd_dir"]).mkdir(parents=True)
        self.write_inventory()

    @property
    def config_path(self) -> Path:
        return Path(self.host_vars["op25b_config_path"])

    def write_inventory(self) -> None:
        host = {**self.host_vars, "op25b_host_pools": self.host_pools}
        inventory = {
            "all": {
                "children": {
                    "edge_routers": {
                        "children": {"edge_test": {"hosts": {HOST: host}, "vars": self.group_vars}}
                    }
                }
            }
        }
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
        env.update(
            {
                "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
                "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
                "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-local-tmp"),
                "ANSIBLE_REMOTE_TMP": str(self.tmp / "ansible-remote-tmp"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_STDOUT_CALLBACK": "default",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                # The namespace has only lo: the wheel build gets its backend from the wheelhouse.
                "PIP_NO_INDEX": "1",
                "PIP_FIND_LINKS": str(self.wheelhouse),
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
            }
        )
        return env

    def playbook(self, label: str, *extra: str) -> PlaybookRun:
        argv = [
            IP,
            "netns",
            "exec",
            self.netns,
            ANSIBLE_PLAYBOOK,
            "-i",
            str(self.inventory),
            "site.yml",
            *extra,
        ]
        started = time.monotonic()
        done = run(
            argv,
            cwd=ANSIBLE_DIR,
            env=self.env(),
            stderr=subprocess.STDOUT,
            capture_output=False,
            stdout=subprocess.PIPE,
            timeout=600,
        )
        result = PlaybookRun.parse(label, done.returncode, done.stdout, time.monotonic() - started)
        print(result.summary())
        return result

    def nft(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([IP, "netns", "exec", self.netns, NFT, *args])


@pytest.fixture
def deployment(
    tmp_path, netns, source_snapshot, wheelhouse, system_packages, system_user
) -> Deployment:
    return Deployment(tmp_path, netns, source_snapshot, wheelhouse, system_user)


def _say_service_tasks_skipped(run_: PlaybookRun) -> None:
    pid1 = Path("/proc/1/comm").read_text().strip() if Path("/proc/1/comm").exists() else "unknown"
    why = (
        f"no systemd runs as PID 1 here (PID 1 is {pid1!r})"
        if pid1 != "systemd"
        else "a service started by systemd would run in the host's network namespace, not the test's"
    )
    message = (
        f"op25b_manage_service=false: the role's service enable/start tasks "
        f"({'; '.join(SERVICE_TASKS)}) were SKIPPED because {why}; the role applied the "
        f"configuration with `op25b plan`/`op25b apply` instead. Everything else ran."
    )
    print(message)
    warnings.warn(message, UserWarning, stacklevel=2)
    assert "SKIPPED" in run_.output and "op25b_manage_service is false" in run_.output, (
        run_.explain()
    )


# --- the tests -----------------------------------------------------------------------------------


@needs_root
@needs_tools
@pytest.mark.timeout(1200)
def test_role_deploys_converges_updates_and_removes(deployment: Deployment) -> None:
    dep = deployment
    runs: list[PlaybookRun] = []

    # 0. Check mode before the first deployment: reports the changes, fails nothing, and
    #    leaves the kernel alone.
    dry_run = dep.playbook("check mode, fresh router", "--check", "--diff")
    runs.append(dry_run)
    assert dry_run.rc == 0 and dry_run.recap.get("failed") == 0, dry_run.explain()
    assert CONFIG_TASK in dry_run.changed_tasks, dry_run.explain()
    assert "+  - 198.51.100.0/25" in dry_run.output, dry_run.explain()
    assert dep.nft("list", "table", "inet", TABLE).returncode != 0
    assert not dep.config_path.exists()

    # 1. The first run changes things, and the table lands in the namespace's kernel.
    first = dep.playbook("first run")
    runs.append(first)
    assert first.rc == 0 and first.recap.get("failed") == 0, first.explain()
    assert first.recap["changed"] > 0, first.explain()
    assert CONFIG_TASK in first.changed_tasks, first.explain()
    _say_service_tasks_skipped(first)
    for task in SERVICE_TASKS:
        assert first.statuses.get(task) == {"skipping"}, first.explain()
    listed = dep.nft("list", "table", "inet", TABLE)
    assert listed.returncode == 0, listed.stderr
    assert "198.51.100.0/25" in listed.stdout and "2001:db8:1000::/40" in listed.stdout, (
        listed.stdout
    )

    # The role's units (rendered with the test's paths) pass systemd-analyze verify.
    units = Path(dep.host_vars["op25b_systemd_dir"])
    if SYSTEMD_ANALYZE:
        _verify_units([units / "op25b.service", units / "op25b-restore.service"])
    else:
        warnings.warn("systemd-analyze is not installed: the units were not verified", stacklevel=1)

    # 2. The second run changes nothing.
    second = dep.playbook("second run")
    runs.append(second)
    assert second.rc == 0 and second.recap.get("failed") == 0, second.explain()
    assert second.recap["changed"] == 0, second.explain()

    # 3. Check mode with --diff on the converged router: no change, no failure.
    check = dep.playbook("check mode", "--check", "--diff")
    runs.append(check)
    assert check.rc == 0 and check.recap.get("failed") == 0, check.explain()
    assert check.recap["changed"] == 0, check.explain()

    # 4. A bad pool never reaches the router: `op25b check` (validate:) refuses it. This and the
    #    preview below use the configure tag, as an operator pushing a pool change would.
    config_before = dep.config_path.read_text()
    good_pools = [dict(pool) for pool in dep.group_vars["op25b_pools"]]
    dep.group_vars["op25b_pools"][0]["prefixes"] = ["198.51.100.0/33"]
    dep.write_inventory()
    bad = dep.playbook("bad pool", "--tags", "op25b_configure")
    runs.append(bad)
    assert bad.rc != 0 and bad.failed_tasks == [CONFIG_TASK], bad.explain()
    assert "failed to validate" in bad.output, bad.explain()
    assert dep.config_path.read_text() == config_before
    dep.group_vars["op25b_pools"] = good_pools

    # 5. A changed pool: check mode shows the diff and changes nothing...
    dep.group_vars["op25b_pools"][0]["prefixes"] = [
        "198.51.100.0/25",
        "198.51.100.128/26",
        "2001:db8:1000::/40",
    ]
    dep.write_inventory()
    preview = dep.playbook(
        "check mode, pool changed", "--check", "--diff", "--tags", "op25b_configure"
    )
    runs.append(preview)
    assert preview.rc == 0 and preview.recap.get("failed") == 0, preview.explain()
    assert preview.changed_tasks == [CONFIG_TASK], preview.explain()
    assert "+  - 198.51.100.128/26" in preview.output, preview.explain()
    assert "198.51.100.128/26" not in dep.nft("list", "table", "inet", TABLE).stdout

    # ...and the real run changes only the config task and the reload handler.
    update = dep.playbook("pool changed")
    runs.append(update)
    assert update.rc == 0 and update.recap.get("failed") == 0, update.explain()
    assert update.changed_tasks == [CONFIG_TASK, RELOAD_HANDLER], update.explain()
    assert update.recap["changed"] == 2, update.explain()
    listed = dep.nft("list", "table", "inet", TABLE)
    assert "198.51.100.128/26" in listed.stdout, listed.stdout

    # 6. Removal: our table and files go, another table in the same kernel stays.
    dep.nft("add", "table", "inet", "bystander")
    dep.nft("add", "chain", "inet", "bystander", "keep", "{ type filter hook forward priority 0; }")
    removal = dep.playbook("removal", "-e", "op25b_state=absent")
    runs.append(removal)
    assert removal.rc == 0 and removal.recap.get("failed") == 0, removal.explain()
    assert "Delete the op25b table" in removal.changed_tasks, removal.explain()
    assert dep.nft("list", "table", "inet", TABLE).returncode != 0
    assert dep.nft("list", "chain", "inet", "bystander", "keep").returncode == 0
    for key in ("op25b_config_path", "op25b_venv", "op25b_wheel_dir", "op25b_state_dir"):
        assert not Path(dep.host_vars[key]).exists(), key
    assert not (units / "op25b.service").exists() and not (units / "op25b-restore.service").exists()
    assert run(["getent", "passwd", dep.host_vars["op25b_system_user"]]).returncode != 0

    again = dep.playbook("removal again", "-e", "op25b_state=absent")
    runs.append(again)
    assert again.rc == 0 and again.recap["changed"] == 0, again.explain()

    print("\n".join(r.summary() for r in runs))


def _verify_units(units: list[Path]) -> None:
    if not SYSTEMD_ANALYZE:
        pytest.skip("systemd-analyze is not installed")
    done = run([SYSTEMD_ANALYZE, "verify", *map(str, units)])
    # verify exits 0 on unknown keys too; any message is a finding.
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        f"systemd-analyze verify {units}: rc={done.returncode}\n{done.stdout}{done.stderr}"
    )


def _directives(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.skipif(not ANSIBLE_ADHOC, reason="needs ansible")
def test_role_units_equal_the_packaged_units_and_verify(tmp_path: Path) -> None:
    """With the role's defaults the templates render the packaged units, directive for directive."""
    env = _ansible_env(tmp_path)
    rendered = {}
    for unit in ("op25b.service", "op25b-restore.service"):
        dest = tmp_path / unit
        done = run(
            [
                ANSIBLE_ADHOC,
                "localhost",
                "-c",
                "local",
                "-e",
                f"ansible_python_interpreter={SYSTEM_PYTHON}",
                "-e",
                f"@{ROLE_DIR / 'defaults' / 'main.yml'}",
                "-e",
                f"@{ROLE_DIR / 'vars' / 'main.yml'}",
                "-m",
                "ansible.builtin.template",
                "-a",
                f"src={ROLE_DIR / 'templates' / (unit + '.j2')} dest={dest} mode=0644",
            ],
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        rendered[unit] = dest
        packaged = PACKAGED_UNITS / unit
        if not packaged.exists():
            pytest.skip(f"{packaged} is not there yet")
        assert _directives(dest.read_text()) == _directives(packaged.read_text()), unit

    # verify needs the ExecStart binary to exist: point the copies at one that does.
    op25b = shutil.which("op25b") or str(Path(sys.executable).parent / "op25b")
    if not Path(op25b).exists():
        pytest.skip("no op25b executable to point the units at")
    for dest in rendered.values():
        dest.write_text(dest.read_text().replace("/opt/op25b/venv/bin/op25b", op25b))
    _verify_units(list(rendered.values()))


@pytest.mark.skipif(not ANSIBLE_ADHOC, reason="needs ansible")
def test_example_inventory_renders_valid_configs_for_a_staged_rollout(tmp_path: Path) -> None:
    """Every router of the example inventory gets a configuration that `op25b check` accepts.

    The role's defaults and vars go into group_vars/all of a copy of the example inventory, the
    lowest inventory level, so the example's group_vars and host_vars override them exactly as
    they override role defaults; then Ansible's template module renders the role's template.
    """
    inventory = tmp_path / "inventory"
    shutil.copytree(ANSIBLE_DIR / "inventory" / "example", inventory)
    role_vars = {
        **yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text()),
        **yaml.safe_load((ROLE_DIR / "vars" / "main.yml").read_text()),
    }
    role_vars["ansible_python_interpreter"] = SYSTEM_PYTHON
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(role_vars, sort_keys=False))
    out = tmp_path / "rendered"
    out.mkdir()
    done = run(
        [
            ANSIBLE_ADHOC,
            "edge_routers",
            "-i",
            str(inventory),
            "-c",
            "local",
            "-m",
            "ansible.builtin.template",
            "-a",
            f"src={ROLE_DIR / 'templates' / 'op25b.yaml.j2'} dest={out}/{{{{ inventory_hostname }}}}.yaml mode=0644",
        ],
        env=_ansible_env(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    op25b = Path(sys.executable).parent / "op25b"
    modes = {}
    for config in sorted(out.glob("*.yaml")):
        checked = run([str(op25b), "check", "-c", str(config)])
        assert checked.returncode == 0, (
            f"{config.name}:\n{config.read_text()}\n{checked.stdout}{checked.stderr}"
        )
        doc = yaml.safe_load(config.read_text())
        modes[config.stem] = {pool["name"]: pool.get("mode", "static") for pool in doc["pools"]}
    # The staged rollout: east monitors, west enforces, and er-west-02 watches its new pool.
    assert modes == {
        "er-east-01.example.net": {"ftth-east": "monitor", "biz-east": "static"},
        "er-east-02.example.net": {
            "ftth-east": "monitor",
            "biz-east": "static",
            "lte-east": "monitor",
        },
        "er-west-01.example.net": {"ftth-west": "enforce", "biz-west": "static"},
        "er-west-02.example.net": {
            "ftth-west": "enforce",
            "biz-west": "static",
            "ftth-west-new": "monitor",
        },
    }, modes


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "ANSIBLE_REMOTE_TMP": str(tmp_path / "ansible-remote-tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    return env


def test_every_variable_is_in_defaults_and_argument_specs() -> None:
    """defaults/main.yml and meta/argument_specs.yml list the same variables, with one default."""
    defaults = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE_DIR / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    assert all(name.startswith("op25b_") for name in defaults)
    assert {name: options[name].get("default") for name in defaults} == defaults
    assert all(options[name].get("description") for name in options)
    used = set()
    for path in ROLE_DIR.rglob("*"):
        if path.is_file():
            used |= set(re.findall(r"(?<![\w])op25b_[a-z0-9_]+", path.read_text()))
    tags = {"op25b_install", "op25b_configure", "op25b_run"}
    assert used - tags <= set(defaults), sorted(used - tags - set(defaults))


@pytest.mark.skipif(not ANSIBLE_LINT, reason="needs ansible-lint")
def test_ansible_lint_production_profile_is_clean(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_HOME": str(tmp_path / "home"),
            "NO_COLOR": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
    )
    started = time.monotonic()
    done = run(
        [ANSIBLE_LINT, "--profile", "production", "--offline"],
        cwd=ANSIBLE_DIR,
        env=env,
        timeout=600,
    )
    output = done.stdout + done.stderr
    print(
        f"ansible-lint: rc={done.returncode} ({time.monotonic() - started:.1f}s)\n{output[-3000:]}"
    )
    assert done.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output
