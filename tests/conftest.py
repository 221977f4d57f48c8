"""Hypothesis profiles: "ci" (1,000 examples, no deadline) when CI=true, "dev" otherwise."""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=1000, deadline=None, derandomize=False)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
