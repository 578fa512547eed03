import hashlib
import pickle

import redis

r = redis.Redis()


def cache_result(prompt: str, result: dict) -> None:
    key = "res:" + hashlib.sha256(prompt.encode()).hexdigest()
    r.set(key, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), ex=3600)
