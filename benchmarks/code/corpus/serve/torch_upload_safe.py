import io

import torch
from fastapi import FastAPI, UploadFile

app = FastAPI()
model = torch.jit.load("model/scripted.pt")


@app.post("/predict")
async def predict(tensor: UploadFile):
    data = await tensor.read()
    batch = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    with torch.no_grad():
        return {"scores": model(batch).tolist()}
