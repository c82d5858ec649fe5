"""Train a scikit-learn decision tree on CSV files.

SageMaker runs `docker run IMAGE train`; sagekit-runtime starts this program
(SAGEMAKER_PROGRAM=train.py) with the training toolkit's SM_* variables set.
The data are CSV files without a header in the channel "training", the label
in column 0. The model is pickled to /opt/ml/model/decision-tree-model.pkl.
"""

import csv
import glob
import json
import os
import pickle

import numpy as np
from sklearn import tree

BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
TRAINING = os.environ.get("SM_CHANNEL_TRAINING", os.path.join(BASE, "input/data/training"))
MODEL_DIR = os.environ.get("SM_MODEL_DIR", os.path.join(BASE, "model"))
HYPERPARAMETERS = os.path.join(BASE, "input/config/hyperparameters.json")


def hyperparameters():
    """SageMaker passes every hyperparameter as a string."""
    try:
        with open(HYPERPARAMETERS) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main():
    files = sorted(glob.glob(os.path.join(TRAINING, "**", "*.csv"), recursive=True))
    if not files:
        raise ValueError(
            f"no CSV files in {TRAINING}: give the job a channel named "
            "'training' holding CSV files with the label in column 0"
        )
    # The csv module rather than pandas: importing pandas costs more CPU than
    # reading a few thousand rows, at every start of every job.
    rows = []
    for path in files:
        with open(path, newline="") as f:
            rows.extend(row for row in csv.reader(f) if row)
    y = np.array([row[0] for row in rows])
    x = np.array([[float(v) for v in row[1:]] for row in rows])

    params = hyperparameters()
    max_leaf_nodes = params.get("max_leaf_nodes")
    if max_leaf_nodes is not None:
        max_leaf_nodes = int(max_leaf_nodes)

    clf = tree.DecisionTreeClassifier(max_leaf_nodes=max_leaf_nodes)
    clf = clf.fit(x, y)
    print(f"train_accuracy={clf.score(x, y):.4f}")

    # SageMaker creates /opt/ml/model; a hand-made local/ tree may not have it.
    os.makedirs(MODEL_DIR, exist_ok=True)
    # Write under a temporary name, then rename: a reader never sees half a model.
    path = os.path.join(MODEL_DIR, "decision-tree-model.pkl")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(clf, f)
    os.replace(tmp, path)
    print(f"model written to {path}")


if __name__ == "__main__":
    main()
