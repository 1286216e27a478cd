"""`python -m tests.fuzz --total N`: the one fuzz command (tests/fuzz/run_all.py; issue 15)."""

import sys

from tests.fuzz.run_all import main

sys.exit(main())
