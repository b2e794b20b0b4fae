<?php
// Loads a PHP handler file and calls one function in it, as Lambda's managed runtimes call theirs.
//
// Contract (the same for the Python, Ruby, Perl and Node shims):
//   php function-php.php <absolute path of the handler file> <function name>
//   cwd is the task root. The environment holds LAMBDA_TASK_ROOT, LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS
//   (epoch ms), LAMBDA_INVOKED_FUNCTION_ARN, _X_AMZN_TRACE_ID, LAMBDA_CLIENT_CONTEXT and
//   LAMBDA_COGNITO_IDENTITY (JSON), LAMBDA_TENANT_ID (the optional ones only when Lambda sent them) and
//   Lambda's own AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, _STREAM_NAME.
//   stdin is the event (a regular file): JSON, decoded to associative arrays; empty -> null; anything
//   else -> a string. The function is called as fn($event, $context). stdout carries only the result:
//   the JSON of the return value, no trailing newline, exit 0. Anything the user code prints goes to
//   stderr, the log. On failure stdout carries {"errorType", "errorMessage", "stackTrace"}, exit 1.
//   With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded
//   first, then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts).
//   In a process forked by zygote-php.php, runForked() takes the invocation from its set's descriptors
//   instead (PHP cannot move a descriptor onto 0-4), and the function's own STDOUT and STDERR go to the
//   log: only the result reaches the response.

namespace Shlambda;

/** The invocation's context, with the property names of the managed Node.js runtime's context. */
final class Context
{
    public readonly ?string $awsRequestId;
    public readonly ?string $invokedFunctionArn;
    public readonly ?string $functionName;
    public readonly ?string $functionVersion;
    public readonly ?string $memoryLimitInMB;
    public readonly ?string $logGroupName;
    public readonly ?string $logStreamName;
    public readonly ?string $traceId;
    public readonly ?string $tenantId;
    public readonly ?array $identity;
    public readonly ?array $clientContext;
    public readonly int $deadlineMs;

