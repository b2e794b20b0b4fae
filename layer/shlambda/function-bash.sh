# Loads a bash handler file and calls one function in it: shlambda's bash function mode.
#
# Started by the runtime as: bash function-bash.sh <handler file> <function name>
# The function name was checked by the runtime to be a plain identifier and a function the file defines.
# stdin is a regular file holding the event. The function gets the event as $1 (read in bulk: bash's
# `read` takes a pipe one byte at a time) and the same bytes on stdin; its stdout is the response.

__shlambda_file=$1
__shlambda_function=$2
set --

# Output of the file's top level is not part of the response: send it to the log.
# shellcheck disable=SC1090
source "$__shlambda_file" >&2

if ! declare -F -- "$__shlambda_function" >/dev/null; then
  # Checked at init already; reaching this means the file defines it only under some conditions.
  printf '%s defines no function %s\n' "${__shlambda_file##*/}" "$__shlambda_function" >&2
  exit 127
fi

# `$(< /dev/stdin)` reopens the event file, so the function's own stdin still starts at byte 0.
"$__shlambda_function" "$(< /dev/stdin)"
