"""Run inside the lab's internet namespace: SMTP servers (aiosmtpd) on the given ports.

    python -m op25b.lab.listener 25 587 465

Port 465 speaks plain SMTP here (no certificate in the lab); what matters for OP25B is whether
the TCP connection gets through. Prints "ready" once every port listens.
"""

from __future__ import annotations

import signal
import sys
import threading


def main(ports: list[int]) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controllers = []
    for port in ports:
        # asyncio makes IPv6 sockets v6-only, so each family gets its own server.
        for host in ("0.0.0.0", "::"):
            controller = Controller(Sink(), hostname=host, port=port, ready_timeout=10)
            controller.start()
            controllers.append(controller)
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for controller in controllers:
        controller.stop()


if __name__ == "__main__":
    main([int(p) for p in sys.argv[1:]] or [25, 587, 465])
