"""hvsms: an async bulk-sending engine for RingCentral's High Volume (A2P) SMS API."""

from .config import Credentials, JobOptions
from .errors import HvsmsError

__all__ = ("Credentials", "HvsmsError", "JobOptions")
__version__ = "0.1.0"
