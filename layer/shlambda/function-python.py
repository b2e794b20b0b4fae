# Loads a Python handler file and calls one function in it the way Lambda's managed Python runtime does.
#
# Contract (the same for the PHP, Ruby, Perl and Node shims):
#   python3 function-python.py <absolute path of the handler file> <function name>
#   cwd is the task root. The environment holds LAMBDA_TASK_ROOT, LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS
#   (epoch ms), LAMBDA_INVOKED_FUNCTION_ARN, _X_AMZN_TRACE_ID, LAMBDA_CLIENT_CONTEXT and
#   LAMBDA_COGNITO_IDENTITY (JSON), LAMBDA_TENANT_ID (the optional ones only when Lambda sent them) and
#   Lambda's own AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, _STREAM_NAME.
#   stdin is the event (a regular file): JSON, decoded; empty -> None; anything else -> a str.
#   The function is called as fn(event, context). stdout carries only the result: the JSON of the return
#   value, no trailing newline, exit 0. Anything the user code prints goes to stderr, the log.
#   On failure stdout carries {"errorType", "errorMessage", "stackTrace"} and the exit status is 1.
#   With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded first,
#   then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts).

import atexit
import gc
import importlib.util
import json
import os
import signal
import sys
import time

# How long the end of a process may take after its answer (atexit functions, finalizers).
WIND_DOWN_SECONDS = 0.5

# The response gets a private copy of fd 1; fd 1 itself becomes stderr, so print(), logging to stdout
# and child processes that inherit stdout all end up in the log instead of corrupting the response.
RESULT_FD = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr


class _LambdaLoggingOnImport:
    """Import hook: the first import of `logging` also gives its root logger Lambda's handler.

    The handler is there before anything logs, as in the managed runtime (logging-python.py says what it
    does), yet a function that never imports `logging` never loads it.
    """

    _finding = False

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging" or cls._finding:
            return None
        cls._finding = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            cls._finding = False
        loader = getattr(spec, "loader", None)
        run_module = getattr(loader, "exec_module", None)
        # A loader that is a class (a frozen module's) is shared, and one without exec_module (an old
        # zipimporter) cannot be wrapped: logging is then left as it is, without the handler.
        if run_module is None or isinstance(loader, type):
            return spec

        def exec_module(module):
            # One loader may load other modules too (a zip's): only logging's run gets the handler.
            if module.__name__ != "logging":
                return run_module(module)
            vars(loader).pop("exec_module", None)
            run_module(module)
            if cls in sys.meta_path:
                sys.meta_path.remove(cls)
            _install_lambda_logging(module)
            return None

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            pass
        return spec


def _install_lambda_logging(module):
    # A `logging.py` of the function's own, found first on its path, is not Python's; and a zygote may
    # have given the root logger the handler already (for SHLAMBDA_PRELOAD).
    if not callable(getattr(module, "StreamHandler", None)) or has_lambda_handler(module):
        return
    setup_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logging-python.py")
    try:
        spec = importlib.util.spec_from_file_location("_shlambda_logging", setup_path)
        setup = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(setup)
        setup.install(os.environ)
    except Exception as error:  # noqa: BLE001 - the function's own `import logging` must still work
        sys.stderr.write(f"shlambda: logging keeps Python's defaults: {type(error).__name__}: {error}\n")


def has_lambda_handler(logging_module):
    return any(getattr(handler, "shlambda", False) for handler in logging_module.getLogger().handlers)


if "logging" in sys.modules:
    _install_lambda_logging(sys.modules["logging"])
else:
    sys.meta_path.insert(0, _LambdaLoggingOnImport)


class _Record:
    """Attribute bag for the context's identity and client_context, as the managed runtime shapes them."""

    def __init__(self, values):
        for key, value in (values or {}).items():
            setattr(self, key, value)


class LambdaContext:
    """The managed runtime's context object: same attribute names, same (string) types."""

    def __init__(self, env):
        self.aws_request_id = env.get("LAMBDA_REQUEST_ID")
        self.invoked_function_arn = env.get("LAMBDA_INVOKED_FUNCTION_ARN")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = env.get("LAMBDA_TENANT_ID")
        identity = _json_env(env, "LAMBDA_COGNITO_IDENTITY") or {}
        self.identity = _Record(
            {
                "cognito_identity_id": identity.get("cognitoIdentityId"),
                "cognito_identity_pool_id": identity.get("cognitoIdentityPoolId"),
            }
        )
        client_context = _json_env(env, "LAMBDA_CLIENT_CONTEXT")
        self.client_context = None
        if isinstance(client_context, dict):
            self.client_context = _Record(client_context)
            if isinstance(client_context.get("client"), dict):
                self.client_context.client = _Record(client_context["client"])
        self._deadline_ms = int(env.get("LAMBDA_DEADLINE_MS") or 0)

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


