"""``python -m cdc``: the ``cdc-engine`` command line."""

import sys

from cdc.entry import main

sys.exit(main())
