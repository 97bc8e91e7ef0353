import sys

from emnist_core.cli import main

sys.exit(main())
