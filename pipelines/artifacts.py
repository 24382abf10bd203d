"""The files a run logs for the dashboards, by name; the pipelines write them, the dashboards read them.

Forecast runs (``pipelines.forecast_artifacts``):

``test_forecasts.npz`` (own units unless said): ``channels`` (C_out names), ``dates`` (ISO text, one per test row),
``series`` (test rows × C_out), ``lookback``, ``horizon``, ``windows`` (indices of a few evenly spread test windows;
window i reads rows i … i+L−1 and forecasts rows i+L … i+L+H−1), ``forecast/<model>`` (windows × H × C_out) and
``window_mse/<model>`` (every test window × C_out, MSE on the scaled data) for each model.

``memory_trace.parquet``: ``titans_ts.forecasting.trace.memory_trace`` of the test split, with the ``date`` of each row.

``model/extra_files/live_model.pt`` (in the logged model, so ``runs:/<id>/model`` and ``models:/<name>/<version>``
carry it): ``titans_ts.forecasting.live.LiveModel.save`` of the trained model, its columns, grid step and train-split
standardisation; what ``titans-ts serve`` serves.

Classify runs: ``test_predictions.parquet``, one row per test sequence: ``label`` (true), ``titans`` and ``gb_cnn``
(each model's predicted label).
"""

FORECASTS = "test_forecasts.npz"
TRACE = "memory_trace.parquet"
LIVE_MODEL = "live_model.pt"
PREDICTIONS = "test_predictions.parquet"
