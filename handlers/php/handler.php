<?php
// Shows a PHP function handler: the event as an associative array and a context in, an array out as the JSON response.

function handler($event, $context): array
{
    $name = is_array($event) ? ($event['name'] ?? 'world') : 'world';
    echo "greeting {$name}\n"; // echo goes to the log, never into the response
    return ['message' => "Hello, {$name}!", 'requestId' => $context->awsRequestId];
}
