/* bpsweep: the command-line entry point; everything else is in the library. */
#include "bpsweep/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