    public function __construct()
    {
        $this->awsRequestId = env('LAMBDA_REQUEST_ID');
        $this->invokedFunctionArn = env('LAMBDA_INVOKED_FUNCTION_ARN');
        $this->functionName = env('AWS_LAMBDA_FUNCTION_NAME');
        $this->functionVersion = env('AWS_LAMBDA_FUNCTION_VERSION');
        $this->memoryLimitInMB = env('AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
        $this->logGroupName = env('AWS_LAMBDA_LOG_GROUP_NAME');
        $this->logStreamName = env('AWS_LAMBDA_LOG_STREAM_NAME');
        $this->traceId = env('_X_AMZN_TRACE_ID');
        $this->tenantId = env('LAMBDA_TENANT_ID');
        $this->identity = jsonEnv('LAMBDA_COGNITO_IDENTITY');
        $this->clientContext = jsonEnv('LAMBDA_CLIENT_CONTEXT');
        $this->deadlineMs = (int) env('LAMBDA_DEADLINE_MS');
    }

    public function getRemainingTimeInMillis(): int
    {
        return max(0, $this->deadlineMs - (int) floor(microtime(true) * 1000));
    }
}

/** Where the shim is, for the shutdown function: a fatal error means something different in each phase. */
final class Phase
{
    public static string $now = 'load';
}

/**
 * Where the invocation comes from and where its answer goes: stdin and stdout, or in a forked process
 * its set's event file and stdout pipe, with an exit report on its go socket.
 */
final class Channels
{
    /** @var resource */
    public static $event;
    /** @var resource */
    public static $result;
    /** @var resource|null the go socket of a forked process */
    public static $go = null;
    /** @var resource|null where a forked process tells its zygote that none of its code is left to run */
    public static $done = null;
    /** A forked process's set, for the mark that ends its log and its report. */
    public static int $set = 0;
    /** @var resource|null the zygote's socket to the runtime, for a forked process's report */
    public static $control = null;
    /** What finish() reports once the process's code has all run: [status, bytes of the result]. */
    public static ?array $report = null;
    /** Whether the shutdown functions all ran, none of them calling exit(): only then is the status
     *  finish() gave the process's. */
    public static bool $shutdownDone = false;
    /** Descriptor of the context file, read at the go. */
    public static int $contextFd = 4;
}

/** A failure that is not the user's exception: its errorType is a Runtime.* name. */
final class HandlerFailure extends \Exception
{
    /** @param string[] $lines the stack trace to report */
    public function __construct(public readonly string $errorType, string $message, public readonly array $lines = [])
    {
        parent::__construct($message);
    }
}

function env(string $name): ?string
{
    $value = getenv($name);
    return $value === false ? null : $value;
}

function jsonEnv(string $name): ?array
{
    $decoded = json_decode(env($name) ?? '', true);
    return is_array($decoded) ? $decoded : null;
}

/** How deep an event's JSON may nest: json_decode's default. */
const EVENT_DEPTH = 512;

function readEvent(): mixed
{
    $raw = stream_get_contents(Channels::$event);
    if ($raw === false || trim($raw) === '') {
        return null;
    }
    try {
        return json_decode($raw, true, EVENT_DEPTH, JSON_THROW_ON_ERROR);
    } catch (\JsonException $error) {
        if ($error->getCode() === JSON_ERROR_DEPTH) {
            // JSON all the same: handed over as a string, it would be a different event.
            throw new HandlerFailure(
                'Runtime.UnmarshalError',
                'Unable to unmarshal input: the event is nested more than ' . EVENT_DEPTH . ' levels deep',
            );
        }
        return $raw;
    }
}

function loadFunction(string $file, string $name): callable
{
    $before = get_defined_functions()['user'];
    try {
        (static function (string $__file): void {
            require $__file;
        })($file);
    } catch (\ParseError $error) {
        throw new HandlerFailure(
            'Runtime.UserCodeSyntaxError',
            sprintf('Syntax error in %s: %s', basename($file), $error->getMessage()),
            [sprintf('%s(%d)', $error->getFile(), $error->getLine())],
        );
    } catch (\Throwable $error) {
        throw new HandlerFailure(
            'Runtime.ImportModuleError',
            sprintf('Unable to load %s: %s: %s', basename($file), $error::class, $error->getMessage()),
            traceLines($error),
        );
    }
    // Only functions the user wrote count: a handler named after a built-in (exec, system) must not run one.
    if (function_exists($name) && (new \ReflectionFunction($name))->isUserDefined()) {
        return $name;
    }
    $defined = array_values(array_diff(get_defined_functions()['user'], $before));
    $listing = $defined === [] ? 'it defines no functions' : 'it defines: ' . implode(', ', $defined);
    throw new HandlerFailure(
        'Runtime.HandlerFunctionNotFound',
        sprintf("Handler function '%s' is not defined in %s (%s)", $name, basename($file), $listing),
    );
}

/** @return string[] where it was thrown, then the calls that led there, without this shim's frames. */
function traceLines(\Throwable $error): array
{
    $lines = [sprintf('%s(%d)', $error->getFile(), $error->getLine())];
    foreach (explode("\n", $error->getTraceAsString()) as $line) {
        if (!str_contains($line, __DIR__ . '/') && !str_ends_with($line, '{main}') && !str_contains($line, 'Shlambda\\')) {
            $lines[] = $line;
        }
    }
    return $lines;
}

function encodeResult(mixed $result): string
{
    try {
        return json_encode(
            $result,
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR,
        );
    } catch (\JsonException $error) {
        throw new HandlerFailure('Runtime.MarshalError', 'Unable to marshal response: ' . $error->getMessage());
    }
}

function writeResult(string $data): void
{
    while ($data !== '') {
        $written = fwrite(Channels::$result, $data);
        if ($written === false || $written === 0) {
            exit(1);
        }
        $data = substr($data, $written);
    }
    fflush(Channels::$result);
}

/** @param string[] $trace */
function reportFailure(string $errorType, string $message, array $trace): never
{
    $log = "[ERROR] {$errorType}: {$message}\n";
    foreach ($trace as $line) {
        $log .= "  {$line}\n";
    }
    fwrite(STDERR, $log);
    $payload = ['errorType' => $errorType, 'errorMessage' => $message, 'stackTrace' => $trace];
    finish(json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), 1);
}

