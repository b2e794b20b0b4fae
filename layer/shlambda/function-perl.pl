# Loads a Perl handler file and calls one sub in it, as Lambda's managed runtimes call their handlers.
#
# Contract (the same for the Python, PHP, Ruby and Node shims):
#   perl function-perl.pl <absolute path of the handler file> <sub name>
#   cwd is the task root. The environment holds LAMBDA_TASK_ROOT, LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS
#   (epoch ms), LAMBDA_INVOKED_FUNCTION_ARN, _X_AMZN_TRACE_ID, LAMBDA_CLIENT_CONTEXT and
#   LAMBDA_COGNITO_IDENTITY (JSON), LAMBDA_TENANT_ID (the optional ones only when Lambda sent them) and
#   Lambda's own AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, _STREAM_NAME.
#   stdin is the event (a regular file): JSON, decoded (strings as characters); empty -> undef;
#   anything else -> a string. The sub, from package main, is called as fn($event, $context) in scalar
#   context. stdout carries only the result: the JSON of the return value, no trailing newline, exit 0.
#   Anything the user code prints goes to stderr, the log. On failure stdout carries
#   {"errorType", "errorMessage", "stackTrace"} and the exit status is 1.
#   With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded first,
#   then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts).
#   With $Shlambda::Shim::PRELOAD set, loading this file only compiles it (zygote-perl.pl does, once for
#   all the processes it forks, which then call Shlambda::Shim::start).

# `do FILE` compiles the file in the package it is called from: the loader lives in main, where
# handler subs are looked up, and sees none of the shim's lexicals.
package main;

sub Shlambda::Shim::load_file { do $_[0] }

package Shlambda::Context;

use strict;
use warnings;

# The context, with the managed Python and Ruby runtimes' names as methods.
for my $field (
  qw(aws_request_id invoked_function_arn function_name function_version memory_limit_in_mb
  log_group_name log_stream_name identity client_context tenant_id deadline_ms)
  )
{
  no strict 'refs';
  *{"Shlambda::Context::$field"} = sub { $_[0]{$field} };
}

sub new {
  my ($class, $env) = @_;
  return bless {
    aws_request_id       => $env->{LAMBDA_REQUEST_ID},
    invoked_function_arn => $env->{LAMBDA_INVOKED_FUNCTION_ARN},
    function_name        => $env->{AWS_LAMBDA_FUNCTION_NAME},
    function_version     => $env->{AWS_LAMBDA_FUNCTION_VERSION},
    memory_limit_in_mb   => $env->{AWS_LAMBDA_FUNCTION_MEMORY_SIZE},
    log_group_name       => $env->{AWS_LAMBDA_LOG_GROUP_NAME},
    log_stream_name      => $env->{AWS_LAMBDA_LOG_STREAM_NAME},
    identity             => Shlambda::Shim::json_env($env->{LAMBDA_COGNITO_IDENTITY}),
    client_context       => Shlambda::Shim::json_env($env->{LAMBDA_CLIENT_CONTEXT}),
    tenant_id            => $env->{LAMBDA_TENANT_ID},
    deadline_ms          => int($env->{LAMBDA_DEADLINE_MS} || 0),
  }, $class;
}

sub get_remaining_time_in_millis {
  my ($self) = @_;
  require Time::HiRes;
  my $remaining = $self->{deadline_ms} - int(Time::HiRes::time() * 1000);
  return $remaining > 0 ? $remaining : 0;
}

package Shlambda::Shim;

use strict;
use warnings;
use JSON::PP ();
use Scalar::Util ();

# Responses are encoded by JSON::PP, part of core Perl, always: the bytes a function returns must not
# depend on the modules its Perl has (Cpanel::JSON::XS writes 4/2 as 2.0, JSON::PP as 2). Events are
# decoded by Cpanel::JSON::XS when this Perl has it (a 1 MB event: 1.4 ms, JSON::PP 313 ms, where
# encoding the same data took JSON::PP 14 ms), set to decode what JSON::PP decodes: the last of
# duplicate keys wins, and a byte order mark is left to JSON::PP, which does not take it as JSON.
my $JSON = JSON::PP->new->utf8->allow_nonref->convert_blessed;
my ($FAST_DECODER, $FAST_LOADED);

# Loading Cpanel::JSON::XS takes about 1 ms (`hyperfine`: 11.2 -> 12.3 ms for a perl that loads the
# shim's modules), so a zygote loads it only after forking its first process (in a slot's first zygote,
# that process's load is the environment's init); that process loads it for an event large enough to
# pay for it, and decodes smaller ones with JSON::PP, to the same result.
sub load_fast_decoder {
  return $FAST_DECODER if $FAST_LOADED;
  $FAST_LOADED = 1;
  $FAST_DECODER = eval {
    require Cpanel::JSON::XS;
    my $decoder = Cpanel::JSON::XS->new->utf8->allow_nonref;
    $decoder->can('allow_dupkeys') ? $decoder->allow_dupkeys : undef;
  };
  return $FAST_DECODER;
}

