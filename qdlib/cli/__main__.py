"""``python -m qdlib.cli``: the ``qdlib`` command (:func:`qdlib.cli.main`)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
