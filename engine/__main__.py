"""`python -m engine`: the `hvsms` command."""

from .cli import main

main()
