"""``python -m cdc``: the ``cdc-engine`` command line."""

import sys

from cdc.cli import main

sys.exit(main())
