"""`python -m engine.emulator`: the emulator in the foreground."""

from .cli import emulator

emulator(prog_name="python -m engine.emulator")
