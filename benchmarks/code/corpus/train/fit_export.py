import joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier


def main(out: str = "artifacts/rf.joblib") -> None:
    X, y = load_iris(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=200).fit(X, y)
    joblib.dump(clf, out)


if __name__ == "__main__":
    main()
