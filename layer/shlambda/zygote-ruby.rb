# Forks one process per invocation from a Ruby that has loaded the shim's libraries, but nothing of the
# function: each forked process loads the handler file itself, so no module state (an open connection,
# say) is shared between invocations, and none waits for Ruby and its gems to start (~80 ms). The
# protocol is zygote-python.py's:
#   ruby zygote-ruby.rb <shim> <handler file> <function name> <sets>
# fd 3 is the runtime's socket, for lines R, P <set> <pid>, X <set> <code> and K <set> <signal>; set i
# is at fds 4 + 5i: event file, context file, stdout, stderr, go socket. Ruby can only dup2 onto an fd it
# holds, so a forked process keeps its context file where it is and names it in _SHLAMBDA_SPARE.

# What the shim requires, loaded once here so that each fork finds it loaded.
require 'json'

# Locals, not constants: a constant here would be the handler file's too (Object's), and one it defines
# of the same name would be a redefinition.
set_size = 5
first_set_fd = 4

shim, file, function, sets = ARGV[0], ARGV[1], ARGV[2], Integer(ARGV[3])
# The shim compiled once (CRuby): a forked process runs its top level without parsing it again, about
# 0.5 ms of CPU each (a 960-invocation run: latency p50 3.83-3.88 -> 3.10-3.17 ms).
shim_code = defined?(RubyVM::InstructionSequence) ? RubyVM::InstructionSequence.compile_file(shim) : nil
last_fd = first_set_fd + (set_size * sets) - 1

# Requires what SHLAMBDA_PRELOAD names (aws-sdk-s3, say), once, for every process forked after: what a
# function requires, each of its processes requires again, a large gem's hundreds of milliseconds
# included. The forked processes' shim requires them again (function-ruby.rb), which is then a look-up,
# and which reports one that fails: here it is passed over. They resolve as the file's own requires do.
preload = ENV.fetch('SHLAMBDA_PRELOAD', '').split(',').map(&:strip).reject(&:empty?)
unless preload.empty?
  $LOAD_PATH.unshift(File.dirname(file))
  # What a library prints while it loads goes to the log (this process's stdout is /dev/null).
  $stdout.reopen($stderr)
  preload.each do |name|
    require name
  rescue Exception # rubocop:disable Lint/RescueException -- reported by each forked process, which tries again
    nil
  end
  $stdout.flush
end
control = IO.for_fd(3, 'w', autoclose: false)
control.sync = true
control.write("R\n")

sets.times do |index|
  base = first_set_fd + (set_size * index)
  $stderr.flush
  pid = Process.fork do
    Process.setpgid(0, 0)
    $stdin.reopen(IO.for_fd(base, autoclose: false))
    $stdout.reopen(IO.for_fd(base + 2, autoclose: false))
    $stderr.reopen(IO.for_fd(base + 3, autoclose: false))
    # reopen takes the new IO's buffering: unbuffered again, as Ruby's stderr is, so that no log line
    # waits in a buffer that exit! or a kill would lose.
    $stderr.sync = true
    control.reopen(IO.for_fd(base + 4, autoclose: false))
    # Its set's originals but the context file, and the sets still to come; earlier sets' numbers were
    # closed before this fork, and Ruby may have reused them since. (An IO made with autoclose: false
    # does not close its fd even on #close: these must be plain.)
    (base..last_fd).each do |fd|
      IO.for_fd(fd).close unless fd == base + 1
    rescue SystemCallError
      nil
    end
    ENV['_SHLAMBDA_SPARE'] = (base + 1).to_s
    # What the file's top level starts inherits this, so it can be ended with this invocation.
    ENV['_SHLAMBDA_PROCESS'] = Process.pid.to_s
    ARGV.replace([file, function])
    $PROGRAM_NAME = shim
    begin
      shim_code ? shim_code.eval : load(shim)
    rescue SystemExit
      raise
    rescue Exception => e # rubocop:disable Lint/RescueException -- a fork must never return to the loop
      $stderr.write("shlambda: the forked Ruby process failed: #{e.class}: #{e.message}\n")
      exit!(1)
    end
    exit!(0)
  end
  begin
    # Also here, so the group exists before the runtime hears of it.
    Process.setpgid(pid, pid)
  rescue SystemCallError
    nil # the child got there first, or has already exited
  end
  control.write("P #{index} #{pid}\n")
  # The runtime holds the other ends; copies kept here would keep a finished invocation's output open.
  (base...(base + set_size)).each { |fd| IO.for_fd(fd).close }
  _, status = Process.wait2(pid)
  begin
    Process.kill('KILL', -pid)
  rescue SystemCallError
    nil # the group is already empty
  end
  if status.signaled?
    control.write("K #{index} #{status.termsig}\n")
  else
    control.write("X #{index} #{status.exitstatus}\n")
  end
end
