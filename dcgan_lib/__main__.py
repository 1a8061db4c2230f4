"""`python -m dcgan_lib` is the `dcgan` command."""

import sys

from .cli import main

sys.exit(main())
