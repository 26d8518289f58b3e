"""``python -m edge.cli``: the same as the ``edgerec`` command."""

import sys

from edge.cli import main

sys.exit(main())
