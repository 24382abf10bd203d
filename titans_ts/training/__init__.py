"""What both applications share to train and record a model: the Lightning fit (``fit``), its settings (``settings``)
and the MLflow wiring (``tracking``)."""
