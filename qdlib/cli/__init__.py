"""The ``qdlib`` command line.

``qdlib reproduce [--profile default|paper]``
    execute the notebooks in order with papermill;
``qdlib tddft FILE.xyz [--emission] [--backend auto|cpu|gpu]``
    TD-DFT excitations of one structure at the paper settings: prints them and
    writes the spectrum as CSV and PNG beside the input.
``qdlib design-region [--dots ...] [--n-per-dot 60] [--store PATH]``
    TD-DFT of the benchmark dots with displaced atoms (our dataset's
    design-region set), resumable through the results store;
``qdlib sensitivity [--dot Cd6Se6] [--distances ...] [--n-directions 3]``
    TD-DFT of a dot with its designed atoms moved by set distances (the
    sensitivity sweep of notebook 05), resumable;
``qdlib authors [--kind absorption|emission] [--max-atoms 18]``
    TD-DFT of the authors' structures at their geometries, resumable;
``qdlib random [--n 10] [--n-atoms 8 12] [--emission 2]``
    the generation pipeline: random clusters, GFN2-xTB and DFT relaxation,
    absorption, S1 relaxation and emission, resumable;
``qdlib verify [--kinds absorption] [--dots ...] [--n-valid 3] [--pso-designs K]``
    saved agents deployed from 100 random starts, their first designs judged by
    TD-DFT with states solved for until the target's window is covered
    (:mod:`qdlib.verdict`; notebook 04), until each case has ``--n-valid`` verdicts, resumable;
``qdlib export-dataset [--update-registry]``
    the released dataset ``data/tddft`` from the results stores, and the design campaigns'
    logs under ``data/campaigns``;
``qdlib design-surrogate [--kinds absorption emission]``
    the design-region surrogates (authors' data + our design-region set) with their
    held-out scores, released under ``data/models``;
``qdlib agents [--kinds absorption] [--dots ...] [--edges 4 10] [--atoms 1 2 3]``
    DDPG designers of the benchmark cases, released under ``data/agents``;
``qdlib design (--target FILE | --peak-nm NM | --target-structure FILE) [--method al] [--budget 24] [--dry-run]``
    design for your target: the library member whose TD-DFT spectrum meets it (:mod:`qdlib.finder`), resumable;
``qdlib campaign [--dot Cd4Se4] [--atoms 1] [--target-shift 0] [--method random|surrogate|bo|al] [--seed 0] [--rejudge]``
    a displacement campaign with TD-DFT in the loop (:mod:`qdlib.campaign`; notebook 07), resumable;
    ``--rejudge`` judges a blind campaign's logged calls again with the current criterion;
``qdlib campaigns [--log-dir DIR]``
    what the campaigns in a folder of logs found: the table of notebook 07.
``qdlib campaign-forces [--log-dir DIR] [--out FILE]``
    DFT forces on every distinct confirmed design and the reference dots (resumable, one line each).

Each group of commands lives in a module of its own, which registers its commands on the parser
(``add_commands(command)``, given the ``command(name, **kwargs)`` factory of :func:`build_parser`)
and holds their handlers:

:mod:`~qdlib.cli.tddft`
    ``tddft``, ``design-region``, ``sensitivity``, ``authors``, ``random``: the dataset jobs.
:mod:`~qdlib.cli.agents`
    ``design-surrogate``, ``agents``, ``verify``: the paper's designers and TD-DFT's verdicts.
:mod:`~qdlib.cli.finder`
    ``design``: design for a user's target over the library.
:mod:`~qdlib.cli.campaign`
    ``campaign``, ``campaign-forces``, ``campaigns``: displacement campaigns with TD-DFT in the loop.
:mod:`~qdlib.cli.library`
    ``library-search``, ``library-build``, ``library-info``, ``library-tddft``: the stable clusters.
:mod:`~qdlib.cli.release`
    ``reproduce``, ``export-dataset``: the notebooks and the released dataset.

Options several commands share (the TD-DFT engine, the benchmark cases) are in ``_options``.

``main`` takes the arguments as a list and returns the exit status; ``--help`` prints the
usage and exits:

>>> import contextlib, io
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
...     main(["--help"])
>>> all(command in out.getvalue() for command in ("reproduce", "tddft", "verify", "export-dataset"))
True
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import agents, campaign, finder, library, release, tddft
from .tddft import DARK_F

__all__ = ["DARK_F", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``qdlib`` command: every subcommand, its handler in ``args.func``."""
    common = argparse.ArgumentParser(add_help=False)  # global flags, accepted before or after the subcommand
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress")
    parser = argparse.ArgumentParser(prog="qdlib", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    # in the order ``qdlib --help`` lists them
    release.add_reproduce(command)
    tddft.add_commands(command)
    agents.add_commands(command)
    finder.add_commands(command)
    campaign.add_commands(command)
    library.add_commands(command)
    release.add_export(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qdlib`` command.

    Errors in the input are reported on stderr, with exit status 2:

    >>> main(["tddft", "missing.xyz"])  # stderr: qdlib: error: no such structure file: missing.xyz
    2
    """
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"qdlib: error: {exc}", file=sys.stderr)
        return 2
