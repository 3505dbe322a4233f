"""`python -m emojigan` (and `torchrun -m emojigan`) runs the CLI."""
import sys

from .cli import main

sys.exit(main())