function finish(string $data, int $status): never
{
    Phase::$now = 'done';
    writeResult($data);
    // A forked process reports this once its shutdown functions and destructors have run (setUp).
    Channels::$report = [$status, strlen($data)];
    exit($status);
}

/**
 * A forked process's end of its invocation, once PHP has run the shutdown functions and destructors
 * (the output buffer's last call). A process that can end without PHP's teardown (canSkipTeardown)
 * first finishes what the function left open, so that its work is done, and logged, in its own
 * invocation. Then: a mark after its last log line, on the zygote's STDOUT and STDERR that it writes its
 * log to; the report, `E <set> <status> <bytes>`, for the runtime on the zygote's socket, whose byte
 * count stands in for an end of file that never comes (the zygote and its other processes hold copies
 * of the pipe); and `D` for the zygote, which forks the next invocation's process now. Then that process
 * ends itself with SIGKILL.
 */
function endForked(): void
{
    // Without a report the function called exit() itself, or a shutdown function did after its answer:
    // the status is PHP's to give, at its own end.
    if (!Channels::$shutdownDone) {
        Channels::$report = null;
    }
    $skipTeardown = Channels::$report !== null && canSkipTeardown();
    if ($skipTeardown) {
        finishWhatIsLeftOpen();
    }
    $mark = "\0shlambda:end " . Channels::$set . "\n";
    fwrite(STDOUT, $mark);
    fwrite(STDERR, $mark);
    if (Channels::$report !== null) {
        // On the zygote's socket, so that it reaches the runtime before the zygote's word of the exit.
        fwrite(Channels::$control, sprintf("E %d %d %d\n", Channels::$set, ...Channels::$report));
    }
    if (Channels::$done !== null) {
        fwrite(Channels::$done, 'D');
        fclose(Channels::$done);
    }
    Channels::$go = null;
    if ($skipTeardown) {
        posix_kill(posix_getpid(), SIGKILL);
    }
}

/**
 * Extensions PHP itself ships (php-src's ext/), lower case as get_loaded_extensions() names them: none
 * sends or writes anything in its request shutdown that another process would notice, once the session
 * is written (finishWhatIsLeftOpen). Others can: APM agents and profilers (New Relic, Datadog, Xdebug,
 * Blackfire) send or write their data there, so with any other extension loaded PHP tears down as usual.
 */
const BUNDLED_EXTENSIONS = [
    'bcmath', 'bz2', 'calendar', 'core', 'ctype', 'curl', 'date', 'dba', 'dom', 'enchant', 'exif', 'ffi',
    'fileinfo', 'filter', 'ftp', 'gd', 'gettext', 'gmp', 'hash', 'iconv', 'imap', 'intl', 'json', 'ldap',
    'libxml', 'mbstring', 'mysqli', 'mysqlnd', 'odbc', 'openssl', 'pcntl', 'pcre', 'pdo', 'pdo_dblib',
    'pdo_firebird', 'pdo_mysql', 'pdo_odbc', 'pdo_pgsql', 'pdo_sqlite', 'pgsql', 'phar', 'posix', 'pspell',
    'random', 'readline', 'reflection', 'session', 'shmop', 'simplexml', 'snmp', 'soap', 'sockets',
    'sodium', 'spl', 'sqlite3', 'standard', 'sysvmsg', 'sysvsem', 'sysvshm', 'tidy', 'tokenizer', 'xml',
    'xmlreader', 'xmlwriter', 'xsl', 'zend opcache', 'zip', 'zlib',
];

/**
 * Whether this process may end without PHP's teardown. That teardown is PHP's request shutdown
 * (extensions' hooks, freeing what the function left) and its module shutdown (freeing every function
 * and class table). In a process forked from the zygote, freeing what the zygote built copies each page
 * it writes to: about 2 ms of CPU per invocation here (`perf record`: php_module_shutdown, _int_free,
 * page faults), spent while the next invocation runs. Lambda's managed runtimes never tear down between
 * invocations either. Objects still alive at the end (a PDO in a static property, say) are then not
 * freed by PHP: the kernel closes their connections, and a native object's own cleanup on free (a
 * ZipArchive never closed) does not run.
 */
