from huggingface_hub import hf_hub_download
from joblib import load as jl_load

REPO = "acme-ml/churn-gbm"


def get_model(repo: str = REPO):
    local = hf_hub_download(repo, "model.joblib")
    return jl_load(local)


def score(rows):
    clf = get_model()
    return clf.predict_proba(rows)[:, 1]
