"""KernelApplier: the real kernel. Applies go out as one nf_tables netlink batch that we encode
ourselves (nlbatch.py); reads use struct-decoded netlink dumps (nfquery.py).

`nft` is still used where its cost does not matter or its output is the point: `current()`
(`nft list table`, for plan and drift checks), `remove`, `load` of a saved script, and as the
fallback when a rule is outside the forms nlrules.py encodes. It is run with an argument list
(never a shell) and the script on stdin. Either way a failed transaction changes nothing in the
kernel: the whole batch is committed or aborted.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

from ..errors import KernelError
from ..render.nftables import remove_text, transaction
from ..ruleset import Inventory, Ruleset
from .nftparse import parse_table

log = logging.getLogger(__name__)


class KernelApplier:
    def __init__(self, nft: str | None = None) -> None:
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"
        self._reader = None
        self._batches = None

    @property
    def reader(self):
        """Netlink reads (struct-decoded dumps); opened on first use, in the caller's namespace."""
        if self._reader is None:
            from .nfquery import QuerySocket

            self._reader = _open_netlink(QuerySocket)
        return self._reader

    @property
    def batches(self):
        """The socket transactions are sent on; opened on first use."""
        if self._batches is None:
            from .nlsocket import BatchSocket

            self._batches = _open_netlink(BatchSocket)
        return self._batches

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        try:
            done = subprocess.run([self.nft, *args], input=stdin, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise KernelError(f"{self.nft} not found; install the nftables package") from None
        if done.returncode != 0:
            raise KernelError(_explain_nft_error(done.stderr))
        return done.stdout

    def current(self, table: str) -> Ruleset | None:
        """Read over netlink (apply/nlread.py); when the table holds anything that reader does not
        decode (a rule added by hand), list it with nft, so drift shows exactly as nft prints it."""
        from .nlread import Unreadable, read_table

        try:
            return read_table(self.reader, table)
        except Unreadable as exc:
            log.info("reading table inet %s with nft: %s", table, exc)
        if not self.inventory(table).table_exists:
            return None
        return parse_table(self._run(["list", "table", "inet", table]), table)

    def inventory(self, table: str) -> Inventory:
        return self.reader.inventory(table)

    def check(self, ruleset: Ruleset) -> None:
        self.apply(ruleset, precheck=True, commit=False)

    def apply(self, ruleset: Ruleset, precheck: bool = False, commit: bool = True) -> str:
        """One atomic batch. precheck: first send it without its end marker, so the kernel
        validates everything and aborts (a dry run, like `nft -c`)."""
        from .nlbatch import messages
        from .nlrules import Unencodable
        from .nlsocket import BatchRefused

        inventory = self.inventory(ruleset.table)
        try:
            batch = messages(ruleset, inventory)
        except Unencodable as exc:
            log.warning("sending this transaction through nft -f: %s is outside the netlink encoder", exc)
            return self._apply_text(transaction(ruleset, inventory), precheck, commit)
        try:
            if precheck or not commit:
                self.batches.send(batch, commit=False)
            if commit:
                self.batches.send(batch)
        except BatchRefused as exc:
            hint = "run as root or with CAP_NET_ADMIN" if exc.errno == 1 else "`op25b plan` shows what differs"
            raise KernelError(f"the kernel refused the transaction at '{exc.what}' ({exc.strerror}) and kept "
                              f"its previous rules\n  hint: {hint}") from None
        elements = sum(len(s.elements) for s in ruleset.sets)
        return f"netlink batch: {len(batch)} messages, {elements} intervals"

    def _apply_text(self, script: str, precheck: bool, commit: bool) -> str:
        if precheck or not commit:
            self._run(["-c", "-f", "-"], script)
        if commit:
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
        SetDeltaApplier(self.batches).apply(delta)
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
        if self._batches is not None:
            self._batches.close()
            self._batches = None


def _open_netlink(factory):
    try:
        return factory()
    except OSError as exc:
        raise KernelError(f"cannot open a netlink socket to nf_tables: {exc}; "
                          "hint: run as root or with CAP_NET_ADMIN") from None


def _explain_nft_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    head = "\n    ".join(lines[:6]) or "nft failed without a message"
    if "Operation not permitted" in stderr:
        return f"nft was refused: {head}\n  hint: run as root or with CAP_NET_ADMIN"
    return f"the kernel refused the transaction and kept its previous rules:\n    {head}"
