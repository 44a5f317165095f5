"""``python -m pgc.cli``: the ``pgc`` command."""

import sys

from . import main

sys.exit(main())
