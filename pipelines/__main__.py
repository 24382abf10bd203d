"""Allow ``python -m pipelines`` as an alias of the ``titans-ts`` command."""

import sys

from pipelines.cli import main

sys.exit(main())
