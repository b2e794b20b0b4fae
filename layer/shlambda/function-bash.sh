# Loads a bash handler file and calls one function in it: shlambda's bash function mode.
#
# Started by the runtime as: bash function-bash.sh <handler file> <function name>
# The function name was checked by the runtime to be a plain identifier and a function the file defines.
# stdin is a regular file holding the event. The function gets the event as $1 (read in bulk: bash's
# `read` takes a pipe one byte at a time) and the same bytes on stdin; its stdout is the response.
# With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded first,
# then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts).

__shlambda_file=$1
__shlambda_function=$2
set --

# Output of the file's top level is not part of the response: send it to the log.
# shellcheck disable=SC1090
source "$__shlambda_file" >&2

# The file may define functions named like builtins (read, printf...): from here on, only builtins.
if ! builtin declare -F -- "$__shlambda_function" >/dev/null; then
  # Checked at init already; reaching this means the file defines it only under some conditions.
  builtin printf '%s defines no function %s\n' "${__shlambda_file##*/}" "$__shlambda_function" >&2
  builtin exit 127
fi

if [[ ${_SHLAMBDA_SPARE-} == 1 ]]; then
  builtin unset _SHLAMBDA_SPARE
  builtin printf R >&3
  # One byte: `read` on a socket goes byte by byte, and the go is all that travels on it.
  __shlambda_go=
  builtin read -r -n 1 -u 3 __shlambda_go || :
  # End of file instead of the go: the runtime discarded this process.
  [[ $__shlambda_go == G ]] || builtin exit 0
  # A regular file, so `read` takes it in blocks. Only these names are exported, each as one word:
  # a value is never evaluated.
  while IFS= builtin read -r __shlambda_line; do
    case $__shlambda_line in
    LAMBDA_*=* | _X_AMZN_TRACE_ID=*) builtin export "$__shlambda_line" ;;
    esac
  done </dev/fd/4
  builtin exec 3>&- 4<&-
  builtin unset __shlambda_go __shlambda_line
fi

# `$(< /dev/stdin)` reopens the event file, so the function's own stdin still starts at byte 0.
"$__shlambda_function" "$(< /dev/stdin)"
