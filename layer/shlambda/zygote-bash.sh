# Loads a bash handler file once, then forks one process per invocation from it: shlambda's bash
# function mode. A fork of this small shell, with the file already loaded, costs a fraction of a
# millisecond; a new process from the runtime's Node.js costs ~1.5 ms before bash has even started.
#
# Started by the runtime as: bash zygote-bash.sh <handler file> <function name> <sets>
# The function name was checked by the runtime to be a plain identifier.
# fd 2 goes to the log. fd 3 is a socket to the runtime, on which this shell writes lines:
#   R                  the file is loaded and defines the function
#   P <set> <pid>      the process for <set> is forked and waiting (its process group is <pid>)
#   X <set> <status>   that process has ended, with wait's status (128 + n for signal n), its group killed
# The runtime started this shell with <sets> groups of five descriptors, set i at 4 + 5i:
#   event file, context file, stdout socket, stderr socket, go socket.
# Before the handler file is loaded, all of these move up by SHIFT (fd 3 to 303, set i to 304 + 5i), so
# the file's own redirections (`exec 9>lock`) cannot collide with them: shlambda keeps fds 300-399.
# A forked process keeps only its own set, waits for `G` on its go socket, answers `A`, exports the
# context (`NAME=value` lines), then calls the function on the event like function-bash.sh does. Just
# before it exits it writes `E <status>` on the go socket (only on a real exit: a signal ends it without
# that report), so the runtime can answer as soon as the process is gone, and an exit code above 128 is
# not taken for a signal. In the forked process the go socket is fd 399 and the context file fd 398.
# After the last set this shell exits, and the runtime starts another.

__shlambda_file=$1
__shlambda_function=$2
__shlambda_sets=$3
set --

# Only numbers are spliced into the evals below; `command exec` keeps its redirections (a `builtin exec`
# does not) and cannot be shadowed by a function the file defines.
# The closing of them all, for every forked process, is built here too: a loop costs ~10 us an
# iteration, too much to pay in each of them.
__shlambda_move='command exec'
__shlambda_close_all='command exec'
for ((__shlambda_fd = 3; __shlambda_fd < 4 + 5 * __shlambda_sets; __shlambda_fd++)); do
  __shlambda_move+=" $((__shlambda_fd + 300))<&$__shlambda_fd $__shlambda_fd<&-"
  __shlambda_close_all+=" $((__shlambda_fd + 300))>&-"
done
builtin eval "$__shlambda_move"

# What the file's top level starts carries this shell's pid, so that the runtime can end it once this
# shell has ended (runtime/leftover-processes.ts); the forked processes drop it.
builtin export _SHLAMBDA_PROCESS=$$
# Output of the file's top level is not part of any response: send it to the log.
# shellcheck disable=SC1090
source "$__shlambda_file" >&2 </dev/null

# The file's top level may have set errexit, nounset, pipefail, errtrace, functrace or xtrace, and traps
# (a strict mode's ERR trap, a TERM handler): they apply to its function, as they would in a bash of its
# own, but not to this loop, where a failing `wait` would run the ERR trap (and its `exit` end the
# zygote), and xtrace would log the loop. A subshell resets the traps, so each process sets them again.
# All but EXIT: that one ends what the top level made, and the top level runs once per zygote, so it
# runs when this shell ends, as it would in a bash that served all of the zygote's invocations.
# What each process sets again is gathered in __shlambda_restore, bash code that it evaluates after its
# own set-up: the file's traps, its `command`, its TMOUT, and last these options (only flags of this
# script's own are spliced in). (The trace of this line, if any, is thrown away.)
{ [[ -o xtrace ]] && __shlambda_xtrace=-x || __shlambda_xtrace=; builtin set +x; } 2>/dev/null
__shlambda_options=
[[ -o verbose ]] && __shlambda_options+=' -v'
[[ -o errexit ]] && __shlambda_options+=' -e'
[[ -o nounset ]] && __shlambda_options+=' -u'
[[ -o pipefail ]] && __shlambda_options+=' -o pipefail'
[[ -o errtrace ]] && __shlambda_options+=' -E'
[[ -o functrace ]] && __shlambda_options+=' -T'
[[ $__shlambda_xtrace ]] && __shlambda_options+=' -x'
builtin set +e +u +o pipefail +E +T +v

