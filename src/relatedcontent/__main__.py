"""Run the command-line interface: ``python -m relatedcontent``."""

import sys

from .cli import main

sys.exit(main())
