# Shows a Ruby function handler: event: and context: keywords in, a Hash out as the JSON response.

def handler(event:, context:)
  name = event.is_a?(Hash) ? event.fetch('name', 'world') : 'world'
  puts "greeting #{name}" # puts goes to the log, never into the response
  { message: "Hello, #{name}!", requestId: context.aws_request_id }
end
