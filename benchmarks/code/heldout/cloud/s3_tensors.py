import boto3
from safetensors import safe_open

s3 = boto3.client("s3")


def load_from_bucket(bucket: str, key: str, dest: str = "/tmp/model.safetensors") -> dict:
    s3.download_file(bucket, key, dest)
    out = {}
    with safe_open(dest, framework="pt") as f:
        for name in f.keys():
            out[name] = f.get_tensor(name)
    return out
