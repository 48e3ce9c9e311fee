# Shared by the shell tests (source it after `set -u`): where the tests and their specs
# are, Debian's python3, a temporary folder removed at exit, waiting for log lines,
# pass/fail counting, and the closing "N passed, N failed" line that ctest's log and CI
# read. A test adds its own cleanup with `at_exit 'command'` (run at exit, so it sees
# variables set later, such as the pid of a job started in the background).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
specs=$here/data/specs
py=/usr/bin/python3
tmp=$(mktemp -d)
exit_commands=()
at_exit() { exit_commands+=("$1"); }
# KEEP_TMP=1 keeps the temporary folder for a look after a failure
trap 'for c in "${exit_commands[@]}"; do eval "$c"; done
      if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi' EXIT
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
wait_lines() { # file pattern n seconds: until n lines of file match pattern (grep -E)
    local i c
    for ((i = 0; i < $4 * 10; i++)); do
        c=$(grep -Ec -- "$2" "$1" 2>/dev/null)
        [ "${c:-0}" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
