<?php
// Forks one process per invocation from a PHP that has started and loaded the shim, but nothing of the
// function: each forked process loads the handler file itself, so no state of the file's top level (a
// PDO connection, say) is shared between invocations. A fork costs a fraction of a millisecond; a new
// php costs 9-15 ms before it has loaded anything (its extensions' start, mostly).
//
// Started by the runtime as: php zygote-php.php <shim> <handler file> <function name> <sets>
// fd 1 and fd 2 go to the log. fd 3 is a socket to the runtime, on which this process writes lines:
//   R                  it is running (the forked processes each say when they have loaded the file)
//   N                  it cannot fork (no pcntl or posix extension, or no FFI to close the other sets'
//                      descriptors with): it serves set 0 itself, then exits
//   P <set> <pid>      the process for <set> is forked (its process group is <pid>)
//   X <set> <code>     that process exited with <code>; its group has been killed
//   K <set> <signal>   that process was killed by signal number <signal>; its group has been killed
// and a forked process writes one, through its copy of fd 3 (so it arrives before the X):
//   E <set> <status> <bytes>  its result, <bytes> long, is written; its shutdown functions and
//                      destructors have run
// The runtime started it with <sets> groups of five descriptors, set i at 4 + 5i: event file, context
// file, stdout socket, stderr socket, go socket. PHP has no dup2 and, without FFI, cannot close a
// descriptor it did not open, so a forked process uses its set where it is (the shim's runForked), and
// closes the other sets through FFI (libc's close_range or close): holding them, one invocation could
// write into the next one's answer. Without FFI, this process says N. A forked process's STDOUT and
// STDERR are this process's: its log, which it ends with a mark on both, `\0shlambda:end <set>`
// (written here for a process that died first), so the runtime knows whose lines follow. Since copies
// of its stdout pipe stay open here, its E carries the result's size instead of an end of file. Each
// set's process is forked once the one before has said, on a socket of this process's, that none of
// its code is left to run, or has ended.

//
// Its names are in a namespace of their own, and its variables in functions: the handler file loads into
// the forked process, where a function or constant of the same name would be declared twice, and
// $GLOBALS would show this process's variables.

namespace Shlambda\Zygote;

/** Tells the shim (function-php.php) that it is loaded for its functions, not run. */
const ACTIVE = true;
const SET_SIZE = 5;
const FIRST_SET_FD = 4;

/**
 * Returns a function that closes descriptors first..last through libc, since PHP closes only what it
 * opened itself; null where FFI is missing or switched off (`ffi.enable`). close_range(2) is one system
 * call for a whole range (glibc 2.34, Linux 5.9); close(2) one by one where it is not there.
 * @return (Closure(int, int): void)|null
 */
function descriptorCloser(): ?\Closure
{
    if (!class_exists(\FFI::class)) {
        return null;
    }
    try {
        $close = \FFI::cdef('int close(int fd);');
    } catch (\Throwable) {
        return null;
    }
    try {
        $range = \FFI::cdef('int close_range(unsigned int first, unsigned int last, int flags);');
    } catch (\Throwable) {
        $range = null;
    }
    return static function (int $first, int $last) use ($close, $range): void {
        if ($first > $last || ($range !== null && $range->close_range($first, $last, 0) === 0)) {
            return;
        }
        for ($fd = $first; $fd <= $last; $fd++) {
            $close->close($fd);
        }
    };
}

/**
 * Puts SIGCHLD back to the kernel's default through libc: `pcntl_signal(SIGCHLD, SIG_DFL)` leaves PHP's
 * own handler installed (/proc/self/status still shows the signal caught), and a caught SIGCHLD cuts a
 * function's sleep() short whenever a command it started ends, as it would not in a php of its own.
 */
function defaultChildSignal(): void
{
    try {
        \FFI::cdef('typedef void (*handler_t)(int); handler_t signal(int signum, handler_t handler);')
            ->signal(SIGCHLD, null);
    } catch (\Throwable) {
        // FFI was there to close the descriptors with (descriptorCloser), so this does not happen.
    }
}

/**
 * Forks the process for one set: it loads the file and waits for its invocation. Returns its pid and
 * this end of a socket on which it says `D` once nothing of the function's code is left to run (its
 * answer is out, its shutdown functions and destructors have run). Right after it, the process closes
 * what the function left open and ends itself without PHP's teardown (function-php.php says why).
 * @return array{int, resource}
 */
function forkSet(int $set, int $sets, $control, string $file, string $function, \Closure $closeDescriptors): array
{
    [$mine, $theirs] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
    $pid = pcntl_fork();
    if ($pid === -1) {
        fwrite(STDERR, 'shlambda: cannot fork: ' . pcntl_strerror(pcntl_get_last_error()) . "\n");
        exit(1);
    }
    if ($pid === 0) {
        fclose($control);
        fclose($mine);
        pcntl_signal(SIGCHLD, SIG_DFL);
        defaultChildSignal();
        pcntl_async_signals(false);
        posix_setpgid(0, 0);
        $own = FIRST_SET_FD + SET_SIZE * $set;
        $closeDescriptors(FIRST_SET_FD, $own - 1);
        $closeDescriptors($own + SET_SIZE, FIRST_SET_FD + SET_SIZE * $sets - 1);
        \Shlambda\runForked($file, $function, $own, $theirs);
    }
    fclose($theirs);
    // Also here, so the group exists before the runtime hears of it (the child may have got there first).
    @posix_setpgid($pid, $pid);
    fwrite($control, "P {$set} {$pid}\n");
    return [$pid, $mine];
}

