"""hvsms: an async bulk-sending engine for RingCentral's High Volume (A2P) SMS API.

    report = await engine.send_bulk("recipients.csv", text="Hi {name}")
    later = await engine.refresh(report.journal)   # receipts that came after the job
    report = await engine.results("job.journal")  # delivery results, fetched later
"""

from .config import Credentials, JobOptions
from .errors import ConfigError, HvsmsError, InputError, JournalError
from .job import Progress, refresh, results, resume, send_bulk
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
    "refresh",
    "results",
    "resume",
    "send_bulk",
)
__version__ = "0.1.0"
