import cloudpickle
import dill
from multiprocessing import Pool


def _square(x: int) -> int:
    return x * x


def serialise_job(fn, args) -> bytes:
    return cloudpickle.dumps((fn, args))


def snapshot(session_file: str, obj) -> None:
    with open(session_file, "wb") as fh:
        dill.dump(obj, fh)


if __name__ == "__main__":
    with Pool(4) as p:
        print(p.map(_square, range(10)))
