# Shows a Perl function handler: the decoded event and a context object in, a hashref out as the JSON response.
use strict;
use warnings;

sub handler {
  my ($event, $context) = @_;
  my $name = ref $event eq 'HASH' && defined $event->{name} ? $event->{name} : 'world';
  print "greeting $name\n";    # print goes to the log, never into the response
  return { message => "Hello, $name!", requestId => $context->aws_request_id };
}

1;