# The file may define functions named like builtins (read, printf...): from here on, only builtins.
if ! builtin declare -F -- "$__shlambda_function" >/dev/null; then
  builtin printf '%s defines no function %s\n' "${__shlambda_file##*/}" "$__shlambda_function" >&2
  builtin exit 127
fi
builtin printf 'R\n' >&303

# The rest of the set-up comes after the R, off the environment's init: its fork (below) would add some
# 0.4 ms to every cold start, and here it overlaps the runtime's first GET /next.
# `trap -p` in a command substitution lists this shell's traps: one fork per zygote, not per invocation.
# (A wrapper around the file's `trap` calls would save it, but inside a function bash hides and restores
# the ERR, DEBUG and RETURN traps, so a top-level `trap - ERR` would not take; and in POSIX mode `trap`
# is a special builtin that no function may shadow.)
__shlambda_restore=$(builtin trap -p)
if [[ $__shlambda_restore ]]; then
  builtin trap - ERR DEBUG RETURN HUP INT QUIT PIPE ALRM TERM USR1 USR2 XCPU XFSZ VTALRM PROF CHLD
  # Not the EXIT trap, which the processes' own replaces (a second fork, for a file that has one).
  [[ $__shlambda_restore == *EXIT* ]] && __shlambda_restore=${__shlambda_restore/"$(builtin trap -p EXIT)"/}
fi
# Each process's exit trap (see there); with xtrace, it first stops tracing, unseen. The file's DEBUG trap
# would run before each of its commands, and under errexit its first failing write, once stdout and
# stderr are closed, would end the process without its report: for such a file, it goes first.
__shlambda_exit_trap='command exec 1>&- 2>&-; builtin printf "E %d\n" "$__shlambda_status" >&399'
[[ $__shlambda_restore == *DEBUG* ]] && __shlambda_exit_trap="builtin trap - DEBUG; $__shlambda_exit_trap"
# A function named `command` would take this shell's `command exec`: it is the function's, from its go
# to its exit trap.
if builtin declare -F command >/dev/null; then
  __shlambda_restore+=$'\n'$(builtin declare -f command)
  builtin unset -f command
  __shlambda_exit_trap="builtin unset -f command; $__shlambda_exit_trap"
fi
if [[ $__shlambda_xtrace ]]; then
  __shlambda_exit_trap="{ __shlambda_status=\$?; builtin set +x; } 2>/dev/null; $__shlambda_exit_trap"
else
  __shlambda_exit_trap="__shlambda_status=\$?; $__shlambda_exit_trap"
fi
# A TMOUT (the function's environment's, or the file's) would end a process's wait for its go: it is
# taken off here and set again with the file's traps.
if [[ -v TMOUT ]]; then
  builtin printf -v __shlambda_value %q "$TMOUT"
  [[ ${TMOUT@a} == *x* ]] && __shlambda_restore+=$'\nbuiltin export' || __shlambda_restore+=$'\n'
  __shlambda_restore+=" TMOUT=$__shlambda_value"
  builtin unset TMOUT __shlambda_value
fi
# The process ends this variable itself, then sets the options, last, so that a DEBUG trap or xtrace
# sees the function's call and little of the set-up.
if [[ $__shlambda_restore || $__shlambda_options ]]; then
  __shlambda_restore+=$'\nbuiltin unset __shlambda_restore'
  [[ $__shlambda_options ]] && __shlambda_restore+=$'\nbuiltin set'$__shlambda_options
fi
builtin unset __shlambda_xtrace __shlambda_options

# Job control gives each forked process a process group of its own, which the runtime can kill whole.
builtin set -m

