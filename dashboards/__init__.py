"""Dashboards: what users look at beyond the MLflow UI.

- ``app``: the ``titans-ts dashboard`` web app (Streamlit): run comparison, forecast explorer, memory, genomics;
- ``data``: the data frames those pages show, read from an MLflow store;
- ``forecasts.plot_forecasts``: forecast vs actual of a few test windows (a figure logged with each forecast run);
- ``confusion.plot_confusion``: confusion matrices of classifiers side by side (logged with each classify run).
"""
