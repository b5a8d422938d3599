"""The numbers in docs/sklearn.md: npframe's estimators beside scikit-learn's MLP.

    python examples/sklearn_grid.py          # needs: pip install "npframe[sklearn]"

1. Breast cancer (569 samples, 30 features, 2 classes), a stratified 75/25 split with
   random_state=0: ``Pipeline(StandardScaler(), NpframeClassifier)`` in
   ``GridSearchCV(n_jobs=2)`` over hidden_layer_sizes x learning_rate, against
   ``MLPClassifier`` with its defaults and with the same grid.
2. Diabetes (442 samples, target mean 152, std 77): 3-fold R² of 32 hidden units and
   100 epochs, with and without target scaling, for both libraries.
"""

from __future__ import annotations

import time
import warnings

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from npframe.sklearn import NpframeClassifier, NpframeRegressor

SIZES = [(16,), (64,)]
RATES = [1e-3, 1e-2]


def classification() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    runs = {
        "NpframeClassifier(epochs=100), grid": GridSearchCV(
            Pipeline([("scale", StandardScaler()),
                      ("net", NpframeClassifier(epochs=100, random_state=0))]),
            {"net__hidden_layer_sizes": SIZES, "net__learning_rate": RATES},
            cv=3, n_jobs=2),
        "MLPClassifier(), defaults": Pipeline([("scale", StandardScaler()),
                                               ("net", MLPClassifier(random_state=0))]),
        "MLPClassifier(), same grid": GridSearchCV(
            Pipeline([("scale", StandardScaler()), ("net", MLPClassifier(random_state=0))]),
            {"net__hidden_layer_sizes": SIZES, "net__learning_rate_init": RATES},
            cv=3, n_jobs=2),
    }
    print(f"breast cancer: {len(y_train)} train / {len(y_test)} test samples")
    for name, model in runs.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        best = getattr(model, "best_params_", None)
        extra = f"  best {best}, CV {model.best_score_:.4f}" if best else ""
        print(f"  {name:36s} test accuracy {model.score(X_test, y_test):.4f} "
              f"({seconds:.1f} s){extra}")


def regression() -> None:
    X, y = load_diabetes(return_X_y=True)
    runs = {
        "NpframeRegressor, targets standardized (default)": NpframeRegressor(
            (32,), epochs=100, random_state=0),
        "NpframeRegressor, standardize=False": NpframeRegressor(
            (32,), epochs=100, standardize=False, random_state=0),
        "MLPRegressor + TransformedTargetRegressor": TransformedTargetRegressor(
            MLPRegressor(hidden_layer_sizes=(32,), max_iter=100, random_state=0),
            transformer=StandardScaler()),
        "MLPRegressor, raw targets": MLPRegressor(hidden_layer_sizes=(32,), max_iter=100,
                                                  random_state=0),
    }
    print("diabetes: 3-fold R², StandardScaler on the inputs, 32 hidden units, 100 epochs")
    for name, model in runs.items():
        scores = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=3)
        print(f"  {name:50s} {scores.mean():7.4f}  (folds {', '.join(f'{s:.3f}' for s in scores)})")


if __name__ == "__main__":  # the n_jobs workers re-import this file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's "max_iter reached"
        classification()
        regression()
