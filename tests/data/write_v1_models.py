"""Written with npframe 0.1 (format 1) to tests/data/: old model files must keep loading."""
import sys

import numpy as np

import npframe

print(npframe.__file__, file=sys.stderr)
out = sys.argv[1]
data = npframe.registry.create("dataset", "tutorial")
cases = np.array([[30.0, 70.0], [70.0, 30.0], [3.0, 5.0]])
specs = {
    "v1_tutorial_adam": dict(input=2, seed=42, loss="mse", initializer="he", standardize=True,
        optimizer={"name": "adam", "learning_rate": 0.01}, metrics=["mae"],
        schedule={"name": "cosine", "epochs": 10},
        layers=[{"units": 4, "activation": "relu"}, {"units": 4, "activation": "relu"},
                {"units": 3, "activation": "linear"}]),
    "v1_float32_momentum": dict(input=2, seed=7, dtype="float32",
        optimizer={"name": "momentum", "learning_rate": 0.001, "momentum": 0.9},
        layers=[{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "linear",
                                                       "initializer": "glorot_uniform"}]),
}
expected = {}
for name, spec in specs.items():
    net = npframe.Network.from_spec(spec)
    X, y = data.X[:500], data.y[:500]
    net.fit(X, y, epochs=3, batch_size=64)
    net.save(f"{out}/{name}.npz")
    pred = net.predict(cases)
    net.fit(X, y, epochs=2, batch_size=64)
    np.savez(f"{out}/{name}.expected.npz", predictions=pred,
             **{f"resumed_{i}": w for i, w in enumerate(net.get_weights())})
