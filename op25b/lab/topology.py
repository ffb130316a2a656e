"""Three namespaces joined by two veth pairs:

    <name>-sub  sub0 ─── rsub  <name>-rtr  rinet ─── inet0  <name>-inet
    subscribers          router (forwarding; op25b's table)   internet host + ISP relay

Subscriber addresses sit on sub0 (one per pool kind), so real TCP connections can be made from
each; probes with other sources in the same prefixes are sent raw by scapy.
"""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass, field

ROUTER_SUB_V4, ROUTER_SUB_V6 = "203.0.113.254", "2001:db8:fffe::1"
ROUTER_INET_V4, ROUTER_INET_V6 = "192.0.2.254", "2001:db8:ffff::fe"
INTERNET_V4, INTERNET_V6 = "192.0.2.1", "2001:db8:ffff::1"
RELAY_V4, RELAY_V6 = "192.0.2.25", "2001:db8:25::25"

# One subscriber address per case, matching lab_config() below.
ADDRESSES = {
    "dynamic": ("198.51.100.10", "2001:db8:1000::10"),
    "monitor": ("198.51.100.130", "2001:db8:2000::10"),
    "static": ("203.0.113.10", "2001:db8:3000::10"),
    "exempt": ("198.51.100.77", "2001:db8:1000::77"),
    "nopool": ("198.51.100.200", "2001:db8:4000::10"),
}


def lab_config(action: str = "reject", table: str = "op25b", extra: str = "") -> str:
    """The lab's op25b configuration (YAML text)."""
    return f"""\
table: {table}
action: {action}
blocked_ports: [25]
submission_ports: [587, 465]
relays: [{RELAY_V4}, "{RELAY_V6}"]
pools:
  - name: ftth-east
    kind: dynamic
    mode: enforce
    prefixes: [198.51.100.0/25, "2001:db8:1000::/40"]
  - name: cable-west
    kind: dynamic
    mode: monitor
    prefixes: [198.51.100.128/26, "2001:db8:2000::/40"]
  - name: dsl-north
    kind: dynamic
    mode: off
    prefixes: [198.51.100.208/28, "2001:db8:5000::/40"]
  - name: biz-fixed
    kind: static
    prefixes: [203.0.113.0/26, "2001:db8:3000::/48"]
exemptions:
  - prefix: 198.51.100.77/32
    reason: "runs own MTA, ticket 4711"
  - prefix: "2001:db8:1000::77/128"
    reason: "runs own MTA, ticket 4712"
  - prefix: 198.51.100.99/32
    reason: "expired grant"
    expires: 2020-01-01
{extra}"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Lab:
    """Create with `with Lab() as lab:`; the namespaces are deleted on exit, even on failure."""

    name: str = field(default_factory=lambda: f"o25-{uuid.uuid4().hex[:6]}")

    @property
    def sub(self) -> str:
        return f"{self.name}-sub"

    @property
    def router(self) -> str:
        return f"{self.name}-rtr"

    @property
    def internet(self) -> str:
        return f"{self.name}-inet"

    def __enter__(self) -> Lab:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> None:
        for ns in (self.sub, self.router, self.internet):
            _ip("netns", "add", ns)
            self.sysctl(ns, "net.ipv6.conf.all.accept_dad", "0")
            self.sysctl(ns, "net.ipv6.conf.default.accept_dad", "0")
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", "sub0", "netns", self.sub, "type", "veth", "peer", "name", "rsub", "netns", self.router)
        _ip("link", "add", "inet0", "netns", self.internet, "type", "veth", "peer", "name", "rinet",
            "netns", self.router)
        r = self.router
        self.sysctl(r, "net.ipv4.ip_forward", "1")
        self.sysctl(r, "net.ipv6.conf.all.forwarding", "1")
        # Probes carry sources the subscriber host does not own; loose checks let them through.
        self.sysctl(r, "net.ipv4.conf.all.rp_filter", "0")
        self.sysctl(r, "net.ipv4.conf.default.rp_filter", "0")
        for link in ("rsub", "rinet"):
            _ip("-n", r, "link", "set", link, "up")
            self.sysctl(r, f"net.ipv4.conf.{link}.rp_filter", "0")
        _ip("-n", r, "addr", "add", f"{ROUTER_SUB_V4}/32", "dev", "rsub")
        _ip("-n", r, "addr", "add", f"{ROUTER_SUB_V6}/64", "dev", "rsub", "nodad")
        _ip("-n", r, "addr", "add", f"{ROUTER_INET_V4}/24", "dev", "rinet")
        _ip("-n", r, "addr", "add", f"{ROUTER_INET_V6}/48", "dev", "rinet", "nodad")
        for prefix in ("198.51.100.0/24", "203.0.113.0/24"):
            _ip("-n", r, "route", "add", prefix, "dev", "rsub")
        _ip("-n", r, "-6", "route", "add", "2001:db8::/32", "dev", "rsub")
        _ip("-n", r, "-6", "route", "add", "2001:db8:25::/48", "via", INTERNET_V6, "dev", "rinet")

        s = self.sub
        _ip("-n", s, "link", "set", "sub0", "up")
        _ip("-n", s, "addr", "add", "2001:db8:fffe::2/64", "dev", "sub0", "nodad")
        for v4, v6 in ADDRESSES.values():
            _ip("-n", s, "addr", "add", f"{v4}/32", "dev", "sub0")
            _ip("-n", s, "addr", "add", f"{v6}/128", "dev", "sub0", "nodad")
        _ip("-n", s, "route", "add", ROUTER_SUB_V4, "dev", "sub0")
        _ip("-n", s, "route", "add", "default", "via", ROUTER_SUB_V4, "dev", "sub0")
        _ip("-n", s, "-6", "route", "add", "default", "via", ROUTER_SUB_V6, "dev", "sub0")

        i = self.internet
        _ip("-n", i, "link", "set", "inet0", "up")
        for address in (f"{INTERNET_V4}/24", f"{RELAY_V4}/24"):
            _ip("-n", i, "addr", "add", address, "dev", "inet0")
        _ip("-n", i, "addr", "add", f"{INTERNET_V6}/48", "dev", "inet0", "nodad")
        _ip("-n", i, "addr", "add", f"{RELAY_V6}/128", "dev", "inet0", "nodad")
        _ip("-n", i, "route", "add", "default", "via", ROUTER_INET_V4)
        _ip("-n", i, "-6", "route", "add", "default", "via", ROUTER_INET_V6)

    def down(self) -> None:
        for ns in (self.sub, self.router, self.internet):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    @staticmethod
    def sysctl(ns: str, key: str, value: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"],
                       check=True, capture_output=True)

    def argv(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, ns: str, *argv: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(ns, *argv), capture_output=True, text=True, check=check,
                              timeout=timeout, **kw)

    def popen(self, ns: str, *argv: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(ns, *argv), **kw)

    def mac(self, ns: str, link: str) -> str:
        return self.run(ns, "cat", f"/sys/class/net/{link}/address").stdout.strip()
