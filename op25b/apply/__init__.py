"""Stage 6: the kernel seam. `Applier` is the protocol; KernelApplier is real, FakeApplier its twin."""

from .base import Applier
from .fake import FakeApplier

__all__ = ["Applier", "FakeApplier"]
