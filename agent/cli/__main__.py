"""`python -m agent.cli` runs the fixbot command."""

import sys

from agent.cli import main

sys.exit(main())
