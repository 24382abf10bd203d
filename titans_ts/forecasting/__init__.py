"""The forecasting application: data (read, split, scale, window), the forecasting model on the Titans backbone, its
training task, online memory, memory traces, the estimator, the pytorch-forecasting model, baselines and metrics."""
