"""On a moto server started with INITIAL_NO_AUTH_ACTION_COUNT (servers.sh
start-moto-auth): creates an IAM user allowed s3:*, its access key and a bucket
`authb`, and prints them as env lines. Every later request to that server needs a
valid SigV4 signature, so a wrong secret gets 403 SignatureDoesNotMatch.
Usage: python moto_auth.py ENDPOINT"""
import json
import sys

import boto3

ep = sys.argv[1]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="revleak")
iam.put_user_policy(
    UserName="revleak",
    PolicyName="s3",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    ),
)
key = iam.create_access_key(UserName="revleak")["AccessKey"]
good = boto3.client(
    "s3",
    endpoint_url=ep,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
good.create_bucket(Bucket="authb")
print(f"S3_AUTH_ENDPOINT={ep}")
print(f"S3_AUTH_KEY_ID={key['AccessKeyId']}")
print(f"S3_AUTH_SECRET={key['SecretAccessKey']}")
