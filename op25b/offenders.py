"""Observe: `op25b top`, the sources in dynamic pools that keep trying port 25.

The kernel itself tracks them: the rule of each dynamic pool does `update @offenders_v4 { ip saddr }`
into a dynamic set with a per-element counter and a timeout, so no daemon sees packets. This
module reads those sets over netlink (GETSETELEM, a few ms for thousands of entries) for the
operator, on demand. Addresses are printed here and never exported as metrics.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import asdict, dataclass

from .addresses import FAMILIES, contains, parse_address
from .config import Config
from .errors import KernelError
from .render import names


@dataclass(frozen=True)
class Offender:
    address: str
    family: str
    pool: str | None  # from the configuration; None when top runs without it
    packets: int
    bytes: int
    expires_in_seconds: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def read_offenders(table: str, config: Config | None = None, limit: int = 20) -> tuple[list[Offender], int]:
    """The `limit` sources with the most packets, and how many the sets hold in all."""
    from .apply.nfquery import NetlinkError, QuerySocket

    found: list[Offender] = []
    pool_of = _pool_lookup(config)
    try:
        with QuerySocket() as query:
            for family in FAMILIES:
                af = socket.AF_INET if family == "ipv4" else socket.AF_INET6
                for element in query.elements(table, names.offenders_set(family)):
                    address = socket.inet_ntop(af, element.key)
                    expires = element.expires_ms / 1000 if element.expires_ms is not None else None
                    found.append(Offender(address, family, pool_of(address), element.packets, element.bytes, expires))
    except NetlinkError as exc:
        if exc.errno == errno.ENOENT:
            raise KernelError(f"table inet {table} has no offender sets: it is not loaded, or offenders.enabled "
                              "is false in its configuration") from None
        raise KernelError(f"cannot read the offender sets of table inet {table}: {exc}") from None
    except OSError as exc:
        raise KernelError(f"cannot open a netlink socket to nf_tables: {exc}") from None
    found.sort(key=lambda o: (-o.packets, -o.bytes, o.family, o.address))
    return found[:limit], len(found)


def _pool_lookup(config: Config | None):
    if config is None:
        return lambda address: None
    pools = [(pool.name, pool.intervals) for pool in config.pools if pool.kind == "dynamic"]

    def lookup(address: str) -> str | None:
        family, value = parse_address(address)
        return next((name for name, sets in pools if contains(sets[family], value)), None)

    return lookup


def format_table(rows: list[Offender], total: int, table: str) -> str:
    if not rows:
        return (f"no offenders in table inet {table}: no source in a dynamic pool has tried a blocked port "
                "within offenders.timeout\n")
    out = [f"top {len(rows)} of {total} sources in dynamic pools that tried a blocked port (table inet {table})",
           f"{'ADDRESS':<40} {'POOL':<20} {'PACKETS':>10} {'BYTES':>12} {'EXPIRES IN':>10}"]
    for row in rows:
        expires = f"{row.expires_in_seconds:.0f}s" if row.expires_in_seconds is not None else "-"
        out.append(f"{row.address:<40} {row.pool or '-':<20} {row.packets:>10} {row.bytes:>12} {expires:>10}")
    return "\n".join(out) + "\n"
