/* spec_check: runs spec files through the real parser (spec_parse), for
 * tests/docs_examples.py, which checks the JSON examples of the documentation:
 *   spec_check [--canonical] FILE...
 * prints one line per file, in order: "ok" (with --canonical: "ok " and the spec's
 * canonical form) or "error: " and the parser's message, which starts with FILE. The
 * files are parsed, not loaded: data files named by a spec need not exist. Exit code 0
 * when every file parsed, 1 when one did not, 2 on a usage error or an unreadable file. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/spec.h"

int main(int argc, char **argv)
{
    int first = 1, rc = 0;
    bool canonical = argc > 1 && strcmp(argv[1], "--canonical") == 0;
    if (canonical)
        first = 2;
    if (first >= argc) {
        fprintf(stderr, "usage: spec_check [--canonical] FILE...\n");
        return 2;
    }
    for (int i = first; i < argc; i++) {
        BpsErr err = {{0}};
        char *text = NULL;
        size_t len = 0;
        if (bps_read_file(argv[i], &text, &len, &err) != 0) {
            fprintf(stderr, "spec_check: %s\n", err.msg);
            return 2;
        }
        Spec *spec = NULL;
        if (spec_parse(text, argv[i], &spec, &err) == 0) {
            if (canonical)
                printf("ok %s\n", spec->canonical);
            else
                printf("ok\n");
        } else {
            printf("error: %s\n", err.msg);
            rc = 1;
        }
        spec_free(spec);
        free(text);
    }
    return rc;
}
