/* cli: the command table, help, --version and what the commands share. The commands
 * themselves are in cli_train.c (train), cli_sweep.c (run, resume, extend) and
 * cli_results.c (status, verify, export, plan). */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/cli.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/util.h"
#include "bpsweep/version.h"
#include "cli_internal.h"

static const char USAGE[] =
    "usage: bpsweep <command> [options]\n"
    "       bpsweep <command> --help     that command's usage and options\n"
    "       bpsweep --version            version, commit and library versions\n"
    "\n"
    "commands:\n"
    "  run SPEC -o FILE       run the whole grid of SPEC into the HDF5 results FILE\n"
    "  resume FILE            resume the sweep of FILE, at any rank count\n"
    "  extend OLD SPEC -o NEW a strict extension of OLD's sweep, finished rows carried over\n"
    "  status FILE            points done/running/pending/failed/diverged, best accuracy\n"
    "  export FILE --csv OUT  one row per point: coordinates, status, scalar metrics\n"
    "  verify FILE            check every finished row against its checksum\n"
    "  plan SPEC [--ranks P]  points, core-hours, wall time, memory and file size\n"
    "  train SPEC --point K   train one grid point in this process (--list: the grid)\n"
    "  help [COMMAND]         this text, or COMMAND's usage\n"
    "\n"
    "exit codes (the same through mpirun and srun):\n"
    "  0  success\n"
    "  1  internal or system error\n"
    "  2  bad input: spec, data files, command line, an output file of another sweep,\n"
    "     a results file locked by another sweep\n"
    "  3  incomplete: stopped by a signal (SIGTERM, SIGINT, SIGUSR1) or the deadline;\n"
    "     run the same command again (or bpsweep resume FILE) to continue\n"
    "  4  the sweep finished, but some points failed on every attempt; verify: the\n"
    "     file has damaged rows\n"
    "\n"
    "docs: docs/spec.md (the sweep spec), docs/results-format.md, docs/resume.md,\n"
    "docs/cluster.md (in the source tree, or share/doc/bpsweep of an installation)\n";

