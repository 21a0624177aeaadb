"""Shared test setup: hypothesis profiles and seeded randomness."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" is thorough but bounded; "dev" is quick for local runs (HYPOTHESIS_PROFILE=dev).
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seeded_randomness() -> None:
    """Every test starts from the same random state, so failures reproduce."""
    random.seed(0)
    np.random.seed(0)