__shlambda_set=0
while ((__shlambda_set < __shlambda_sets)); do
  __shlambda_base=$((304 + 5 * __shlambda_set))
  (
    # Inside the invocation, no job control: the handler's own background jobs stay in its group.
    builtin set +m
    # The set's descriptors go to their places, then every descriptor of every set, and the runtime's
    # socket, is closed: one kept here would hold another invocation's output open.
    builtin eval "command exec 0<&$__shlambda_base 1>&$((__shlambda_base + 2)) 2>&$((__shlambda_base + 3)) 399<&$((__shlambda_base + 4)) 398<&$((__shlambda_base + 1))"
    builtin eval "$__shlambda_close_all"
    # A signal that would end the process ends it without the exit trap below, so that trap's report
    # means a real exit (bash otherwise runs the exit trap before a signal ends it). The function may
    # trap any of these itself. Set while waiting, not after the go. QUIT is not one: bash ignores it,
    # as a bash of its own does again here (a subshell started with `&` under job control had it back
    # at the default, and died of it).
    for __shlambda_signal in HUP INT PIPE ALRM TERM USR1 USR2 XCPU XFSZ VTALRM PROF; do
      builtin trap "builtin trap - EXIT $__shlambda_signal; builtin kill -$__shlambda_signal \$BASHPID" "$__shlambda_signal"
    done
    builtin trap - QUIT
    __shlambda_go=
    builtin read -r -n 1 -u 399 __shlambda_go
    # End of file instead of the go: the runtime discarded this process.
    [[ $__shlambda_go == G ]] || builtin exit 0
    # The acknowledgement: an activated process that ends without it never ran the function.
    builtin printf 'A\n' >&399
    # One mapfile reads the whole file (half the time of a read loop). Only these names are exported,
    # each as one word: a value is never evaluated.
    builtin mapfile -t -u 398 __shlambda_lines
    for __shlambda_line in "${__shlambda_lines[@]}"; do
      case $__shlambda_line in
      LAMBDA_*=* | _X_AMZN_TRACE_ID=*) builtin export "$__shlambda_line" ;;
      esac
    done
    command exec 398<&-
    # As in a bash of its own, which started when its event came.
    SECONDS=0
    # The exit report closes stdout and stderr first: the answer is complete, and the runtime can post it
    # while the kernel still tears this process down. (A `command` of the function's is gone by then.)
    builtin trap "$__shlambda_exit_trap" EXIT
    builtin unset _SHLAMBDA_PROCESS __shlambda_go __shlambda_line __shlambda_lines __shlambda_close_all __shlambda_move __shlambda_fd __shlambda_signal \
      __shlambda_base __shlambda_set __shlambda_sets __shlambda_file __shlambda_pid __shlambda_status __shlambda_exit_trap
    # Then the file's traps (ERR, TERM, DEBUG...) in place of this process's own, its `command`, its
    # TMOUT and its options.
    [[ $__shlambda_restore ]] && builtin eval "$__shlambda_restore" || builtin unset __shlambda_restore
    # `$(< /dev/stdin)` reopens the event file, so the function's own stdin still starts at byte 0.
    "$__shlambda_function" "$(< /dev/stdin)"
  ) &
  __shlambda_pid=$!
  builtin printf 'P %d %d\n' "$__shlambda_set" "$__shlambda_pid" >&303
  builtin eval "command exec $__shlambda_base<&- $((__shlambda_base + 1))<&- $((__shlambda_base + 2))>&- $((__shlambda_base + 3))>&- $((__shlambda_base + 4))>&-"
  builtin wait "$__shlambda_pid" 2>/dev/null
  __shlambda_status=$?
  builtin kill -KILL -- "-$__shlambda_pid" 2>/dev/null
  builtin printf 'X %d %d\n' "$__shlambda_set" "$__shlambda_status" >&303
  __shlambda_set=$((__shlambda_set + 1))
done
# What the file's EXIT trap, which runs now, prints goes to the log.
command exec 1>&2
