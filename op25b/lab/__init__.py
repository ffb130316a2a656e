"""A self-contained network-namespace lab: subscribers → router running op25b → "internet".

Used by `op25b lab` (the README demo), the kernel tests and the benchmarks. Everything lives in
namespaces this module creates and deletes; only documentation prefixes are used and nothing is
routed toward the host's uplink. The host's own firewall is never touched.
"""

from .topology import ADDRESSES, Lab

__all__ = ["Lab", "ADDRESSES"]
