/* cli: the bpsweep command line (`bpsweep train`, later run / resume / status /
 * export). Returns the process exit code (see util.h BPS_EXIT_*). */
#ifndef BPSWEEP_CLI_H
#define BPSWEEP_CLI_H

int cli_main(int argc, char **argv);

#endif
