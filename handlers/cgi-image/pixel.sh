#!/usr/bin/env bash
# A binary response from a CGI script (handler "pixel.sh", with SHLAMBDA_CGI=1): a 1x1 PNG, which the
# runtime returns base64-encoded with isBase64Encoded, as image/* is a binary type.
set -euo pipefail
printf 'Content-Type: image/png\r\n'
printf 'Cache-Control: public, max-age=86400\r\n'
printf '\r\n'
# The PNG's bytes go straight to stdout: never through a shell variable, which cannot hold NUL bytes.
base64 -d <<<'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
