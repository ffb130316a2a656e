"""Vendor renders: each tests/data/vendor/<case>.yaml has, per platform, <case>.<platform>.ref (the
rendered filter) or <case>.<platform>.error (the refusal, when the platform cannot express the
policy). Regenerate with --update-golden. Each render is also evaluated entry by entry and held to
policy.verdict(), so a golden file cannot enshrine a wrong order."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from op25b.addresses import FAMILIES, Family, format_address, parse_address, parse_prefix
from op25b.config import load_config
from op25b.errors import RenderError
from op25b.policy import Policy, compile_policy, verdict
from op25b.render.vendor import PLATFORMS, render_vendor
from op25b.render.vendor.features import FEATURES, check, used_features

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data" / "vendor"
CASES = sorted(DATA.glob("*.yaml"))
TODAY = dt.date(2026, 12, 4)  # fixed, so exemption expiry does not change the golden files
STRANGER = {"ipv4": "192.0.2.200", "ipv6": "2001:db8:ffff::1"}  # in no pool and no relay
PAIRS = [(case, name) for case in CASES for name in PLATFORMS]


def policy_of(case: Path) -> Policy:
    return compile_policy(load_config(case), TODAY)


def attempt(case: Path, platform: str) -> tuple[str, str]:
    """(".ref", text) for a render, (".error", message) for a refusal."""
    try:
        return ".ref", render_vendor(platform, policy_of(case))
    except RenderError as exc:
        return ".error", str(exc) + "\n"


@pytest.mark.parametrize(("case", "platform"), PAIRS, ids=[f"{c.stem}-{p}" for c, p in PAIRS])
def test_render_matches_golden(case, platform, update_golden):
    suffix, text = attempt(case, platform)
    golden = DATA / f"{case.stem}.{platform}{suffix}"
    other = DATA / f"{case.stem}.{platform}{'.error' if suffix == '.ref' else '.ref'}"  # the outcome it was not
    if update_golden:
        golden.write_text(text)
        other.unlink(missing_ok=True)
    assert not other.exists(), f"{other.name} exists, but this run gave {golden.name}; review, then --update-golden"
    assert golden.exists(), f"{golden} is missing; run pytest --update-golden once on purpose"
    assert text == golden.read_text(), f"{golden.name} differs; review, then --update-golden"


def test_there_are_golden_cases_and_refusals():
    assert len(CASES) >= 3
    assert list(DATA.glob("*.ios-xe.error")), "keep one case that IOS-XE must refuse"


# --- the render obeys the policy: evaluate it like the router would, probe by probe ------------


def probes(policy: Policy, family: Family) -> list[str]:
    """Both ends of every interval of the policy and their neighbours, plus one stranger."""
    intervals = [*policy.relays[family], *policy.exempt[family],
                 *(i for pool in policy.dynamic for i in pool.sets[family])]
    top = (1 << (32 if family == "ipv4" else 128)) - 1
    values = {v for start, end in intervals for v in (start - 1, start, end, end + 1) if 0 <= v <= top}
    values.add(parse_address(STRANGER[family])[1])
    return [format_address(family, value) for value in sorted(values)]


def destinations(policy: Policy, family: Family) -> list[str]:
    """One relay (when there is one) and one address that is no relay."""
    return [format_address(family, start) for start, _ in policy.relays[family][:1]] + [STRANGER[family]]


def expected_section(policy: Policy, source: str, port: int, destination: str) -> tuple[str, str | None]:
    """(section, pool) that should decide, named as both renders name their parts."""
    result = verdict(policy, source, port, destination)
    if port in policy.submission_ports:
        return "submission", None
    if result.pool and result.action != "pass":
        return "pool", result.pool
    if "relays" in result.reason:
        return "relays", None
    if result.reason.startswith("source is exempt"):
        return "exempt", None
    return "default", None


def in_prefix(prefix: str, address: str) -> bool:
    net = parse_prefix(prefix)
    family, value = parse_address(address)
    return family == net.family and net.start <= value <= net.end


class IosAcl:
    """Just enough of IOS ACL matching to evaluate what ios_xe.py writes."""

    ENTRY = re.compile(r" (?:sequence )?(\d+) (permit|deny) (tcp|ip|ipv6) (.+?)(?: eq (\d+))?( log)?$")

    def __init__(self, text: str, family: Family) -> None:
        header = "ip access-list extended OP25B-V4" if family == "ipv4" else "ipv6 access-list OP25B-V6"
        body = text.split(f"\n{header}\n", 1)[1].split("\nexit\n", 1)[0]
        self.entries, section = [], "default"
        for line in body.splitlines():
            if line.startswith(" ! "):
                words = line[3:].split()
                section = {"relays:": "relays", "exempt:": "exempt", "dynamic": f"pool {words[2].rstrip(':')}",
                           "submission": "submission"}.get(words[0], section)
                continue
            seq, verb, proto, addresses, port, _ = self.ENTRY.fullmatch(line).groups()
            src, dst = self._split(addresses)
            where = "default" if int(seq) == 2147483647 else section
            self.entries.append((int(seq), verb, proto, src, dst, int(port) if port else None, where))
        self.entries.sort()

    @staticmethod
    def _split(text: str) -> tuple[str, str]:
        tokens, out = text.split(), []
        while tokens:
            word = tokens.pop(0)
            if word == "any":
                out.append("any")
            elif word == "host":
                out.append(tokens.pop(0))
            elif "/" in word:
                out.append(word)
            else:  # IPv4 address and wildcard mask
                wildcard = parse_address(tokens.pop(0))[1]
                out.append(f"{word}/{32 - wildcard.bit_length()}")
        return out[0], out[1]

    def decide(self, source: str, port: int, destination: str) -> tuple[str, str]:
        for _, verb, proto, src, dst, eq, where in self.entries:
            if (src == "any" or in_prefix(src, source)) and (dst == "any" or in_prefix(dst, destination)) \
                    and (proto != "tcp" or eq is None or eq == port):
                return verb, where
        raise AssertionError("no entry matched; the final permit is missing")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_ios_xe_entries_decide_like_the_kernel(case):
    policy = policy_of(case)
    try:
        text = render_vendor("ios-xe", policy)
    except RenderError:
        pytest.skip("IOS-XE refuses this policy (its .error golden file holds why)")
    for family in FAMILIES:
        acl = IosAcl(text, family)
        for source in probes(policy, family):
            for destination in destinations(policy, family):
                for port in (*policy.blocked_ports, *policy.submission_ports, 80):
                    section, pool = expected_section(policy, source, port, destination)
                    want = f"pool {pool}" if pool else section
                    blocked = verdict(policy, source, port, destination).blocked
                    assert acl.decide(source, port, destination) == ("deny" if blocked else "permit", want), \
                        f"{family} {source} → {destination}:{port}"


def junos_terms(text: str, family: Family) -> list[dict]:
    """The terms of one filter, in order: name, prefix-list entries matched, ports, actions."""
    lists = dict(re.findall(r"prefix-list (\S+) \{\n(.*?)\n    \}", text, re.S))
    name = "OP25B-V4" if family == "ipv4" else "OP25B-V6"
    body = text.split(f"filter {name} {{\n", 1)[1]
    terms = []
    for term, block in re.findall(r"\n?            term (\S+) \{\n(.*?)\n            \}\n", "\n" + body, re.S):
        match = re.search(r"(source|destination)-prefix-list \{\n\s+(\S+);", block)
        ports = re.search(r"destination-port \[? ?([\d ]+?) ?\]?;", block)
        terms.append({
            "name": term,
            "side": match.group(1) if match else None,
            "prefixes": re.findall(r"(\S+);", lists[match.group(2)]) if match else [],
            "ports": [int(p) for p in ports.group(1).split()] if ports else None,
            "blocks": bool(re.search(r"reject|discard", block)),
        })
    return terms


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_junos_terms_decide_like_the_kernel(case):
    policy = policy_of(case)
    text = render_vendor("junos", policy)
    for family in FAMILIES:
        terms = junos_terms(text, family)
        assert terms[-1]["name"] == "default"
        for source in probes(policy, family):
            for destination in destinations(policy, family):
                for port in (*policy.blocked_ports, *policy.submission_ports, 80):
                    hit = next(t for t in terms if (t["ports"] is None or port in t["ports"]) and (
                        not t["side"] or any(in_prefix(p, source if t["side"] == "source" else destination)
                                             for p in t["prefixes"])))
                    section, pool = expected_section(policy, source, port, destination)
                    want = {"pool": f"dynamic-{pool}", "submission": f"submission-{port}"}.get(section, section)
                    assert (hit["name"], hit["blocks"]) == (want, verdict(policy, source, port, destination).blocked), \
                        f"{family} {source} → {destination}:{port}"


# --- features: declared, checked, refused loudly ----------------------------------------------


def test_every_platform_declares_known_features():
    for platform in PLATFORMS.values():
        assert platform.supported <= set(FEATURES), platform.name


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_used_features_are_known(case):
    assert set(used_features(policy_of(case))) <= set(FEATURES)


def test_ios_xe_refuses_tcp_reset_with_what_to_do():
    with pytest.raises(RenderError) as caught:
        render_vendor("ios-xe", policy_of(DATA / "example.yaml"))
    message = str(caught.value)
    assert "--vendor ios-xe cannot render this policy faithfully, so it renders nothing" in message
    assert "action: reject (enforced on pool 'ftth-east')" in message
    assert "cannot answer with a TCP reset" in message
    assert "hint: set action: admin-prohibited" in message and "action: drop" in message
    assert "`ip unreachables`" in message and "`no ip unreachables`" in message


def test_reject_without_an_enforce_pool_is_not_refused():
    policy = policy_of(DATA / "reject_monitor_only.yaml")
    assert policy.action == "reject" and "action-reject" not in used_features(policy)
    assert "permit tcp 198.51.100.0 0.0.0.255 any eq 25" in render_vendor("ios-xe", policy)


def test_check_names_every_missing_feature_at_once():
    with pytest.raises(RenderError) as caught:
        check("nothing", frozenset(), policy_of(DATA / "admin_all_modes.yaml"))
    message = str(caught.value)
    for where in ("pool 'dsl': mode: enforce", "pool 'cable': mode: monitor", "pool 'fiber': mode: off",
                  "action: admin-prohibited", "relays", "static pools / exemptions", "submission_ports",
                  "offenders.enabled"):
        assert f"  {where}" in message, where


def test_unknown_vendor_names_the_known_ones():
    with pytest.raises(RenderError, match=r"unknown vendor 'eos'; op25b renders for: junos, ios-xe"):
        render_vendor("eos", policy_of(DATA / "example.yaml"))


# --- the command line ---------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "op25b", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_vendor_list_names_both_platforms():
    result = run("render", "-c", str(DATA / "drop_interfaces.yaml"), "--vendor", "list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert names == ["junos", "ios-xe"]
    assert "cannot express: enforce pools answer with a TCP reset" in result.stdout


def test_cli_unknown_vendor_exits_2_with_a_sentence():
    result = run("render", "-c", str(DATA / "drop_interfaces.yaml"), "--vendor", "eos")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: unknown vendor 'eos'; op25b renders for: junos, ios-xe")
    assert "hint: op25b render --vendor list" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refusal_exits_2_and_prints_nothing_on_stdout():
    result = run("render", "-c", str(DATA / "example.yaml"), "--vendor", "ios-xe")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "TCP reset" in result.stderr and "Traceback" not in result.stderr


def test_cli_renders_junos():
    result = run("render", "-c", str(DATA / "drop_interfaces.yaml"), "--vendor", "junos")
    assert result.returncode == 0, result.stderr
    assert "filter OP25B-V4 {" in result.stdout and "discard;" in result.stdout
