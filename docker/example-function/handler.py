"""An example Lambda handler for an SQS event-source mapping (Python runtime conventions).

It runs unchanged in the stand-in image next to it and in AWS's own Lambda base image
(public.ecr.aws/lambda/python, handler "handler.handler"). A message whose body contains
"fail" is reported as a batch item failure: with FunctionResponseTypes=ReportBatchItemFailures
only that message returns to the queue.
"""
import json


def handler(event, context):
    failures = []
    for record in event.get("Records", []):
        body = record.get("body", "")
        print(json.dumps({"function": context.function_name, "messageId": record.get("messageId"),
                          "source": record.get("eventSourceARN"), "body": body}), flush=True)
        if "fail" in body:
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
