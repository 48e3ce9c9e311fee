"""The analysis scripts' name for the reader, which is the package bpsweep (python/bpsweep
in the source tree; installed under lib/pythonX.Y/site-packages). Puts the source tree's
copy first on the path when there is one, so the scripts work from a checkout."""
import os
import sys

_tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
if os.path.isfile(os.path.join(_tree, "bpsweep", "__init__.py")):
    sys.path.insert(0, _tree)

from bpsweep.results import *  # noqa: E402,F401,F403
from bpsweep.results import main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
