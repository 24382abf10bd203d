-- Runs once, when the postgres service creates its data volume: the Optuna study storage is POSTGRES_DB
-- (default "optuna"); MLflow's backend store and titans-ts serve's series state get databases of their own.
CREATE DATABASE mlflow;
CREATE DATABASE serve;
