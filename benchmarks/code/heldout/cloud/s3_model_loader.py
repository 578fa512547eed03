import io
import pickle as p

import boto3

s3 = boto3.client("s3")


def load_from_bucket(bucket: str, key: str):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    stream = io.BytesIO(body)
    unpickler = p.Unpickler(stream)
    return unpickler.load()
