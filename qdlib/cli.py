"""The ``qdlib`` command line: ``qdlib reproduce [--profile default|paper]``.

>>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main"]


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    runs = reproduce(profile=args.profile, only=args.only)
    total = sum(r.wall_time_s for r in runs)
    for r in runs:
        print(f"{r.notebook.name:40s} {r.wall_time_s:8.1f} s  -> {r.output}")
    print(f"{len(runs)} notebook(s), {total:.1f} s in all (profile {args.profile})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qdlib", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="execute the notebooks in order with papermill")
    p.add_argument("--profile", default="default", help="parameter profile under params/ (default, paper)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    p.set_defaults(func=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qdlib`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"qdlib: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