/**
 * Reports a reaped process and ends what is left of its group. One that ended without its `D` (a crash,
 * a kill) never marked the end of its log: the mark is written here, before the report.
 */
function reaped(int $pid, int $status, int $set, $control, bool $unmarked): void
{
    posix_kill(-$pid, SIGKILL);
    if ($unmarked) {
        $mark = "\0shlambda:end {$set}\n";
        fwrite(STDOUT, $mark);
        fwrite(STDERR, $mark);
    }
    if (pcntl_wifsignaled($status)) {
        fwrite($control, "K {$set} " . pcntl_wtermsig($status) . "\n");
    } else {
        fwrite($control, "X {$set} " . pcntl_wexitstatus($status) . "\n");
    }
}

/** The zygote's work: the shim loaded, then one process forked per set, each reported and reaped. */
function main(string $shim, string $file, string $function, int $sets): void
{
    require $shim;
    $control = fopen('php://fd/3', 'w');
    $closeDescriptors = descriptorCloser();
    // A disabled function (disable_functions) does not exist either.
    $missing = array_filter([
        function_exists('pcntl_fork') ? null : 'pcntl (or pcntl_fork is disabled)',
        function_exists('posix_setpgid') && function_exists('posix_kill') ? null : 'posix',
        $closeDescriptors !== null
            ? null
            : 'FFI (or ffi.enable is 0), to close the other invocations\' descriptors',
    ]);
    if ($missing !== []) {
        // Without them no process can be forked, given a group of its own or rid of the other sets'
        // descriptors: this one is the prestarted process for set 0 (the runtime made it the leader of its
        // own group), and the runtime starts a new php for each invocation after it, one with only its own.
        fwrite(STDERR, 'shlambda: this PHP lacks ' . implode('; ', $missing)
            . ': each invocation gets a new php '
            . "instead of a process forked from a started one, which is slower\n");
        fwrite($control, "N\nR\nP 0 " . getmypid() . "\n");
        fclose($control);
        \Shlambda\runForked($file, $function, FIRST_SET_FD, null);
    }
    fwrite($control, "R\n");

    // So two processes may live at once, one in its teardown and one waiting for its event. A SIGCHLD only
    // needs to interrupt the wait for the newest one's `D`.
    pcntl_async_signals(true);
    pcntl_signal(SIGCHLD, static function (): void {});
    $live = [];
    $nextSet = 0;
    [$newest, $done] = forkSet($nextSet, $sets, $control, $file, $function, $closeDescriptors);
    $live[$newest] = $nextSet++;
    // Whether the newest process's log has its end mark: it wrote it before its `D`, or this process did
    // once it was reaped without one. The next process is forked only then, so its log starts after it.
    $newestMarked = false;
    while ($live !== []) {
        if ($done !== null) {
            $read = [$done];
            $write = $except = null;
            // Woken by its `D`, by a SIGCHLD, or after 50 ms at the latest (a SIGCHLD just before the wait).
            if (@stream_select($read, $write, $except, 0, 50_000) > 0) {
                // `D`, or the end of the socket (it died): either way none of its code will run any more.
                $newestMarked = fread($done, 1) === 'D';
                fclose($done);
                $done = null;
            }
        } elseif ($newestMarked) {
            // Nothing left to fork: wait for the rest to end.
            $pid = pcntl_waitpid(-1, $status);
            if ($pid > 0) {
                reaped($pid, $status, $live[$pid], $control, false);
                unset($live[$pid]);
            }
        }
        while (($pid = pcntl_waitpid(-1, $status, WNOHANG)) > 0) {
            if ($pid === $newest && !$newestMarked && $done !== null) {
                // A process ends itself right after its `D`, which may not have been read yet: the byte
                // outlives the process. Without waiting: one that died without it may have left a child
                // that holds the socket, and no end of file comes while that child lives.
                stream_set_blocking($done, false);
                $newestMarked = fread($done, 1) === 'D';
                fclose($done);
                $done = null;
            }
            $unmarked = $pid === $newest && !$newestMarked;
            reaped($pid, $status, $live[$pid], $control, $unmarked);
            unset($live[$pid]);
            if ($pid === $newest) {
                $newestMarked = true;
                if ($done !== null) {
                    fclose($done);
                    $done = null;
                }
            }
        }
        if ($done === null && !$newestMarked && isset($live[$newest])) {
            // It closed its socket without a `D` and has not been reaped yet: wait for its end.
            $pid = pcntl_waitpid($newest, $status);
            if ($pid === $newest) {
                reaped($pid, $status, $live[$pid], $control, true);
                unset($live[$pid]);
                $newestMarked = true;
            }
        }
        if ($done === null && $newestMarked && $nextSet < $sets) {
            [$newest, $done] = forkSet($nextSet, $sets, $control, $file, $function, $closeDescriptors);
            $live[$newest] = $nextSet++;
            $newestMarked = false;
        }
    }
}

main($argv[1], $argv[2], $argv[3], (int) $argv[4]);
