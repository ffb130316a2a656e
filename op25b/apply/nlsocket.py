"""Send one nf_tables batch (begin … messages … end) and report what the kernel said.

The kernel handles the whole batch inside the sendmsg() call and either commits all of it or
aborts all of it; by the time send returns, its replies wait on our socket. Only the last
message asks for an acknowledgement: errors are reported for any failing message regardless,
so a success is "no error, and the last message acknowledged". A check (dry run) leaves out
the batch end: the kernel then validates everything and aborts, which is what `nft -c` does.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from .nlbatch import Message

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFPROTO_INET, NFPROTO_UNSPEC = 1, 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # errors without the failed message's payload (which can be 64 KiB)
NETLINK_EXT_ACK = 11  # errors with the kernel's explanation where it gives one
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_HEADER = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")
_REPLAYS = 3  # the kernel asks for a resend (EAGAIN) after loading a module it needed


class BatchRefused(OSError):
    """The kernel aborted the batch: nothing changed. .what names the step it refused."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(code, os.strerror(code))
        self.what = what


class BatchSocket:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self._sock.bind((0, 0))
        self._sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        self._sndbuf = 0
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def send(self, batch: list[Message], commit: bool = True) -> None:
        """Commit the batch (or only check it, commit=False). Raises BatchRefused."""
        for _ in range(_REPLAYS):
            try:
                return self._send_once(batch, commit)
            except BatchRefused as exc:
                if exc.errno != errno.EAGAIN:
                    raise
        raise BatchRefused(errno.EAGAIN, "the whole batch (the kernel kept asking for a replay)")

    def _send_once(self, batch: list[Message], commit: bool) -> None:
        first = self._seq + 1
        parts = [self._frame(NFNL_MSG_BATCH_BEGIN, 0, NFPROTO_UNSPEC, b"", res_id=NFNL_SUBSYS_NFTABLES)]
        for index, message in enumerate(batch):
            flags = message.flags | (NLM_F_ACK if index == len(batch) - 1 else 0)
            parts.append(self._frame((NFNL_SUBSYS_NFTABLES << 8) | message.kind, flags, NFPROTO_INET, message.body))
        if commit:
            parts.append(self._frame(NFNL_MSG_BATCH_END, 0, NFPROTO_UNSPEC, b"", res_id=NFNL_SUBSYS_NFTABLES))
        data = b"".join(parts)
        del parts
        self._fit_send_buffer(len(data))
        self._sock.send(data)
        del data
        last = first + len(batch)  # seq of the last message (the begin marker took `first`)
        acknowledged, failure = False, None
        for seq, code in self._replies():
            if code == 0 and seq == last:
                acknowledged = True
            elif code and failure is None:
                index = seq - first - 1
                what = batch[index].what if 0 <= index < len(batch) else "the batch as a whole"
                failure = BatchRefused(code, what)
        if failure is not None:
            raise failure
        if not acknowledged:
            raise BatchRefused(errno.EPROTO, "the batch: the kernel did not acknowledge it")

    def _frame(self, kind: int, flags: int, family: int, body: bytes, res_id: int = 0) -> bytes:
        self._seq += 1
        payload = _NFGEN.pack(family, 0, socket.htons(res_id)) + body
        return _HEADER.pack(_HEADER.size + len(payload), kind, NLM_F_REQUEST | flags, self._seq, 0) + payload

    def _fit_send_buffer(self, size: int) -> None:
        # The batch must reach the kernel in one sendmsg (nft grows its buffer the same way).
        # SO_SNDBUFFORCE may exceed wmem_max; it needs CAP_NET_ADMIN, which applying needs anyway.
        wanted = max(size + (1 << 16), 1 << 20)
        if wanted > self._sndbuf:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, wanted)
            self._sndbuf = wanted

    def _replies(self):
        """(seq, error code) of every reply already queued: the kernel answered inside send()."""
        while True:
            try:
                data = self._sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
                if kind == NLMSG_ERROR:
                    yield seq, -struct.unpack_from("=i", data, offset + _HEADER.size)[0]
                offset += (length + 3) & ~3
