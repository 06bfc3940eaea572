"""``python -m fl_estimate.cli``: the same as the ``fl-estimate`` command."""

import sys

from fl_estimate.cli import main

sys.exit(main())
