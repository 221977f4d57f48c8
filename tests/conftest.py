"""Hypothesis profiles: "ci" (1,000 examples, no deadline) when CI=true, "dev" otherwise.

The suite reads convcli's English: a Chinese locale on the machine running it (LANG=zh_CN...)
must not change what the tests see. tests/test_i18n.py selects languages explicitly.
"""

import importlib.util
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONVCLI_LANG", "en")
    yield


settings.register_profile("ci", max_examples=1000, deadline=None, derandomize=False)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

# The hand-written torch models behind the ONNX tests import torch at the top; without
# torch there is nothing in them to collect (--doctest-modules would import them).
collect_ignore = [] if importlib.util.find_spec("torch") else ["onnx_models.py"]