class HandlerFailure(Exception):
    """A failure that is not the user's exception: its errorType is a Runtime.* name."""

    def __init__(self, error_type, message, trace=()):
        super().__init__(message)
        self.error_type = error_type
        self.trace = list(trace)


class Discarded(Exception):
    """The runtime discarded this prestarted process before giving it an invocation."""


def _json_env(env, name):
    raw = env.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def read_event():
    raw = sys.stdin.buffer.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        # JSON all the same: handed over as a string, it would be a different event.
        raise HandlerFailure(
            "Runtime.UnmarshalError",
            "Unable to unmarshal input: the event is nested deeper than Python's json module decodes",
        ) from None
    except ValueError:
        return raw.decode("utf-8", "replace")


def module_name_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def preload_modules(env, handler_module):
    """Imports the modules SHLAMBDA_PRELOAD names, before the file, reporting one that fails as the file's
    import error. The zygote has imported them already (zygote-python.py), so in its processes this
    finds them loaded; one that failed there fails here again, with its error."""
    for name in (entry.strip() for entry in env.get("SHLAMBDA_PRELOAD", "").split(",")):
        if not name:
            continue
        if not all(part.isidentifier() for part in name.split(".")):
            raise HandlerFailure(
                "Runtime.InvalidConfig",
                f"SHLAMBDA_PRELOAD holds {name!r}, which is not a module name: "
                "give module names separated by commas (boto3,requests)",
            )
        if name == handler_module:
            raise HandlerFailure(
                "Runtime.InvalidConfig",
                f"SHLAMBDA_PRELOAD names the handler file itself ({name}), which loads in each invocation's "
                "own process: name only the libraries it uses",
            )
        try:
            importlib.import_module(name)
        except Exception as error:
            raise HandlerFailure(
                "Runtime.ImportModuleError",
                f"Unable to import module '{name}' named in SHLAMBDA_PRELOAD: {type(error).__name__}: {error}",
                _user_frames(error.__traceback__),
            ) from None


