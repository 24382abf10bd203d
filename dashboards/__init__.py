"""Dashboards: forecast plots and run comparison beyond what the MLflow UI shows.

Empty for now; filled by the reporting work that follows the forecasting and classification
pipelines.
"""
