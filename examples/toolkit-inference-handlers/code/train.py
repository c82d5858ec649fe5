"""Script-mode training: a scikit-learn logistic regression on the CSV files
of the channel "train" (label in column 0), saved to SM_MODEL_DIR with
joblib. Hyperparameters arrive as command-line arguments."""

import argparse
import glob
import os

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    # The toolkit passes a one-letter hyperparameter as -C, longer ones as --name.
    parser.add_argument("-C", "--C", dest="C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    files = sorted(glob.glob(os.path.join(args.train or "", "*.csv")))
    if not files:
        raise ValueError("no CSV files in the channel 'train' ({})".format(args.train))
    data = pd.concat(pd.read_csv(f, header=None) for f in files)
    y, X = data.iloc[:, 0].to_numpy(), data.iloc[:, 1:].to_numpy()

    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=args.max_iter))
    model.fit(X, y)
    print("train_accuracy={:.4f}".format(model.score(X, y)))
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