#define SWEEP_OPTIONS                                                                          \
    "  --max-attempts N       attempts per point before it stays failed (default 3)\n"         \
    "  --retry-failed         give failed points new attempts when resuming\n"                 \
    "  --checkpoint-interval S  seconds between checkpoints of a point in flight\n"            \
    "                         (default 60)\n"                                                  \
    "  --deadline T           stop cleanly before T: Unix seconds, or +S for S seconds\n"      \
    "                         from now (default: $SLURM_JOB_END_TIME if set); no point\n"      \
    "                         is started that cannot finish or reach a checkpoint in time\n"   \
    "  --drain S              stop this many seconds before the deadline (default 10)\n"       \
    "  --progress-interval S  seconds between progress lines when stderr is not a\n"           \
    "                         terminal (default 30)\n"                                         \
    "  --log-points           a line for every point that ends or is interrupted: its\n"       \
    "                         key, status, rank, seconds and test accuracy (job logs)\n"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} COMMANDS[] = {
    {"run", cmd_run,
     "usage: bpsweep run SPEC -o FILE [options]\n"
     "\n"
     "Runs the whole grid of SPEC into the HDF5 results FILE. Start it with mpirun or\n"
     "srun for P ranks (1 coordinator, P-1 workers), or alone to run serially. If FILE\n"
     "exists and holds the same sweep, it is resumed; a FILE of another sweep is refused.\n"
     "\n"
     "options:\n"
     "  -o, --output FILE      the results file\n" SWEEP_OPTIONS},
    {"resume", cmd_resume,
     "usage: bpsweep resume FILE [options]\n"
     "\n"
     "Resumes the sweep of the results FILE (its spec is read from the file) at any rank\n"
     "count: finished points are kept, points in flight continue from their checkpoints.\n"
     "\n"
     "options:\n" SWEEP_OPTIONS},
    {"extend", cmd_extend,
     "usage: bpsweep extend OLD SPEC -o NEW\n"
     "\n"
     "Writes the results file NEW for SPEC, a strict extension of OLD's sweep (more values\n"
     "on an axis, nothing else changed), with OLD's finished rows carried over by point\n"
     "key. OLD is not modified. Then run `bpsweep resume NEW` to compute the new points.\n"},
    {"status", cmd_status,
     "usage: bpsweep status FILE\n"
     "\n"
     "Points done, running, pending, failed and diverged per architecture and the best\n"
     "test accuracy so far: live from the sweep's progress file while it runs, from the\n"
     "results file otherwise.\n"},
    {"export", cmd_export,
     "usage: bpsweep export FILE --csv OUT\n"
     "\n"
     "Writes the CSV file OUT: one row per point with its coordinates, status and scalar\n"
     "metrics (docs/results-format.md). Refuses to write over an HDF5 file or the sweep's\n"
     "own files.\n"},
    {"verify", cmd_verify,
     "usage: bpsweep verify FILE\n"
     "\n"
     "Checks every finished row of the results FILE against its checksum and lists the\n"
     "damaged points; exit 4 if there are any (resume computes them again).\n"},
    {"plan", cmd_plan,
     "usage: bpsweep plan SPEC [--ranks P]\n"
     "\n"
     "Points, core-hours, wall time on P ranks (default 1), memory per rank and\n"
     "results-file size, from a short calibration run of each architecture.\n"},
    {"train", cmd_train,
     "usage: bpsweep train SPEC --point K [options]\n"
     "       bpsweep train SPEC --list\n"
     "\n"
     "Trains grid point K of SPEC in this process and prints every result with 17\n"
     "significant digits (two runs compare bit for bit with diff). --list prints the\n"
     "grid: index, parameters, key.\n"
     "\n"
     "options:\n"
     "  --point K              the point's index (see --list)\n"
     "  --list                 print the grid and exit\n"
     "  --stop-after E         stop after epoch E (the state can be saved: --save-state)\n"
     "  --save-state FILE      write the trainer state where training stopped: after\n"
     "                         --stop-after's epoch, or at the end (docs/trainer-state.md)\n"
     "  --load-state FILE      continue from a saved trainer state of the same point\n"
     "  --print-order E        print the sample indices of epoch E (0-based), one line per\n"
     "                         batch, without training (docs/numerics.md#batch-order)\n"
     "  --log-steps            a line per optimizer step: step, epoch, batch size and the\n"
     "                         batch's training loss before the step\n"
     "  --quiet                no per-epoch lines\n"},
};

#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof *COMMANDS))

static int find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return i;
    return -1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bpsweep: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see bpsweep %s%s--help)\n", command ? command : "", command ? " " : "");
    va_end(ap);
    return BPS_EXIT_BADINPUT;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *val, double *out)
{
    char *end;
    double v = val ? strtod(val, &end) : 0;
    if (!val || *end || !(v >= 0) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* `help` alone: the general usage; `help COMMAND`: that command's. */
static int help(int argc, char **argv)
{
    if (argc == 0) {
        fputs(USAGE, stdout);
        return BPS_EXIT_OK;
    }
    int c = find_command(argv[0]);
    bool self = strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
                strcmp(argv[0], "-h") == 0;
    if (argc > 1 || (c < 0 && !self))
        return cli_usage_error(NULL, "help: no command '%s'", argv[0]);
    fputs(c < 0 ? USAGE : COMMANDS[c].help, stdout);
    return BPS_EXIT_OK;
}

int cli_main(int argc, char **argv)
{
    /* one BLAS thread per process: ranks are the parallelism, and bit-identical
     * results need a fixed reduction order */
    openblas_set_num_threads(1);
    if (argc < 2) {
        fputs(USAGE, stderr);
        return BPS_EXIT_BADINPUT;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return help(0, NULL);
    if (strcmp(name, "help") == 0)
        return help(argc - 2, argv + 2);
    if (strcmp(name, "--version") == 0) {
        version_print(stdout);
        return BPS_EXIT_OK;
    }
    int c = find_command(name);
    if (c < 0)
        return cli_usage_error(NULL, "unknown command '%s'", name);
    /* COMMAND --help anywhere among its arguments; before any other checks */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(COMMANDS[c].help, stdout);
            return BPS_EXIT_OK;
        }
    return COMMANDS[c].run(argc - 2, argv + 2);
}
