"""What AWS Lambda runs (stdlib, boto3 and the shipped wheels only): the handler and its codec."""
