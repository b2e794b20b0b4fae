# Loads a bash handler file and calls one function in it: shlambda's bash function mode.
#
# Started by the runtime as: bash function-bash.sh <handler file> <function name>
# The function name was checked by the runtime to be a plain identifier and a function the file defines.
# stdin is a regular file holding the event. The function gets the event as $1 (read in bulk: bash's
# `read` takes a pipe one byte at a time) and the same bytes on stdin; its stdout is the response.
# This runs one invocation on its own (SHLAMBDA_PRESTART=0); normally zygote-bash.sh forks a process
# per invocation from a bash that loaded the file once.

__shlambda_file=$1
__shlambda_function=$2
set --

# Output of the file's top level is not part of the response: send it to the log.
# shellcheck disable=SC1090
# Nor does its stdin: that is the event, for the function (as in a zygote, the top level reads nothing).
source "$__shlambda_file" >&2 </dev/null

# The file may define functions named like builtins (read, printf...): from here on, only builtins.
if ! builtin declare -F -- "$__shlambda_function" >/dev/null; then
  # Checked at init already; reaching this means the file defines it only under some conditions.
  builtin printf '%s defines no function %s\n' "${__shlambda_file##*/}" "$__shlambda_function" >&2
  builtin exit 127
fi

# `$(< /dev/stdin)` reopens the event file, so the function's own stdin still starts at byte 0.
"$__shlambda_function" "$(< /dev/stdin)"
