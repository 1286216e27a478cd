"""What every fuzz target shares: the example count and the settings (issue 15).

FUZZ_EXAMPLES (default 200) is how many examples each property runs; the regular suite leaves it
unset, so every property runs a few hundred examples; `python -m tests.fuzz --total N` sets it
per property so that the properties add up to N (tests/fuzz/__main__.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Inputs of a few kilobytes are the point here, not a slow-test smell.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)