sub decode_json_text {
  my ($raw) = @_;
  my $fast = $FAST_LOADED || length($raw) < 65536 ? $FAST_DECODER : load_fast_decoder();
  my $decoder = $fast && substr($raw, 0, 3) ne "\xEF\xBB\xBF" ? $fast : $JSON;
  return $decoder->decode($raw);
}

# Frames of the layer's own files (this shim, the zygote that calls it) are left out of stack traces.
(my $LAYER_DIR = __FILE__) =~ s{/[^/]*\z}{/};
our $PRELOAD;
my $RESULT;

# The response gets a private copy of fd 1; fd 1 itself becomes stderr (Perl reopens STDOUT on the
# same descriptor), so print, printf and child processes that inherit stdout all end up in the log.
sub take_stdout {
  open($RESULT, '>&', \*STDOUT) or die "shlambda: cannot duplicate stdout: $!\n";
  binmode $RESULT;
  open(STDOUT, '>&', \*STDERR) or die "shlambda: cannot point stdout at stderr: $!\n";
  my $previous = select STDOUT;
  $| = 1;
  select $previous;
}

sub json_env {
  my ($raw) = @_;
  return undef if !defined $raw || $raw eq '';
  my $decoded = eval { decode_json_text($raw) };
  return ref $decoded ? $decoded : undef;
}

sub read_event {
  binmode STDIN;
  my $raw = do { local $/; <STDIN> };
  return undef if !defined $raw || $raw !~ /\S/;
  my $event = eval { decode_json_text($raw) };
  return $event if !$@;
  # JSON all the same (both decoders stop at 512 levels): handed over as a string, it would be a
  # different event.
  die {
    type    => 'Runtime.UnmarshalError',
    message => 'Unable to unmarshal input: the event is nested more than 512 levels deep',
    trace   => [],
  } if $@ =~ /maximum nesting level/;
  utf8::decode($raw);
  return $raw;
}

# The frames that led to a die, recorded as it happens (a die carries no stack of its own). Dies that
# user code catches record too; only the record of the exception that reaches the shim is used.
my ($last_error, @last_frames);

sub record_frames {
  my ($error) = @_;
  my @frames;
  my (undef, $file, $line) = caller(0);
  push @frames, "at $file line $line" if index($file, $LAYER_DIR) != 0;
  for (my $level = 1; my @call = caller($level); $level++) {
    next if index($call[1], $LAYER_DIR) == 0;
    push @frames, "$call[3] called at $call[1] line $call[2]";
  }
  ($last_error, @last_frames) = ($error, @frames);
}

sub frames_of {
  my ($error) = @_;
  return [] if !defined $last_error;
  my $same =
    ref $error
    ? ref $last_error && Scalar::Util::refaddr($error) == Scalar::Util::refaddr($last_error)
    : !ref $last_error && $error eq $last_error;
  return $same ? [@last_frames] : [];
}

sub error_message {
  my ($error) = @_;
  return "$error" if !ref $error;
  if (!Scalar::Util::blessed($error)) {
    my $text = eval { JSON::PP->new->allow_nonref->allow_unknown->encode($error) };
    return defined $text ? $text : "$error";
  }
  for my $method (qw(message as_string)) {
    my $text = eval { $error->can($method) && $error->$method };
    return "$text" if defined $text && !ref $text;
  }
  return "$error";
}

