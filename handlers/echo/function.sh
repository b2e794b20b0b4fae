# The echo function: answers every event with the event itself.
# Deploy with handler "function.handler": shlambda calls `handler` with the event as $1 (and on stdin).

handler() {
  local event=$1
  echo "echo: received ${#event} bytes" >&2 # stderr is the log
  printf '%s' "$event"                      # stdout is the response, byte for byte
}
