import tarfile
import tempfile

from fastapi import FastAPI, UploadFile

app = FastAPI()


@app.post("/datasets")
async def upload_dataset(archive: UploadFile):
    workdir = tempfile.mkdtemp(prefix="ds-")
    with tarfile.open(fileobj=archive.file) as tf:
        tf.extractall(path=workdir)
    return {"path": workdir}
