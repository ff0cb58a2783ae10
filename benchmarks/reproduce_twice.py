"""Does the reproduction reproduce? Compare two executions of the notebooks, cell by cell.

Two folders of executed notebooks (e.g. the ``notebooks/`` of a clean clone after one
``make reproduce`` and a copy of them after a second) are compared output by output:
text outputs line by line, ignoring lines marked as timings (``timing`` at the start of a
line: wall times, speed ratios and whatever depends on them vary with the machine and its
load) or as ``machine-dependent`` (the path of one training run, which floating-point rounding
on another CPU family changes: notebook 03), object addresses and the temporary paths of a run; image outputs by their bytes,
reported apart (a figure of timings differs by design).

Usage::

    python benchmarks/reproduce_twice.py FIRST_DIR SECOND_DIR      # compare two executions
    python benchmarks/reproduce_twice.py --run CLONE_DIR           # make reproduce twice there, then compare

Prints one line per differing cell and a last line ``N cells differ outside timing lines``;
exits 1 when N > 0.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

VOLATILE = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0xADDRESS"),
    (re.compile(r"/tmp/[^\s'\"]+"), "/tmp/PATH"),
]


def _is_timing(line: str) -> bool:
    return line.lstrip().lower().startswith(("timing", "machine-dependent"))


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    else:
        text = output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def cell_outputs(cell: dict) -> tuple[list[str], list[str]]:
    """A code cell's text lines (timing lines dropped, volatile parts masked) and its images (base64 PNG)."""
    text, images = "", []
    for output in cell.get("outputs", []):
        if output.get("name") == "stderr":
            continue
        png = output.get("data", {}).get("image/png")
        if png:
            images.append("".join(png) if isinstance(png, list) else png)
            continue
        # stdout arrives in chunks that a run splits where it likes: join them before cutting lines
        text += _text(output) if output.get("output_type") == "stream" else f"\n{_text(output)}\n"
    lines = []
    for line in text.splitlines():
        if not line or _is_timing(line):
            continue
        for pattern, mask in VOLATILE:
            line = pattern.sub(mask, line)
        lines.append(line)
    return lines, images


def _code_cells(path: Path) -> list[dict]:
    """The code cells of a notebook, less the cell papermill injects for its ``-p`` parameters."""
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def compare(first: Path, second: Path) -> tuple[list[str], list[str]]:
    """Differing cells (text) and differing images, as readable lines."""
    text_diffs, image_diffs = [], []
    for nb in sorted(first.glob("[0-9][0-9]_*.ipynb")):
        other = second / nb.name
        if not other.is_file():
            text_diffs.append(f"{nb.name}: missing in {second}")
            continue
        a, b = _code_cells(nb), _code_cells(other)
        if len(a) != len(b):
            text_diffs.append(f"{nb.name}: {len(a)} vs {len(b)} code cells")
            continue
        for k, (ca, cb) in enumerate(zip(a, b)):
            (la, ia), (lb, ib) = cell_outputs(ca), cell_outputs(cb)
            if la != lb:
                first_diff = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
                shown = la[first_diff] if first_diff < len(la) else "<end>"
                text_diffs.append(f"{nb.name} cell {k}: line {first_diff}: {shown!r} vs "
                                  f"{lb[first_diff] if first_diff < len(lb) else '<end>'!r}")  # fmt: skip
            if ia != ib:
                image_diffs.append(f"{nb.name} cell {k}: {sum(x != y for x, y in zip(ia, ib)) + abs(len(ia) - len(ib))} image(s)")
    return text_diffs, image_diffs


def run_twice(clone: Path) -> tuple[Path, Path]:
    """``make reproduce`` twice in ``clone``; the notebooks of the first run are kept beside it."""
    first = clone.parent / f"{clone.name}-first-run"
    subprocess.run(["make", "reproduce"], cwd=clone, check=True)
    shutil.rmtree(first, ignore_errors=True)
    shutil.copytree(clone / "notebooks", first)
    subprocess.run(["make", "reproduce"], cwd=clone, check=True)
    return first, clone / "notebooks"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="*", type=Path, help="two folders of executed notebooks")
    p.add_argument("--run", type=Path, help="a clean clone: make reproduce twice there, then compare")
    args = p.parse_args(argv)
    first, second = run_twice(args.run) if args.run else args.dirs
    text_diffs, image_diffs = compare(first, second)
    for line in text_diffs:
        print("text:", line)
    for line in image_diffs:
        print("image:", line)
    print(f"{len(text_diffs)} cells differ outside timing lines; {len(image_diffs)} cells with differing images")
    return 1 if text_diffs else 0


if __name__ == "__main__":
    sys.exit(main())
