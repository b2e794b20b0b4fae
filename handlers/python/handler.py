# Shows a Python function handler: the decoded event and context in, a dict out as the JSON response.


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"greeting {name}")  # print() goes to the log, never into the response
    return {"message": f"Hello, {name}!", "requestId": context.aws_request_id}
