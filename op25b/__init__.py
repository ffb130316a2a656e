"""op25b: Outbound Port 25 Blocking for Linux edge routers.

config → sources → pools → policy → render → apply → observe. Importing the package has no side
effects and needs neither root nor nft.
"""

__version__ = "0.1.0"

from .errors import ConfigError, KernelError, Op25bError, RenderError, StateError  # noqa: E402

__all__ = ["__version__", "Op25bError", "ConfigError", "KernelError", "RenderError", "StateError"]
