"""KernelApplier: the real kernel, through `nft -f -` for transactions and netlink for reads.

The nft binary is run with an argument list (never a shell) and the script on stdin. A failed
transaction changes nothing in the kernel: nft sends the whole batch and the kernel aborts it.
"""

from __future__ import annotations

import shutil
import subprocess

from ..errors import KernelError
from ..render.nftables import remove_text, transaction
from ..ruleset import Inventory, Ruleset
from .nftparse import parse_table


class KernelApplier:
    def __init__(self, nft: str | None = None) -> None:
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"
        self._reader = None
        self._delta = None

    @property
    def reader(self):
        if self._reader is None:
            from .netlink import NetlinkReader

            try:
                self._reader = NetlinkReader()
            except OSError as exc:
                raise KernelError(f"cannot open a netlink socket to nf_tables: {exc}") from None
        return self._reader

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        try:
            done = subprocess.run([self.nft, *args], input=stdin, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise KernelError(f"{self.nft} not found; install the nftables package") from None
        if done.returncode != 0:
            raise KernelError(_explain_nft_error(done.stderr))
        return done.stdout

    def current(self, table: str) -> Ruleset | None:
        if not self.inventory(table).table_exists:
            return None
        return parse_table(self._run(["list", "table", "inet", table]), table)

    def inventory(self, table: str) -> Inventory:
        return self.reader.inventory(table)

    def script(self, ruleset: Ruleset) -> str:
        return transaction(ruleset, self.inventory(ruleset.table))

    def check(self, ruleset: Ruleset) -> None:
        self._run(["-c", "-f", "-"], self.script(ruleset))

    def apply(self, ruleset: Ruleset, precheck: bool = True) -> str:
        script = self.script(ruleset)
        if precheck:
            self._run(["-c", "-f", "-"], script)
        self._run(["-f", "-"], script)
        return script

    def load(self, script: str) -> None:
        """Commit a prepared nft script (the last-known-good state) as one transaction."""
        self._run(["-f", "-"], script)

    def apply_delta(self, current: Ruleset, desired: Ruleset) -> int | None:
        """Commit `desired` as set-element changes against `current` (what the kernel holds), in one
        netlink batch: milliseconds instead of seconds for a one-pool change at 100k prefixes.
        Returns the number of changed intervals, or None when only a full apply can do it
        (rules, counters or declarations differ, or the delta is large). Raises KernelError when
        the kernel refuses the batch; it then keeps what it had."""
        from .setdelta import SetDeltaApplier, plan_delta

        delta = plan_delta(current, desired)
        if not delta:
            return None
        if self._delta is None:
            self._delta = SetDeltaApplier()
        self._delta.apply(delta)
        return delta.size

    def remove(self, table: str) -> bool:
        if not self.inventory(table).table_exists:
            return False
        self._run(["-f", "-"], remove_text(table))
        return True

    def counters(self, table: str) -> dict[str, tuple[int, int]]:
        return self.reader.counters(table)

    def generation(self) -> int:
        return self.reader.generation()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._delta is not None:
            self._delta.close()
            self._delta = None


def _explain_nft_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    head = "\n    ".join(lines[:6]) or "nft failed without a message"
    if "Operation not permitted" in stderr:
        return f"nft was refused: {head}\n  hint: run as root or with CAP_NET_ADMIN"
    return f"the kernel refused the transaction and kept its previous rules:\n    {head}"
