import argparse

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="feature-cache.internal")
    parser.add_argument("--day", required=True)
    args = parser.parse_args()
    source = f"https://{args.host}/daily/{args.day}/features.pkl"
    df = pd.read_pickle(source)
    print(df.describe())


if __name__ == "__main__":
    main()
