"""Stage 2: where prefixes come from. Each source returns prefixes with their provenance.

Inline `prefixes:` lists are read by config.py; larger pools live in plain files named by
`prefixes_file:` (one prefix per line, `#` comments), which an IPAM export can write directly.
"""

from .prefix_file import load_prefixes_file

__all__ = ["load_prefixes_file"]
