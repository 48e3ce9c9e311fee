/* cli_internal: what the command files of the command line share (src/cli*.c). Each
 * command takes the arguments after its name and returns the process exit code. */
#ifndef BPSWEEP_CLI_INTERNAL_H
#define BPSWEEP_CLI_INTERNAL_H

#include <stdbool.h>

/* "bpsweep: <message>\n(see bpsweep COMMAND --help)" on stderr; returns exit code 2. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An integer in [lo, hi], the whole string; 0 or -1. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
/* A finite number of seconds >= 0 (NULL: -1); 0 or -1. */
int cli_parse_seconds(const char *val, double *out);

int cmd_train(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_extend(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_plan(int argc, char **argv);

#endif
