"""Dashboards: figures logged with the runs, beyond what the MLflow UI shows.

- ``forecasts.plot_forecasts``: forecast vs actual of a few test windows;
- ``confusion.plot_confusion``: confusion matrices of classifiers side by side.
"""
