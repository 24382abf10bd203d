-- Runs once, when the postgres service creates its data volume: the Optuna study storage is POSTGRES_DB
-- (default "optuna"); MLflow's backend store gets a database of its own.
CREATE DATABASE mlflow;
