"""bpsweep's Python reader: results files (load) and trainer states (load_state).

    import bpsweep
    res = bpsweep.load("results.h5")
    df = res.to_dataframe()          # the table of `bpsweep export`, one row per point
    curves = res.curves_frame()      # index, epoch, train_loss, test_acc, ... (long)
    state = bpsweep.load_state("point.state")

See bpsweep.results and bpsweep.state for what each returns.
"""
from .results import (Results, load, points_table, write_csv, read_csv, read_export,  # noqa: F401
                      select, group_stats, describe, paired_differences, t_quantile_975,
                      summary, STATUS_NAMES)
from .state import load_state  # noqa: F401
