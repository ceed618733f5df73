"""`python -m benchmarks`: see benchmarks/README.md."""

from .runner import main

raise SystemExit(main())
