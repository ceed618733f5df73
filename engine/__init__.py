"""hvsms: an async bulk-sending engine for RingCentral's High Volume (A2P) SMS API.

    report = await engine.send_bulk("recipients.csv", text="Hi {name}")
    report = await engine.results("job.journal")  # delivery results, fetched later
"""

from .config import Credentials, JobOptions
from .errors import ConfigError, HvsmsError, InputError, JournalError
from .job import Progress, results, resume, send_bulk
from .report import JobReport

__all__ = (
    "ConfigError",
    "Credentials",
    "HvsmsError",
    "InputError",
    "JobOptions",
    "JobReport",
    "JournalError",
    "Progress",
    "results",
    "resume",
    "send_bulk",
)
__version__ = "0.1.0"
