"""Script-mode training for scikit-learn, in the shape of AWS's SageMaker
scikit-learn samples: hyperparameters arrive as command-line arguments, the
data and model directories as SM_CHANNEL_TRAIN and SM_MODEL_DIR, and the
same file serves the model (model_fn, input_fn) once training is done.

It runs unchanged under the SageMaker training and inference toolkits and
under sagekit-runtime.
"""

import argparse
import os

import joblib
import numpy as np
import pandas as pd
from sklearn import tree


def parse_args():
    parser = argparse.ArgumentParser()
    # Hyperparameters sent by the client are passed as command-line arguments.
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    parser.add_argument("--criterion", type=str, default="gini")
    # Data, model and output directories.
    parser.add_argument("--output-data-dir", type=str, default=os.environ.get("SM_OUTPUT_DATA_DIR"))
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    return parser.parse_args()


def main():
    args = parse_args()
    if not args.train or not os.path.isdir(args.train):
        raise ValueError("There is no channel named 'train': give the job a 'train' channel of CSV files "
                         "(label in column 0)")
    input_files = sorted(os.path.join(args.train, f) for f in os.listdir(args.train) if not f.startswith("."))
    if not input_files:
        raise ValueError("There are no files in {}.\nThis usually indicates that the channel ({}) was "
                         "incorrectly specified, the data specification in S3 was incorrectly specified "
                         "or the role specified does not have permission to access the data."
                         .format(args.train, "train"))
    raw_data = [pd.read_csv(f, header=None, engine="python") for f in input_files]
    train_data = pd.concat(raw_data)

    # Labels are in the first column.
    train_y = train_data.iloc[:, 0]
    train_X = train_data.iloc[:, 1:]

    max_leaf_nodes = args.max_leaf_nodes if args.max_leaf_nodes > 0 else None
    clf = tree.DecisionTreeClassifier(max_leaf_nodes=max_leaf_nodes, criterion=args.criterion, random_state=0)
    clf = clf.fit(train_X.to_numpy(), train_y.to_numpy())
    print("train_accuracy={:.4f}".format(clf.score(train_X.to_numpy(), train_y.to_numpy())))

    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))
    print("saved model.joblib in {}".format(args.model_dir))


def model_fn(model_dir):
    """Deserializes the fitted model."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type):
    """CSV rows of the four measurements; anything else is a 415."""
    if request_content_type.split(";")[0].strip() != "text/csv":
        from sagemaker_inference import errors

        raise errors.GenericInferenceToolkitError(
            415, "{} is not supported: send text/csv".format(request_content_type))
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    return np.atleast_2d(np.genfromtxt(request_body.splitlines(), delimiter=","))


if __name__ == "__main__":
    main()
