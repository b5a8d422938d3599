import numpy as np

import npframe


def test_tutorial_network_trains(tutorial_spec, tutorial_data):
    tutorial_spec["standardize"] = True
    net = npframe.Network.from_spec(tutorial_spec)
    history = net.fit(tutorial_data.X, tutorial_data.y, epochs=200)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert net.predict(tutorial_data.X_test).shape == (3000, 3)
    assert np.isfinite(net.evaluate(tutorial_data.X_test, tutorial_data.y_test))
