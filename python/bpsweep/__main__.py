"""python3 -m bpsweep RESULTS [--export CSV]: a summary of a results file, or its
points table as CSV."""
import sys

from .results import main

sys.exit(main())
