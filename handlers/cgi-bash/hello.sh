#!/usr/bin/env bash
# A CGI script in bash (handler "hello.sh", with SHLAMBDA_CGI=1): greets ?name=..., shows the request.
set -euo pipefail

# Decodes one application/x-www-form-urlencoded value: '+' is a space, %XX a byte.
urldecode() {
  local value=${1//+/ }
  printf '%b' "${value//%/\\x}"
}

# Escapes text for HTML. The replacements are quoted: since bash 5.2 an unquoted & in one means the match.
html() {
  local text=$1
  text=${text//&/"&amp;"}
  text=${text//</"&lt;"}
  text=${text//>/"&gt;"}
  text=${text//\"/"&quot;"}
  printf '%s' "$text"
}

name=world
IFS='&' read -r -a pairs <<<"${QUERY_STRING:-}"
for pair in "${pairs[@]}"; do
  [[ $pair == name=* ]] && name=$(urldecode "${pair#name=}")
done

echo "greeting $name" >&2 # stderr is the log

printf 'Content-Type: text/html; charset=UTF-8\r\n'
printf 'Set-Cookie: greeted=%s; Path=/; HttpOnly\r\n' "$(date +%s)"
printf '\r\n'
printf '<h1>Hello, %s!</h1>\n' "$(html "$name")"
printf '<p>%s %s from %s</p>\n' "$(html "$REQUEST_METHOD")" "$(html "$REQUEST_URI")" "$(html "${REMOTE_ADDR:-?}")"