function canSkipTeardown(): bool
{
    if (!function_exists('posix_kill') || !defined('SIGKILL')) {
        return false;
    }
    $loaded = array_map('strtolower', [...get_loaded_extensions(), ...get_loaded_extensions(true)]);
    return array_diff($loaded, BUNDLED_EXTENSIONS) === [];
}

/**
 * What PHP's teardown would do that a function could notice: a session it started is written, and the
 * streams it left open are closed, newest first (a gzopen()ed file gets its last block, a socket a clean
 * close, a user stream wrapper its stream_close). The shim's own streams stay open for the report, and
 * so do pipes to commands (popen), whose close would wait for the command, as PHP's would only after the
 * answer; the process's end closes them.
 */
function finishWhatIsLeftOpen(): void
{
    try {
        if (function_exists('session_status') && session_status() === PHP_SESSION_ACTIVE) {
            session_write_close();
        }
    } catch (\Throwable) {
        // A session handler's failure is its own; PHP's shutdown would not report it either.
    }
    $own = [STDIN, STDOUT, STDERR, Channels::$control, Channels::$event, Channels::$result, Channels::$go, Channels::$done];
    $own = array_map('intval', array_filter($own, 'is_resource'));
    foreach (array_reverse(get_resources('stream')) as $stream) {
        // Closing a stream closes the ones it wraps (a gzopen()ed file's own file): those are gone.
        if (!is_resource($stream) || in_array((int) $stream, $own, true)) {
            continue;
        }
        try {
            $meta = stream_get_meta_data($stream);
            if (!isset($meta['wrapper_type']) && $meta['stream_type'] === 'STDIO') {
                continue; // a pipe to a command, or from proc_open
            }
            @fclose($stream);
        } catch (\Throwable) {
            // A user stream wrapper's stream_close failed: PHP's shutdown would go on too.
        }
    }
}

/**
 * Output of user code goes to the log. Everything but the result (echo, print, printf, var_dump, output
 * of system() and passthru(), warnings shown on screen) goes through PHP's output layer: this buffer
 * hands every chunk to stderr at once, and user code cannot remove it. A fatal error (memory exhausted,
 * a function declared twice) ends PHP without an exception: it is reported as the failure of the phase
 * it happened in, so the response still says what went wrong.
 */
