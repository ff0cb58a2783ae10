"""Test configuration: offline data, headless plotting, small helpers."""

import os
from pathlib import Path

# The authors' files: an offline mirror beside the checkout (CI sets the same).
_MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "paper_data"
if "QDLIB_DATA_DIR" not in os.environ and _MIRROR.is_dir():
    os.environ["QDLIB_DATA_DIR"] = str(_MIRROR)
os.environ.setdefault("MPLBACKEND", "Agg")
