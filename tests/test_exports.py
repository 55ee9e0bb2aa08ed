"""Every name a subpackage re-exports resolves, and importing one module stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "starbrain.sources",
    "starbrain.store",
    "starbrain.physics",
    "starbrain.planners",
    "starbrain.console",
    "starbrain.models",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute"):
        module.not_a_thing  # noqa: B018


def test_frames_alone_does_not_import_torch() -> None:
    code = "import sys, starbrain.physics.frames; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
