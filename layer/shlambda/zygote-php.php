<?php
// Forks one process per invocation from a PHP that has started and loaded the shim, but nothing of the
// function: each forked process loads the handler file itself, so no state of the file's top level (a
// PDO connection, say) is shared between invocations. A fork costs a fraction of a millisecond; a new
// php costs 9-15 ms before it has loaded anything (its extensions' start, mostly).
//
// Started by the runtime as: php zygote-php.php <shim> <handler file> <function name> <sets>
// fd 1 and fd 2 go to the log. fd 3 is a socket to the runtime, on which this process writes lines:
//   R                  it is running (the forked processes each say when they have loaded the file)
//   N                  it cannot fork (no pcntl or posix extension): it serves set 0 itself, then exits
//   P <set> <pid>      the process for <set> is forked (its process group is <pid>)
//   X <set> <code>     that process exited with <code>; its group has been killed
//   K <set> <signal>   that process was killed by signal number <signal>; its group has been killed
// The runtime started it with <sets> groups of five descriptors, set i at 4 + 5i: event file, context
// file, stdout socket, stderr socket, go socket. PHP has no dup2 and cannot close a descriptor it did
// not open, so a forked process uses its set where it is (the shim's runForked), keeps this process's
// STDOUT and STDERR (the log), and inherits the other sets' descriptors unused. Since copies of its
// stdout stay open here, it ends its answer with an exit report on its go socket, `E <status> <bytes>`,
// instead of an end of file. Processes are forked one at a time, each once the one before has ended.

const SHLAMBDA_ZYGOTE = true;
const SET_SIZE = 5;
const FIRST_SET_FD = 4;

[, $shim, $file, $function, $sets] = $argv;
$sets = (int) $sets;
require $shim;

$control = fopen('php://fd/3', 'w');
if (!function_exists('pcntl_fork') || !function_exists('posix_setpgid') || !function_exists('posix_kill')) {
    // Without them no process can be forked or given a group of its own: this one is the prestarted
    // process for set 0 (the runtime made it the leader of its own group), and the runtime starts a new
    // php for each invocation after it.
    fwrite($control, "N\nR\nP 0 " . getmypid() . "\n");
    fclose($control);
    \Shlambda\runForked($file, $function, FIRST_SET_FD);
}
fwrite($control, "R\n");

for ($set = 0; $set < $sets; $set++) {
    $base = FIRST_SET_FD + SET_SIZE * $set;
    $pid = pcntl_fork();
    if ($pid === -1) {
        fwrite(STDERR, 'shlambda: cannot fork: ' . pcntl_strerror(pcntl_get_last_error()) . "\n");
        exit(1);
    }
    if ($pid === 0) {
        fclose($control);
        posix_setpgid(0, 0);
        \Shlambda\runForked($file, $function, $base);
    }
    // Also here, so the group exists before the runtime hears of it (the child may have got there first).
    @posix_setpgid($pid, $pid);
    fwrite($control, "P {$set} {$pid}\n");
    do {
        $reaped = pcntl_waitpid($pid, $status);
    } while ($reaped === -1 && pcntl_get_last_error() === PCNTL_EINTR);
    posix_kill(-$pid, SIGKILL);
    if (pcntl_wifsignaled($status)) {
        fwrite($control, "K {$set} " . pcntl_wtermsig($status) . "\n");
    } else {
        fwrite($control, "X {$set} " . pcntl_wexitstatus($status) . "\n");
    }
}
