"""The benchmark's capture generator (`bench/gen_capture.py`), loaded as a module for tests.

`bench/` is scripts, not a package; tests that check the generator or use its ground truth
load it from its path, once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent.parent


def load_generator() -> ModuleType:
    """`bench/gen_capture.py` as the module `gen_capture` (loaded once per process)."""
    loaded = sys.modules.get("gen_capture")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("gen_capture", ROOT / "bench" / "gen_capture.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["gen_capture"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