def load_function(path, name):
    directory = os.path.dirname(path)
    shim_directory = os.path.dirname(os.path.abspath(__file__))
    # Python put the shim's own directory first on sys.path; the handler's imports expect their own.
    # (The zygote may have put `directory` first already, for SHLAMBDA_PRELOAD.)
    sys.path[:] = [directory] + [p for p in sys.path if p not in (shim_directory, directory)]
    module_name = module_name_of(path)
    preload_modules(os.environ, module_name)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs, as a real import does: dataclasses and pickle look it up there.
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except SyntaxError as error:
        where = f'File "{error.filename}", line {error.lineno}'
        raise HandlerFailure(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {error}",
            [where, f"    {(error.text or '').strip()}"],
        ) from None
    except Exception as error:
        raise HandlerFailure(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': {type(error).__name__}: {error}",
            _user_frames(error.__traceback__),
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        defined = sorted(
            key
            for key, value in vars(module).items()
            if type(value).__name__ == "function" and value.__module__ == module_name and not key.startswith("_")
        )
        listing = f"it defines: {', '.join(defined)}" if defined else "it defines no functions"
        raise HandlerFailure(
            "Runtime.HandlerFunctionNotFound",
            f"Handler function '{name}' is not defined in {os.path.basename(path)} ({listing})",
        )
    return function


def _user_frames(tb):
    # The first frames are this shim's (and importlib's): the user wants to see their own code.
    import traceback

    frames = [frame for frame in traceback.extract_tb(tb) if frame.filename != __file__]
    frames = [frame for frame in frames if not frame.filename.startswith("<frozen ")]
    return [line for entry in traceback.format_list(frames) for line in entry.rstrip("\n").split("\n")]


def _encode_default(value):
    # boto3's DynamoDB deserializer hands out Decimals; the managed runtime encodes them as numbers.
    if type(value).__name__ == "Decimal":
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_result(result):
    try:
        return json.dumps(
            result, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_encode_default
        ).encode("utf-8")
    except Exception as error:
        raise HandlerFailure(
            "Runtime.MarshalError", f"Unable to marshal response: {type(error).__name__}: {error}"
        ) from None


def write_result(data):
    view = memoryview(data)
    while view:
        view = view[os.write(RESULT_FD, view) :]


def failure_result(error_type, message, trace):
    lines = [f"[ERROR] {error_type}: {message}"] + [f"  {line}" for line in trace]
    sys.stderr.write("\n".join(lines) + "\n")
    payload = {"errorType": error_type, "errorMessage": message, "stackTrace": trace}
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def exit_status(code):
    """The status Python's own exit gives a SystemExit's code."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def end_process(status, module_name):
    """Ends the process as Python's exit would for what the function left, then os._exit.

    Python's exit first waits for every non-daemon thread, which a leftover thread would stretch to the
    deadline, and then tears the whole interpreter down: about 10 ms of copied pages in a process forked
    from the zygote (fork then sys.exit against fork then os._exit, 300 of each), and 35 ms for a function
    that has loaded boto3 (500 modules) just to clear and collect them. What a function notices of an
    exit is kept: its atexit functions run, and the handler file's globals are cleared as Python's exit
    clears a module, so what they hold is freed and finalized (buffered writes reach their files, a
    gzip file gets its trailer, a NamedTemporaryFile is deleted); a young collection then finalizes
    reference cycles still in the young generations (older ones are not: a full collection costs about
    14 ms with boto3 loaded). Objects that only other modules hold stay as they are, as they would in a
    managed runtime, whose process outlives the invocation.
    """
    # What the function left may wait on something that never comes (a ProcessPoolExecutor's workers,
    # which Python's own exit stops first): past WIND_DOWN_SECONDS the process just ends.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(status))
    signal.setitimer(signal.ITIMER_REAL, WIND_DOWN_SECONDS)
    try:
        _wind_down(module_name)
    finally:
        os._exit(status)


def _wind_down(module_name):
    try:
        atexit._run_exitfuncs()
    except BaseException as error:  # noqa: BLE001 - an atexit function that raises must not cost the rest
        sys.stderr.write(f"shlambda: an atexit function failed: {type(error).__name__}: {error}\n")
    module = sys.modules.get(module_name)
    if isinstance(module, type(sys)):
        namespace = module.__dict__
        # Python's order: names with one leading underscore first, then the rest.
        for key in [key for key in namespace if isinstance(key, str) and key[:1] == "_" and key[:2] != "__"]:
            namespace[key] = None
        for key in [key for key in namespace if key != "__builtins__"]:
            namespace[key] = None
    gc.collect(1)
    sys.stderr.flush()


def await_invocation():
    """Prestarted: says the file is loaded, waits for the go, and takes the invocation's variables."""
    os.write(3, b"R")
    try:
        go = os.read(3, 1)
    except OSError:
        go = b""
    if go != b"G":
        raise Discarded()
    os.close(3)
    with os.fdopen(4, "rb") as context_file:
        lines = context_file.read().split(b"\n")
    for line in lines:
        name, sep, value = line.partition(b"=")
        if sep and (name.startswith(b"LAMBDA_") or name == b"_X_AMZN_TRACE_ID"):
            os.environb[name] = value


def run():
    """Loads the file, waits for its invocation if prestarted, calls the function: (response, exit status)."""
    path, name = sys.argv[1], sys.argv[2]
    try:
        function = load_function(path, name)
        if os.environ.pop("_SHLAMBDA_SPARE", None) == "1":
            await_invocation()
        event = read_event()
        context = LambdaContext(os.environ)
        try:
            result = function(event, context)
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - a KeyboardInterrupt is the function's failure too
            # awslambdaric's handle_event_request catches Exception only, so its process would crash;
            # named, it says more, and this process still ends as Python's exit would.
            return failure_result(type(error).__name__, str(error), _user_frames(error.__traceback__)), 1
        return encode_result(result), 0
    except HandlerFailure as failure:
        return failure_result(failure.error_type, str(failure), failure.trace), 1


def main():
    # Read now: the function may change sys.argv.
    module_name = module_name_of(sys.argv[1])
    try:
        response, status = run()
    except SystemExit as exit:
        # The function called sys.exit(): no result, its status.
        response, status = b"", exit_status(exit.code)
    except Discarded:
        response, status = b"", 0
    write_result(response)
    # run() has returned, so nothing of the function is referenced from a frame any more.
    del response
    end_process(status, module_name)


main()
