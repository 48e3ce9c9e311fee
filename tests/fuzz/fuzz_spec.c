/* fuzz_spec: libFuzzer target of the spec parser (docs/architecture.md#fuzzing).
 *
 * Every input is parsed with spec_parse. A parse that fails must leave nothing
 * allocated and give one line that starts with the origin. A parse that succeeds must
 * give a canonical form that re-parses to the same text and hash (idempotence), no
 * differences to itself, and its differences to and from a reference spec (long values,
 * so the formatting of long lines runs) must be empty exactly when the canonical forms
 * are equal, and its extension problems must be computable.
 * Any violation aborts, which libFuzzer reports as a finding. Run: tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A valid spec whose differences from most inputs are long (a 300-byte data path). */
static const char REFERENCE[] =
    "{\"name\": \"reference\", \"data\": {\"path\": \"/data/"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "dddddddddddddddddddddddddddddd\"},"
    " \"architectures\": [{\"name\": \"mlp\", \"hidden\": [64, 64, 64, 64, 64, 64, 64, 64, 64,"
    " 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64]},"
    " {\"name\": \"wide\", \"hidden\": [\"w\", \"2w\"], \"widths\": [8, 16]}],"
    " \"grid\": {\"seed\": [0, 1, 2], \"weight_decay\": [0, 0.0005],"
    " \"conditions\": [{\"name\": \"base\"}, {\"name\": \"long\", \"train\": {\"epochs\": 30,"
    " \"schedule\": {\"type\": \"multistep\", \"milestones\": [0.3333, 0.5556, 0.7778]}}}]}}";

static void die(const char *what, const char *detail, const char *text)
{
    fprintf(stderr, "fuzz_spec: %s\n  %s\n  input: %.300s\n", what, detail, text);
    abort();
}

static Spec *reference(void)
{
    static Spec *ref;
    if (!ref) {
        BpsErr err;
        if (spec_parse(REFERENCE, "reference", &ref, &err) != 0)
            die("the reference spec does not parse", err.msg, REFERENCE);
    }
    return ref;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL byte ends the text, as it would for a C caller */

    Spec *s = (Spec *)1, *t = NULL;
    BpsErr err;
    err.msg[0] = '\0';
    if (spec_parse(text, "fuzz.json", &s, &err) != 0) {
        if (s != NULL)
            die("a failed parse left a Spec", err.msg, text);
        if (strncmp(err.msg, "fuzz.json", 9) != 0 || strchr(err.msg, '\n'))
            die("the message does not start with the origin or has several lines", err.msg,
                text);
        free(text);
        return 0;
    }
    if (spec_parse(s->canonical, "canonical", &t, &err) != 0)
        die("the canonical form does not parse", err.msg, s->canonical);
    if (strcmp(t->canonical, s->canonical) != 0 || t->hash != s->hash)
        die("the canonical form is not idempotent", t->canonical, s->canonical);

    char *d = spec_diff(s, t);
    if (*d)
        die("a spec differs from its own canonical form", d, text);
    free(d);
    d = spec_diff(reference(), s);
    if (!*d != !strcmp(reference()->canonical, s->canonical))
        die("differences disagree with the canonical forms", d, s->canonical);
    free(d);
    d = spec_diff(s, reference());
    free(d);
    d = spec_extension_problems(s, t);
    if (*d)
        die("a spec is not an extension of itself", d, text);
    free(d);
    d = spec_extension_problems(reference(), s);
    free(d);

    spec_free(t);
    spec_free(s);
    free(text);
    return 0;
}
