/* unit_never: the can't-happen guard NEVER (util.h) - evaluated once in every build,
 * false for a false condition; for a true one it reports "internal error" with the
 * condition and returns 1 in a release build (the caller's error path runs), aborts in a
 * debug build. The true case runs in a child process. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpsweep/util.h"
#include "test_util.h"

static void never_should_evaluate_its_condition_once(void)
{
    int calls = 0;
    CHECK(NEVER(calls++ > 5) == 0);
    CHECK(calls == 1);
}

/* The guarded branch as the store uses it: an error return instead of a fall-through. */
static int guarded(int impossible)
{
    if (NEVER(impossible != 0))
        return -1;
    return 0;
}

static void never_should_take_the_error_path_when_it_happens(void)
{
    CHECK(guarded(0) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) /* the "internal error" line */
            _exit(9);
        _exit(guarded(1) == -1 ? 7 : 8);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
#ifdef NDEBUG
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 7, "release: status %d", status);
#else
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "debug: status %d", status);
#endif
}

int main(void)
{
    RUN(never_should_evaluate_its_condition_once);
    RUN(never_should_take_the_error_path_when_it_happens);
    return test_summary();
}
