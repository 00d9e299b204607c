"""Local tooling of movierec: the embedded stack, bootstrap, the event-source poller, replay, the CLI.

Nothing here is deployed; on AWS, Lambda's event source mapping, API Gateway and CloudWatch do these jobs.
"""
