# frozen_string_literal: true

# Loads a Ruby handler file and calls one method in it the way Lambda's managed Ruby runtime does.
#
# Contract (the same for the Python, PHP, Perl and Node shims):
#   ruby function-ruby.rb <absolute path of the handler file> <method name>
#   cwd is the task root. The environment holds LAMBDA_TASK_ROOT, LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS
#   (epoch ms), LAMBDA_INVOKED_FUNCTION_ARN, _X_AMZN_TRACE_ID, LAMBDA_CLIENT_CONTEXT and
#   LAMBDA_COGNITO_IDENTITY (JSON), LAMBDA_TENANT_ID (the optional ones only when Lambda sent them) and
#   Lambda's own AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, _STREAM_NAME.
#   stdin is the event (a regular file): JSON, decoded; empty -> nil; anything else -> a String.
#   The method is called as fn(event:, context:). stdout carries only the result: the JSON of the
#   return value, no trailing newline, exit 0. Anything the user code prints goes to stderr, the log.
#   On failure stdout carries {"errorType", "errorMessage", "stackTrace"} and the exit status is 1.
#   With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded first,
#   then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts). A
#   process forked by zygote-ruby.rb gets the context file's fd number in _SHLAMBDA_SPARE instead of 1.

require 'json'

module Shlambda
  # The response gets a private copy of fd 1; fd 1 itself becomes stderr, so puts, p, $stdout.write
  # and child processes that inherit stdout all end up in the log instead of corrupting the response.
  RESULT = STDOUT.dup.tap(&:binmode)
  STDOUT.reopen(STDERR)
  STDOUT.sync = true
  # Frames of the layer's own files (this shim, the zygote that loads it) are left out of stack traces.
  LAYER_DIR = "#{File.dirname(File.expand_path(__FILE__))}/"

  # The managed runtime's context object: same reader names, same (string) types.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :function_name, :function_version,
                :memory_limit_in_mb, :log_group_name, :log_stream_name, :identity, :client_context,
                :tenant_id, :deadline_ms

    def initialize(env)
      @aws_request_id = env['LAMBDA_REQUEST_ID']
      @invoked_function_arn = env['LAMBDA_INVOKED_FUNCTION_ARN']
      @function_name = env['AWS_LAMBDA_FUNCTION_NAME']
      @function_version = env['AWS_LAMBDA_FUNCTION_VERSION']
      @memory_limit_in_mb = env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @log_group_name = env['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = env['AWS_LAMBDA_LOG_STREAM_NAME']
      @identity = Shlambda.json_env(env, 'LAMBDA_COGNITO_IDENTITY')
      @client_context = Shlambda.json_env(env, 'LAMBDA_CLIENT_CONTEXT')
      @tenant_id = env['LAMBDA_TENANT_ID']
      @deadline_ms = env['LAMBDA_DEADLINE_MS'].to_i
    end

    def get_remaining_time_in_millis # rubocop:disable Naming/AccessorMethodName -- the managed runtime's name
      [@deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond), 0].max
    end
  end

  # A failure that is not the user's exception: its errorType is a Runtime.* name.
  class HandlerFailure < StandardError
    attr_reader :error_type, :trace

    def initialize(error_type, message, trace = [])
      super(message)
      @error_type = error_type
      @trace = trace
    end
  end

  module_function

  def json_env(env, name)
    raw = env[name]
    return nil if raw.nil? || raw.empty?

    JSON.parse(raw)
  rescue JSON::ParserError
    nil
  end

  # How deep an event's (and a response's) JSON may nest: PHP's and Perl's limit (Ruby's default is 100).
  EVENT_DEPTH = 512

  def read_event
    raw = STDIN.binmode.read.force_encoding(Encoding::UTF_8)
    return nil if raw.strip.empty?

    JSON.parse(raw, max_nesting: EVENT_DEPTH)
  rescue JSON::NestingError
    # JSON all the same: handed over as a String, it would be a different event.
    raise HandlerFailure.new(
      'Runtime.UnmarshalError', "Unable to unmarshal input: the event is nested more than #{EVENT_DEPTH} levels deep"
    )
  rescue JSON::ParserError
    raw.scrub
  end

  # Requires what SHLAMBDA_PRELOAD names, before the file, reporting one that fails as the file's load
  # error. The zygote has required them already (zygote-ruby.rb), so in its processes this finds them
  # loaded; one that failed there fails here again, with its error.
  def preload_libraries(env, file)
    env.fetch('SHLAMBDA_PRELOAD', '').split(',').map(&:strip).reject(&:empty?).each do |name|
      if name.match?(/\s/)
        raise HandlerFailure.new('Runtime.InvalidConfig',
                                 "SHLAMBDA_PRELOAD holds #{name.inspect}, which is not a library name: " \
                                 'give names to require separated by commas (aws-sdk-s3,json)')
      end
      # Required in the zygote, the file would not load again in each process (require loads once).
      resolved = begin
        $LOAD_PATH.respond_to?(:resolve_feature_path) && $LOAD_PATH.resolve_feature_path(name)
      rescue LoadError
        nil # not found: the require below says so
      end
      if resolved && File.expand_path(resolved[1]) == File.expand_path(file)
        raise HandlerFailure.new('Runtime.InvalidConfig',
                                 "SHLAMBDA_PRELOAD names the handler file itself (#{name}), which loads in each " \
                                 "invocation's own process: name only the libraries it uses")
      end
      begin
        require name
      rescue StandardError, ScriptError => e
        raise HandlerFailure.new('Runtime.ImportModuleError',
                                 "Unable to require '#{name}' named in SHLAMBDA_PRELOAD: #{e.class}: #{e.message}",
                                 user_frames(e))
      end
    end
  end

  def load_method(file, name)
    # The handler's own requires (require 'helper') resolve beside it, as in the managed runtime.
    $LOAD_PATH.unshift(File.dirname(file)) unless $LOAD_PATH.first == File.dirname(file)
    preload_libraries(ENV, file)
    before = Object.private_instance_methods(false)
    begin
      require file
    rescue SyntaxError => e
      # The message holds the location and the offending source line: that is the useful trace.
      lines = e.message.lines.map(&:chomp).reject(&:empty?)
      raise HandlerFailure.new('Runtime.UserCodeSyntaxError',
                               "Syntax error in #{File.basename(file)}: #{lines.first}", lines)
    rescue StandardError, ScriptError => e
      raise HandlerFailure.new('Runtime.ImportModuleError',
                               "Unable to load #{File.basename(file)}: #{e.class}: #{e.message}", user_frames(e))
    end
    # A top-level def is a private method of Object; anything public there came from a library.
    return name.to_sym if Object.private_method_defined?(name, false) || Object.method_defined?(name, false)

    defined = (Object.private_instance_methods(false) - before).sort
    listing = defined.empty? ? 'it defines no methods' : "it defines: #{defined.join(', ')}"
    raise HandlerFailure.new('Runtime.HandlerFunctionNotFound',
                             "Handler method '#{name}' is not defined in #{File.basename(file)} (#{listing})")
  end

  def user_frames(error)
    (error.backtrace || []).reject { |line| line.start_with?(LAYER_DIR) || line.include?('/rubygems/') }
  end

  def encode_result(result)
    JSON.generate(result, max_nesting: EVENT_DEPTH)
  rescue StandardError => e
    raise HandlerFailure.new('Runtime.MarshalError', "Unable to marshal response: #{e.class}: #{e.message}")
  end

  def report_failure(error_type, message, trace)
    message = message.to_s.dup.force_encoding(Encoding::UTF_8).scrub
    trace = trace.map { |line| line.to_s.dup.force_encoding(Encoding::UTF_8).scrub }
    STDERR.write(["[ERROR] #{error_type}: #{message}", *trace.map { |line| "  #{line}" }].join("\n"), "\n")
    finish(JSON.generate({ errorType: error_type, errorMessage: message, stackTrace: trace }), 1)
  end

  def finish(data, status)
    RESULT.write(data)
    RESULT.close
    exit(status)
  end

  # Prestarted: says the file is loaded, waits for the go, and takes the invocation's variables. The
  # context file is fd 4, or another when forked by zygote-ruby.rb (Ruby cannot dup2 onto a closed fd).
  def await_invocation(context_fd)
    control = IO.for_fd(3, 'r+', autoclose: true)
    control.syswrite('R')
    go = begin
      control.sysread(1)
    rescue EOFError, SystemCallError
      nil
    end
    # The runtime discarded this process before using it.
    exit!(0) unless go == 'G'
    control.close
    context = IO.for_fd(context_fd, 'rb', autoclose: true)
    lines = context.read.split("\n")
    context.close
    lines.each do |line|
      name, value = line.split('=', 2)
      ENV[name] = value if value && (name.start_with?('LAMBDA_') || name == '_X_AMZN_TRACE_ID')
    end
  end

  def run(file, name)
    method = load_method(file, name)
    spare = ENV.delete('_SHLAMBDA_SPARE')
    await_invocation(spare.match?(/\A\d+\z/) && spare != '1' ? Integer(spare) : 4) if spare
    event = read_event
    context = LambdaContext.new(ENV)
    begin
      # Called on the top-level object, where the file's defs live, with the managed runtime's keywords.
      result = TOPLEVEL_BINDING.receiver.__send__(method, event: event, context: context)
    rescue SystemExit, SignalException
      raise
    rescue Exception => e # rubocop:disable Lint/RescueException -- every failure of user code is reported
      report_failure(e.class.name || e.class.inspect, e.message, user_frames(e))
    end
    finish(encode_result(result), 0)
  rescue HandlerFailure => e
    report_failure(e.error_type, e.message, e.trace)
  end
end

Shlambda.run(ARGV[0], ARGV[1])
