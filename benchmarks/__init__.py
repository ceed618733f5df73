"""The bundled benchmark runner: `python -m benchmarks` (see benchmarks/README.md).

Every figure comes from one run of the runner: the same generated files, one
emulator in its own process, each contender in its own process.
"""
