/* progress: the progress file written atomically without following planted links, and
 * read back from a file anyone may have forged without undefined behaviour. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpsweep/progress.h"
#include "bpsweep/util.h"
#include "test_util.h"

static void path_in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", test_tmpdir(), name);
}

static char *slurp(const char *path)
{
    char *text = NULL;
    if (bps_read_file(path, &text, NULL, NULL) != 0)
        return NULL;
    return text;
}

static void atomic_write_should_replace_a_planted_link_not_its_target(void)
{
    char victim[4096], target[4096], planted[4200];
    path_in_tmp(victim, sizeof victim, "victim");
    path_in_tmp(target, sizeof target, "r.h5.progress.json");
    CHECK(test_write_bytes(victim, "precious", 8) == 0);
    CHECK(symlink(victim, target) == 0);
    /* the predictable name of the old implementation, planted as a link too */
    snprintf(planted, sizeof planted, "%s.tmp.%ld", target, (long)getpid());
    CHECK(symlink(victim, planted) == 0);
    BpsErr err;
    CHECK_MSG(bps_write_file_atomic(target, "{}", 2, NULL, &err) == 0, "%s", err.msg);
    char *v = slurp(victim), *t = slurp(target);
    CHECK(v && strcmp(v, "precious") == 0);
    CHECK(t && strcmp(t, "{}") == 0);
    struct stat st;
    CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode)); /* left alone */
    free(v);
    free(t);
}

static void forged_progress_should_read_without_overflow(void)
{
    char path[4096];
    path_in_tmp(path, sizeof path, "forged.progress.json");
    const char *forged =
        "{\"state\": \"running\", \"host\": \"h\", \"pid\": 1e300, \"started\": -1e308,"
        " \"updated\": 1e308, \"eta_seconds\": 1e300,"
        " \"points\": {\"pending\": 1e300, \"running\": -5, \"done\": 9.3e18,"
        " \"diverged\": \"x\", \"failed\": 3},"
        " \"architectures\": [{\"name\": \"a\", \"done\": -1e300, \"pending\": 1e19}]}";
    CHECK(test_write_bytes(path, forged, strlen(forged)) == 0);
    Progress p;
    BpsErr err;
    CHECK_MSG(progress_read(path, &p, &err) == 0, "%s", err.msg);
    CHECK(p.pid == 0);
    CHECK(p.n.pending == 0 && p.n.running == 0 && p.n.done == 0 && p.n.diverged == 0);
    CHECK(p.n.failed == 3);
    CHECK(p.n_arch == 1 && p.arch[0].n.done == 0 && p.arch[0].n.pending == 0);
    char line[512], bar[600];
    progress_line(&p, 0, line, sizeof line);
    CHECK(strstr(line, "ETA --:--:--") != NULL);
    progress_bar(&p, 1e308, 40, bar, sizeof bar);
    FILE *devnull = fopen("/dev/null", "w");
    progress_print_table(devnull, &p);
    fclose(devnull);
    progress_free(&p);
}

static void progress_should_round_trip(void)
{
    char path[4096];
    path_in_tmp(path, sizeof path, "rt.progress.json");
    Progress p = {0};
    snprintf(p.state, sizeof p.state, "running");
    snprintf(p.host, sizeof p.host, "node7");
    p.pid = 4242;
    p.started = 1000;
    p.updated = 1010;
    p.eta_seconds = NAN;
    p.n.done = 5;
    p.n.pending = 7;
    BpsErr err;
    CHECK_MSG(progress_write(path, &p, &err) == 0, "%s", err.msg);
    Progress q;
    CHECK_MSG(progress_read(path, &q, &err) == 0, "%s", err.msg);
    CHECK(strcmp(q.state, "running") == 0 && strcmp(q.host, "node7") == 0 && q.pid == 4242);
    CHECK(q.n.done == 5 && q.n.pending == 7 && isnan(q.eta_seconds));
    progress_free(&q);
}

int main(void)
{
    RUN(atomic_write_should_replace_a_planted_link_not_its_target);
    RUN(forged_progress_should_read_without_overflow);
    RUN(progress_should_round_trip);
    return test_summary();
}
