"""``python -m optimizer.cli``: the ``siting`` command."""

import sys

from optimizer.cli import main

sys.exit(main())