function setUp(): void
{
    ob_start(
        static function (string $buffer, int $phase): string {
            if ($buffer !== '') {
                fwrite(STDERR, $buffer);
            }
            if ($phase & PHP_OUTPUT_HANDLER_FINAL && Channels::$go !== null) {
                endForked();
            }
            return '';
        },
        1,
        PHP_OUTPUT_HANDLER_CLEANABLE | PHP_OUTPUT_HANDLER_FLUSHABLE,
    );
    register_shutdown_function(static function (): void {
        $phase = Phase::$now;
        $error = error_get_last();
        if ($phase === 'done' || $error === null || !($error['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR))) {
            // Registered now, it runs after every shutdown function the function registered, unless one
            // of them ends PHP (exit(5), an uncaught exception): then that status is the process's.
            register_shutdown_function(static function (): void {
                Channels::$shutdownDone = true;
            });
            return;
        }
        // This failure's report decides the status; nothing after it runs.
        Channels::$shutdownDone = true;
        $errorType = match (true) {
            $phase === 'call' => 'Runtime.FatalError',
            $error['type'] === E_PARSE || $error['type'] === E_COMPILE_ERROR => 'Runtime.UserCodeSyntaxError',
            default => 'Runtime.ImportModuleError',
        };
        reportFailure($errorType, $error['message'], [sprintf('%s(%d)', $error['file'], $error['line'])]);
    });
}

/**
 * Prestarted: says the file is loaded, waits for the go, and takes the invocation's variables.
 * PHP opens php://fd/N as a copy of the descriptor and cannot close the original: the go socket and the
 * context file stay open in this process, the socket at end of file, the file read.
 */
function awaitInvocation($control): void
{
    fwrite($control, 'R');
    fflush($control);
    if (fread($control, 1) !== 'G') {
        // The runtime discarded this process before using it.
        exit(0);
    }
    // The request starts now, not when this process was started or forked, ahead of its event.
    $_SERVER['REQUEST_TIME_FLOAT'] = microtime(true);
    $_SERVER['REQUEST_TIME'] = (int) $_SERVER['REQUEST_TIME_FLOAT'];
    // $_ENV holds the environment only where variables_order says so (php.ini-production: it does not).
    $fillEnv = str_contains((string) ini_get('variables_order'), 'E');
    foreach (explode("\n", (string) file_get_contents('php://fd/' . Channels::$contextFd)) as $line) {
        [$name, $value] = array_pad(explode('=', $line, 2), 2, null);
        if ($value !== null && (str_starts_with($name, 'LAMBDA_') || $name === '_X_AMZN_TRACE_ID')) {
            putenv("$name=$value");
            if ($fillEnv) {
                $_ENV[$name] = $value;
            }
            $_SERVER[$name] = $value;
        }
    }
}

/** Loads the file, waits for the invocation when prepared ahead of it, calls the function, answers. */
function run(string $file, string $name, $control): never
{
    try {
        $function = loadFunction($file, $name);
        if ($control !== null) {
            awaitInvocation($control);
            if ($control !== Channels::$go) {
                fclose($control);
            }
        }
        $event = readEvent();
        $context = new Context();
        Phase::$now = 'call';
        try {
            $result = $function($event, $context);
        } catch (\Throwable $error) {
            reportFailure($error::class, $error->getMessage(), traceLines($error));
        }
        finish(encodeResult($result), 0);
    } catch (HandlerFailure $failure) {
        reportFailure($failure->errorType, $failure->getMessage(), $failure->lines);
    }
}

/**
 * In a process forked by zygote-php.php: its set of descriptors starts at $base (event file, context
 * file, stdout, stderr, go socket); STDIN, STDOUT and STDERR stay the zygote's (the last two go to the
 * log); $done is the zygote's socket for the word that none of the function's code is left to run.
 * Never returns.
 * @param resource|null $done
 */
function runForked(string $file, string $name, int $base, $done): never
{
    Channels::$done = $done;
    Channels::$set = intdiv($base - 4, 5);
    Channels::$control = fopen('php://fd/3', 'w');
    Channels::$event = fopen("php://fd/{$base}", 'r');
    Channels::$contextFd = $base + 1;
    Channels::$result = fopen('php://fd/' . ($base + 2), 'w');
    Channels::$go = fopen('php://fd/' . ($base + 4), 'r+');
    // How it was started, as a php of its own would show it: this file, the handler file, the function.
    $GLOBALS['argv'] = $_SERVER['argv'] = [__FILE__, $file, $name];
    $GLOBALS['argc'] = $_SERVER['argc'] = 3;
    foreach (['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PHP_SELF', 'PATH_TRANSLATED'] as $key) {
        $_SERVER[$key] = __FILE__;
    }
    markProcess();
    setUp();
    run($file, $name, Channels::$go);
}

/**
 * Puts this process's pid in the environment of what the file's top level starts, which runs before
 * the invocation's own variables are set, so that it can be ended with this invocation all the same.
 */
function markProcess(): void
{
    putenv('_SHLAMBDA_PROCESS=' . getmypid());
}

// zygote-php.php loads this file for its functions and calls runForked() in each process it forks.
if (!defined('Shlambda\\Zygote\\ACTIVE')) {
    Channels::$event = STDIN;
    Channels::$result = STDOUT;
    setUp();
    $prestarted = getenv('_SHLAMBDA_SPARE') === '1';
    if ($prestarted) {
        putenv('_SHLAMBDA_SPARE');
        unset($_ENV['_SHLAMBDA_SPARE'], $_SERVER['_SHLAMBDA_SPARE']);
        markProcess();
    }
    run($argv[1], $argv[2], $prestarted ? fopen('php://fd/3', 'r+') : null);
}
