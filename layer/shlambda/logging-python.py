# Gives Python's root logger the handler that Lambda's managed Python runtime gives it, so that a
# function's `logging` calls come out as they do there.
#
# What the managed runtime does (awslambdaric, `bootstrap.py` `_setup_logging` and
# `lambda_runtime_log_utils.py`): the root logger has one handler from the start, so `logger.info()`
# after `logger.setLevel(logging.INFO)` is logged (with no handler Python prints only WARNING and up,
# through its last-resort handler) and `logging.basicConfig()` does nothing; `AWS_LAMBDA_LOG_LEVEL`
# sets the root logger's level (TRACE is DEBUG); every record carries `aws_request_id` for a format
# of the function's own; in the JSON log format each record is one JSON object with `timestamp`,
# `level`, `message`, `logger` and `requestId`, the exception's `errorType`, `errorMessage`,
# `stackTrace` and `location` when there is one, and the fields given with `extra=`. The level
# there is what Lambda's application log-level filter reads: as a plain line, a `logger.error()`
# would be filed as INFO and dropped by a WARN filter.
#
# Loaded by function-python.py once something imports `logging`, never before: importing it costs a
# process several milliseconds that a function which never logs does not pay.

import json
import logging
import math
import os
import sys
import time
import traceback

# What every record has; anything else on a record came from `extra=` and is logged as a field of its
# own. Made from a real record, so it holds whatever this Python's records have (3.12's taskName).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "aws_request_id",
    "tenant_id",
}

_TEXT_FORMAT = "[%(levelname)s]\t%(message)s"


def _add_invocation(record):
    """Filter: names the invocation on each record, as the managed runtime's filter does."""
    record.aws_request_id = os.environ.get("LAMBDA_REQUEST_ID", "")
    record.tenant_id = os.environ.get("LAMBDA_TENANT_ID")
    return True


def _rounded_level_name(levelno):
    # A level of the function's own (25, say) is filed under the standard level below it, as the managed
    # runtime files it: Lambda's filter knows only those names.
    return logging.getLevelName(min(50, max(0, levelno)) // 10 * 10)


def _timestamp(record):
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _as_text(value):
    # A field given with extra= that JSON cannot hold is logged as its str(), not lost with the record.
    return str(value)


class JsonRecordFormatter(logging.Formatter):
    """One JSON object per record, with the managed runtime's field names."""

    def format(self, record):
        message = record.getMessage()
        if record.stack_info:
            message = f"{message}\n{self.formatStack(record.stack_info)}"
        fields = {
            "timestamp": _timestamp(record),
            "level": _rounded_level_name(record.levelno),
            "message": message,
            "logger": record.name,
        }
        request_id = getattr(record, "aws_request_id", "")
        if request_id:
            fields["requestId"] = request_id
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id:
            fields["tenantId"] = tenant_id
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, trace = record.exc_info
            fields["errorType"] = kind.__name__
            fields["errorMessage"] = str(error)
            fields["stackTrace"] = traceback.format_tb(trace)
            fields["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        extras = {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES and key not in fields}
        try:
            return _encode({**fields, **extras})
        except ValueError:
            # NaN or Infinity, which JSON has no word for: Lambda would not read the record (nor its
            # level) at all. They are logged as their str(); anything else that fails, all the extras.
            try:
                return _encode(_finite({**fields, **extras}))
            except (ValueError, RecursionError):
                return _encode({**fields, **{key: str(value) for key, value in extras.items()}})


def _encode(fields):
    return json.dumps(fields, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_as_text)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def log_level_of(env):
    """The root logger's level that AWS_LAMBDA_LOG_LEVEL names, or None to leave Python's (WARNING)."""
    name = (env.get("AWS_LAMBDA_LOG_LEVEL") or "").strip().upper()
    if name == "TRACE":
        name = "DEBUG"
    level = logging.getLevelName(name) if name else None
    return level if isinstance(level, int) else None


def install(env, stream=None):
    """Adds the Lambda handler to the root logger, writing to `stream` (the log: stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    # So that a process forked from a zygote that installed it does not add a second one.
    handler.shlambda = True
    handler.addFilter(_add_invocation)
    json_format = (env.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    handler.setFormatter(JsonRecordFormatter() if json_format else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    level = log_level_of(env)
    if level is not None:
        root.setLevel(level)
    root.addHandler(handler)
