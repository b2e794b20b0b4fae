// Shows an async Node.js function handler: the event and context in, the resolved object out as the JSON response.

export async function handler(event, context) {
  const name = event?.name ?? 'world';
  console.log(`greeting ${name}`); // console.log goes to the log, never into the response
  return { message: `Hello, ${name}!`, requestId: context.awsRequestId };
}
