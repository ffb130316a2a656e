"""Stage 2: where prefixes come from.

Inline `prefixes:` and `exemptions:` lists are read by config.py; large pools live in plain files
named by `prefixes_file:` (one prefix per line, `#` comments), which an IPAM export can write
directly, and many exemptions in a file named by `exemptions_file:` (prefix, expiry, reason).
"""

from .cache import SourceCache
from .exemption_file import load_exemptions_file
from .prefix_file import load_prefixes_file

__all__ = ["SourceCache", "load_exemptions_file", "load_prefixes_file"]
