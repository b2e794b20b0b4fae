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
# A forked process keeps only its own set, waits for `G` on its go socket, answers `A`, exports the context
# (`NAME=value` lines), then calls the function on the event like function-bash.sh does. Just before it
# exits it writes `E <status>` on the go socket, so an exit code above 128 is not taken for a signal.
# In the forked process the go socket is fd 98 and the context file fd 97, above every set (sets <= 18).
# After the last set this shell exits, and the runtime starts another.

__shlambda_file=$1
__shlambda_function=$2
__shlambda_sets=$3
set --

# Output of the file's top level is not part of any response: send it to the log.
# shellcheck disable=SC1090
source "$__shlambda_file" >&2 </dev/null

# The file may define functions named like builtins (read, printf...): from here on, only builtins.
if ! builtin declare -F -- "$__shlambda_function" >/dev/null; then
  builtin printf '%s defines no function %s\n' "${__shlambda_file##*/}" "$__shlambda_function" >&2
  builtin exit 127
fi
builtin printf 'R\n' >&3

# Job control gives each forked process a process group of its own, which the runtime can kill whole.
builtin set -m

# Built once: a loop here costs ~10 us an iteration, too much to pay in every forked process.
__shlambda_close_all='exec 3>&-'
for ((__shlambda_fd = 4; __shlambda_fd < 4 + 5 * __shlambda_sets; __shlambda_fd++)); do
  __shlambda_close_all+=" $__shlambda_fd>&-"
done

__shlambda_set=0
while ((__shlambda_set < __shlambda_sets)); do
  __shlambda_base=$((4 + 5 * __shlambda_set))
  (
    # Inside the invocation, no job control: the handler's own background jobs stay in its group.
    builtin set +m
    # The set's descriptors go to their places, then every descriptor of every set, and the runtime's
    # socket, is closed: one kept here would hold another invocation's output open. Only numbers are
    # spliced into the evals.
    builtin eval "exec 0<&$__shlambda_base 1>&$((__shlambda_base + 2)) 2>&$((__shlambda_base + 3)) 98<&$((__shlambda_base + 4)) 97<&$((__shlambda_base + 1))"
    builtin eval "$__shlambda_close_all"
    __shlambda_go=
    builtin read -r -n 1 -u 98 __shlambda_go || :
    # End of file instead of the go: the runtime discarded this process.
    [[ $__shlambda_go == G ]] || builtin exit 0
    # The acknowledgement: an activated process that ends without it never ran the function.
    builtin printf 'A\n' >&98
    # A regular file, so `read` takes it in blocks. Only these names are exported, each as one word:
    # a value is never evaluated.
    while IFS= builtin read -r -u 97 __shlambda_line; do
      case $__shlambda_line in
      LAMBDA_*=* | _X_AMZN_TRACE_ID=*) builtin export "$__shlambda_line" ;;
      esac
    done
    builtin exec 97<&-
    builtin trap 'builtin printf "E %d\n" "$?" >&98' EXIT
    builtin unset __shlambda_go __shlambda_line __shlambda_close_all __shlambda_fd \
      __shlambda_base __shlambda_set __shlambda_sets __shlambda_file
    # `$(< /dev/stdin)` reopens the event file, so the function's own stdin still starts at byte 0.
    "$__shlambda_function" "$(< /dev/stdin)"
  ) &
  __shlambda_pid=$!
  builtin printf 'P %d %d\n' "$__shlambda_set" "$__shlambda_pid" >&3
  builtin eval "exec $__shlambda_base<&- $((__shlambda_base + 1))<&- $((__shlambda_base + 2))>&- $((__shlambda_base + 3))>&- $((__shlambda_base + 4))>&-"
  builtin wait "$__shlambda_pid" 2>/dev/null
  __shlambda_status=$?
  builtin kill -KILL -- "-$__shlambda_pid" 2>/dev/null
  builtin printf 'X %d %d\n' "$__shlambda_set" "$__shlambda_status" >&3
  __shlambda_set=$((__shlambda_set + 1))
done
