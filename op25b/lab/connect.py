"""Run inside a lab namespace: one TCP connect from SOURCE to DEST:PORT; prints the outcome.

    python -m op25b.lab.connect SOURCE DEST PORT [TIMEOUT]
    → accepted | refused | timeout | unreachable
"""

from __future__ import annotations

import socket
import sys


def connect(source: str, dest: str, port: int, timeout: float = 2.0) -> str:
    family = socket.AF_INET6 if ":" in dest else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        try:
            sock.connect((dest, port))
        except ConnectionRefusedError:
            return "refused"  # a TCP RST came back: reject with tcp reset
        except TimeoutError:
            return "timeout"  # nothing came back: drop
        except OSError:
            return "unreachable"  # an ICMP error: admin-prohibited
        return "accepted"


if __name__ == "__main__":
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    print(connect(sys.argv[1], sys.argv[2], int(sys.argv[3]), timeout))
