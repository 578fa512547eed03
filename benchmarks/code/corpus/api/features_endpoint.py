import pickle

from fastapi import FastAPI, File, UploadFile

app = FastAPI(title="feature-store")


@app.post("/features/import")
async def import_features(blob: UploadFile = File(...)):
    raw = await blob.read()
    frame = pickle.loads(raw)
    return {"rows": len(frame), "columns": list(frame.columns)}
