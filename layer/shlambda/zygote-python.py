# Forks one process per invocation from a Python that has started and loaded the shim, but nothing of
# the function: each forked process loads the handler file itself, so module-level state (a database
# or TLS connection opened at import) is never shared between invocations, as it would be if this
# process imported the file and every fork inherited its sockets. A fork costs well under a
# millisecond; a new interpreter from the runtime costs 15-20 ms before it has loaded anything.
#
# Started by the runtime as: python3 zygote-python.py <shim> <handler file> <function name> <sets>
# fd 2 goes to the log. fd 3 is a socket to the runtime, on which this process writes lines:
#   R                  it is running (the forked processes each say when they have loaded the file)
#   P <set> <pid>      the process for <set> is forked (its process group is <pid>)
#   X <set> <code>     that process exited with <code>; its group has been killed
#   K <set> <signal>   that process was killed by signal number <signal>; its group has been killed
# The runtime started it with <sets> groups of five descriptors, set i at 4 + 5i: event file, context
# file, stdout socket, stderr socket, go socket. A forked process moves its set to fds 0, 4, 1, 2 and 3,
# closes every other set, and runs the shim as a prestarted process (runtime/spare-process.ts): it loads
# the file, says R on fd 3, and waits for the go. Processes are forked one at a time, each once the one
# before has ended. After the last set this process exits, and the runtime starts another.

import gc
import os
import signal
import sys

# What the shim imports, imported once here so that each fork finds it loaded.
import atexit  # noqa: F401
import importlib.util
import json  # noqa: F401
import time  # noqa: F401

SET_SIZE = 5
FIRST_SET_FD = 4


def run_forked(shim_code, shim_path, handler_file, function, base, last_fd):
    """In the forked process: takes its set's descriptors, then runs the shim; never returns."""
    try:
        os.setpgid(0, 0)
        os.dup2(base, 0)
        os.dup2(base + 2, 1)
        os.dup2(base + 3, 2)
        os.dup2(base + 4, 3)
        os.dup2(base + 1, 4)
        # Its set's originals (fd 4 is now the context file) and the sets still to come. Earlier sets'
        # numbers were closed here before this fork, and may have been reused since: not touched.
        for fd in range(max(base, FIRST_SET_FD + 1), last_fd + 1):
            os.close(fd)
        os.environ["_SHLAMBDA_SPARE"] = "1"
        # What the file's top level starts inherits this, so it can be ended with this invocation.
        os.environ["_SHLAMBDA_PROCESS"] = str(os.getpid())
        sys.argv = [shim_path, handler_file, function]
        main = type(sys)("__main__")
        main.__file__ = shim_path
        sys.modules["__main__"] = main
        exec(shim_code, main.__dict__)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
        os._exit(code)
    except BaseException as error:  # noqa: BLE001 - the forked process must never return to the loop
        os.write(2, f"shlambda: the forked Python process failed: {type(error).__name__}: {error}\n".encode())
        os._exit(1)
    # The shim ends with os._exit; reaching this line means it returned.
    os._exit(0)


def preload(shim_path, handler_file, last_fd):
    """Imports the modules SHLAMBDA_PRELOAD names (boto3, say), once, for every process forked after.

    A function's imports run in each of its processes, a library's 100-250 ms included (boto3's); what
    this imports, each fork finds loaded, in the state the import left it. The forked processes' shim
    imports them again (function-python.py), which is then a look-up, and which reports a module that
    fails to import: here it is passed over. The path is the one those processes import with.
    """
    names = [name.strip() for name in os.environ.get("SHLAMBDA_PRELOAD", "").split(",") if name.strip()]
    if not names:
        return
    directory = os.path.dirname(handler_file)
    shim_directory = os.path.dirname(os.path.abspath(shim_path))
    sys.path[:] = [directory] + [p for p in sys.path if p not in (shim_directory, directory)]
    # What a module prints while it loads goes to the log, as it does in a process of the function's
    # (this process's stdout is otherwise /dev/null, and each fork gets one of its own); a stream it
    # keeps is the log in the forks too (the shim's sys.stdout).
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # A command a module starts must not hold the runtime's socket or the invocations' descriptors (an
    # invocation's output would stay open): each fork's own copies (dup2) are inheritable again.
    for fd in range(3, last_fd + 1):
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass
    # The root logger has Lambda's handler before the modules load, as it has in the function's own
    # processes: one that configures logging (basicConfig, a level) meets it as it would there.
    _install_lambda_logging(shim_path)
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001, S110 - reported by each forked process, which tries again
            pass
    sys.stdout.flush()


def _install_lambda_logging(shim_path):
    # As function-python.py's _install_lambda_logging does it; that code runs only in the forks.
    try:
        import logging  # noqa: F401 - what the modules would import first anyway

        setup_path = os.path.join(os.path.dirname(os.path.abspath(shim_path)), "logging-python.py")
        spec = importlib.util.spec_from_file_location("_shlambda_logging", setup_path)
        setup = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(setup)
        setup.install(os.environ)
    except Exception as error:  # noqa: BLE001 - the forks try again, and say why it fails
        sys.stderr.write(f"shlambda: logging keeps Python's defaults: {type(error).__name__}: {error}\n")


def main():
    shim_path, handler_file, function, sets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(shim_path, "rb") as source:
        shim_code = compile(source.read(), shim_path, "exec")
    last_fd = FIRST_SET_FD + SET_SIZE * sets - 1
    preload(shim_path, handler_file, last_fd)
    control = os.fdopen(3, "wb", buffering=0)
    control.write(b"R\n")
    for index in range(sets):
        base = FIRST_SET_FD + SET_SIZE * index
        sys.stderr.flush()
        # Out of the collector's reach: a forked process's collections, its own and the one at its end
        # (function-python.py), would otherwise write to every object of this process, copying the pages
        # (0.6 ms of CPU per invocation).
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            run_forked(shim_code, shim_path, handler_file, function, base, last_fd)
        try:
            # Also here, so the group exists before the runtime hears of it.
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child got there first, or has already exited
        control.write(f"P {index} {pid}\n".encode())
        # The runtime holds the other ends; copies kept here would keep a finished invocation's output open.
        for fd in range(base, base + SET_SIZE):
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass  # the group is already empty
        if os.WIFSIGNALED(status):
            control.write(f"K {index} {os.WTERMSIG(status)}\n".encode())
        else:
            control.write(f"X {index} {os.WEXITSTATUS(status)}\n".encode())


main()
