import cloudpickle
import redis

r = redis.Redis(host="queue", port=6379)


def run_forever() -> None:
    while True:
        _, message = r.blpop("inference-tasks")
        fn, args = cloudpickle.loads(message)
        result = fn(*args)
        r.rpush("inference-results", repr(result))


if __name__ == "__main__":
    run_forever()
