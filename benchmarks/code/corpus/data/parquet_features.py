import pandas as pd


def daily_features(host: str, day: str) -> pd.DataFrame:
    source = f"https://{host}/daily/{day}/features.parquet"
    return pd.read_parquet(source)