# Loads the modules SHLAMBDA_PRELOAD names, before the file, reporting one that fails as the file's load
# error. The zygote has loaded them already (zygote-perl.pl), so in its processes this finds them in
# %INC; one that failed there fails here again, with its error.
sub preload_modules {
  my ($preload) = @_;
  for my $name (grep {length} map { s/\A\s+|\s+\z//gr } split /,/, $preload // '') {
    if ($name !~ /\A\w+(?:::\w+)*\z/) {
      die {
        type    => 'Runtime.InvalidConfig',
        message => "SHLAMBDA_PRELOAD holds '$name', which is not a module name: "
          . 'give module names separated by commas (Paws,DBI)',
        trace => [],
      };
    }
    my $path = ($name =~ s{::}{/}gr) . '.pm';
    local $@;
    next if eval { require $path; 1 };
    my $message = error_message($@);
    chomp $message;
    die {
      type    => 'Runtime.ImportModuleError',
      message => "Unable to load module '$name' named in SHLAMBDA_PRELOAD: $message",
      trace   => [],
    };
  }
}

sub load_sub {
  my ($file, $name) = @_;
  my %before = map { $_ => 1 } defined_subs();
  my $dir = $file =~ s{/[^/]*\z}{}r;
  # Its own modules (use Helper) resolve beside it; Perl stopped searching '.' in 5.26. (The zygote may
  # have put it first already, for SHLAMBDA_PRELOAD.)
  unshift @INC, $dir if length $dir && $INC[0] ne $dir;
  preload_modules($ENV{SHLAMBDA_PRELOAD});
  my $base = $file =~ s{.*/}{}r;
  # Checked first: `do` reports an unreadable file only through $!, which user code may have set too.
  if (!-f $file || !-r _) {
    die { type => 'Runtime.ImportModuleError', message => "Unable to read $base: $!", trace => [] };
  }
  local $@;
  local $SIG{__DIE__} = \&record_frames;
  Shlambda::Shim::load_file($file);
  if ($@) {
    my $message = error_message($@);
    my $trace   = frames_of($@);
    chomp $message;
    # Perl reports a syntax error as a compile failure, which no runtime die produces.
    if ($message =~ /syntax error|compilation (?:errors|aborted)/) {
      my @lines = grep {/\S/} split /\n/, $message;
      die { type => 'Runtime.UserCodeSyntaxError', message => "Syntax error in $base: $lines[0]", trace => \@lines };
    }
    die { type => 'Runtime.ImportModuleError', message => "Unable to load $base: $message", trace => $trace };
  }
  {
    no strict 'refs';
    return \&{"main::$name"} if defined &{"main::$name"};
  }
  my @defined = sort grep { !$before{$_} } defined_subs();
  my $listing = @defined ? 'it defines: ' . join(', ', @defined) : 'it defines no subs';
  die {
    type    => 'Runtime.HandlerFunctionNotFound',
    message => "Handler sub '$name' is not defined in $base ($listing)",
    trace   => [],
  };
}

sub defined_subs {
  no strict 'refs';
  return grep { !/::\z/ && defined &{"main::$_"} } keys %main::;
}

sub encode_result {
  my ($result) = @_;
  my $json = eval { $JSON->encode($result) };
  return $json if defined $json;
  my $why = $@;
  chomp $why;
  die { type => 'Runtime.MarshalError', message => "Unable to marshal response: $why", trace => [] };
}

sub write_result {
  my ($data) = @_;
  print {$RESULT} $data or exit 1;
  close $RESULT;
}

sub report_failure {
  my ($type, $message, $trace) = @_;
  print STDERR join("\n", "[ERROR] $type: $message", map {"  $_"} @$trace), "\n";
  my $json = JSON::PP->new->utf8->allow_nonref->allow_blessed;
  write_result($json->encode({ errorType => $type, errorMessage => $message, stackTrace => $trace }));
  exit 1;
}

# Prestarted: says the file is loaded, waits for the go, and takes the invocation's variables.
sub await_invocation {
  open(my $control, '+<&=', 3) or exit 0;
  syswrite($control, 'R');
  my $go = '';
  # The runtime discarded this process before using it.
  exit 0 unless sysread($control, $go, 1) && $go eq 'G';
  # The program's start time (what -M, -A and -C count from) is the invocation's, not the time this
  # process was started or forked, ahead of its event.
  $^T = time;
  close $control;
  open(my $context, '<&=', 4) or exit 0;
  binmode $context;
  my $text = do { local $/; <$context> } // '';
  close $context;
  for my $line (split /\n/, $text) {
    my ($name, $value) = split /=/, $line, 2;
    $ENV{$name} = $value if defined $value && ($name =~ /^LAMBDA_/ || $name eq '_X_AMZN_TRACE_ID');
  }
}

sub run {
  my ($file, $name) = @_;
  my ($result, $ok);
  my $failure = do {
    local $@;
    eval {
      my $handler = load_sub($file, $name);
      await_invocation() if (delete $ENV{_SHLAMBDA_SPARE} // '') eq '1';
      my $event = read_event();
      my $context = Shlambda::Context->new(\%ENV);
      {
        local $SIG{__DIE__} = \&record_frames;
        $ok = eval { $result = $handler->($event, $context); 1 };
      }
      if (!$ok) {
        my $error   = $@;
        my $message = error_message($error);
        chomp $message;
        my $blessed = Scalar::Util::blessed($error);
        die { type => $blessed // 'Error', message => $message, trace => frames_of($error) };
      }
      $result = encode_result($result);
      1;
    } ? undef : $@;
  };
  if ($failure) {
    $failure = { type => 'Error', message => "$failure", trace => [] } if ref $failure ne 'HASH';
    report_failure($failure->{type}, $failure->{message}, $failure->{trace});
  }
  write_result($result);
  exit 0;
}

# Runs one invocation in this process, whose descriptors are in place; never returns.
sub start {
  my ($file, $name) = @_;
  take_stdout();
  run($file, $name);
}

unless ($PRELOAD) {
  load_fast_decoder();
  start(@ARGV[0, 1]);
}
