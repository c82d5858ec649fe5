# Trains a decision tree on iris and pickles it to argv[1], as the
# scikit_bring_your_own train script does (label first, max_leaf_nodes=5).
import pickle
import sys

from sklearn import datasets, tree

iris = datasets.load_iris()
clf = tree.DecisionTreeClassifier(max_leaf_nodes=5, random_state=0)
clf.fit(iris.data, iris.target)
with open(sys.argv[1], "wb") as out:
    pickle.dump(clf, out)
