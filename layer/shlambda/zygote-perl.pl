# Forks one process per invocation from a Perl that has compiled the shim and loaded its modules, but
# nothing of the function: each forked process loads the handler file itself, so no module state (an
# open database handle, say) is shared between invocations. The protocol is zygote-python.py's:
#   perl zygote-perl.pl <shim> <handler file> <function name> <sets>
# fd 3 is the runtime's socket, for lines R, P <set> <pid>, X <set> <code> and K <set> <signal>; set i
# is at fds 4 + 5i: event file, context file, stdout, stderr, go socket.

# Its own package: the handler file loads into main in the forked process, where a sub of the same
# name would be a redefinition.
package Shlambda::Zygote;

use strict;
use warnings;
use POSIX ();

# What the shim uses, loaded once here so that each fork finds it loaded (JSON::PP with the shim's code
# below, Cpanel::JSON::XS after the first fork).
use Scalar::Util ();
use Time::HiRes ();

my ($shim, $file, $function, $sets) = @ARGV;

# The shim's code, compiled once: a forked process only calls it.
{
  no warnings 'once';
  $Shlambda::Shim::PRELOAD = 1;
}
do $shim;
die "shlambda: cannot compile $shim: $@\n" if $@;
# Loads the modules SHLAMBDA_PRELOAD names (Paws, say), once, for every process forked after: what a
# function uses, each of its processes loads again. The forked processes' shim loads them again
# (function-perl.pl), which is then a look-up in %INC, and which reports one that fails: here it is
# passed over. They resolve as the file's own modules do.
my @preload = grep {/\A\w+(?:::\w+)*\z/} map { s/\A\s+|\s+\z//gr } split /,/, $ENV{SHLAMBDA_PRELOAD} // '';
if (@preload) {
  my $dir = $file =~ s{/[^/]*\z}{}r;
  unshift @INC, $dir if length $dir;
  # What a module prints while it loads goes to the log (this process's stdout is /dev/null).
  open(STDOUT, '>&', \*STDERR) or die "shlambda: cannot send stdout to the log: $!\n";
  for my $name (@preload) {
    my $path = ($name =~ s{::}{/}gr) . '.pm';
    next if eval { require $path; 1 };
    # A failed require leaves its files in %INC as undef, and a second require of one then dies with
    # "Attempt to reload": forgotten, each fork's require fails again with the module's own error.
    delete $INC{$_} for grep { !defined $INC{$_} } keys %INC;
  }
  STDOUT->flush;
}

my $set_size = 5;
my $first_set_fd = 4;
my $last_fd = $first_set_fd + $set_size * $sets - 1;

open(my $control, '>&=', 3) or die "shlambda: no control socket on fd 3: $!\n";
$control->autoflush(1);
print {$control} "R\n";

# Forks the process for one set; in the parent, closes the set's descriptors and returns the pid.
sub fork_set {
  my ($index) = @_;
  my $base = $first_set_fd + $set_size * $index;
  my $pid = fork;
  die "shlambda: cannot fork: $!\n" unless defined $pid;
  if ($pid == 0) {
    POSIX::setpgid(0, 0);
    POSIX::dup2($base, 0);
    POSIX::dup2($base + 2, 1);
    POSIX::dup2($base + 3, 2);
    POSIX::dup2($base + 4, 3);
    POSIX::dup2($base + 1, 4);
    # Its set's originals (fd 4 is now the context file) and the sets still to come; earlier sets'
    # numbers were closed before this fork.
    my $from = $base > $first_set_fd ? $base : $first_set_fd + 1;
    POSIX::close($_) for $from .. $last_fd;
    $ENV{_SHLAMBDA_SPARE} = '1';
    # What the file's top level starts inherits this, so it can be ended with this invocation.
    $ENV{_SHLAMBDA_PROCESS} = $$;
    @ARGV = ($file, $function);
    $0 = $shim;
    # start exits when the invocation is done.
    eval { Shlambda::Shim::start($file, $function) };
    print STDERR "shlambda: the shim failed: $@\n";
    POSIX::_exit(1);
  }
  # Also here, so the group exists before the runtime hears of it.
  POSIX::setpgid($pid, $pid);
  print {$control} "P $index $pid\n";
  # The runtime holds the other ends; copies kept here would keep a finished invocation's output open.
  POSIX::close($_) for $base .. $base + $set_size - 1;
  return $pid;
}

# One process ahead: the next invocation's process is forked, and has loaded the handler file, while
# this one runs, so back-to-back invocations never wait for a fork and a load (2.7 -> 2.1 ms).
my @pids = (fork_set(0));
# Not before: the first process's load is the environment's init (function-perl.pl says why).
Shlambda::Shim::load_fast_decoder();
for my $index (0 .. $sets - 1) {
  push @pids, fork_set($index + 1) if $index + 1 < $sets;
  my $pid = $pids[$index];
  waitpid($pid, 0);
  my $status = $?;
  kill '-KILL', $pid;
  if ($status & 127) {
    print {$control} "K $index ", $status & 127, "\n";
  } else {
    print {$control} "X $index ", $status >> 8, "\n";
  }
}
