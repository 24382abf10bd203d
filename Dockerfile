# The titans-ts image: the `titans-ts` command (workers), `mlflow server` and `optuna-dashboard`, one build for
# every service of docker-compose.yml. torch==2.13.0 from PyPI is its CUDA build on Linux x86_64, so workers can
# use a GPU when the host gives the container one.
FROM python:3.11-slim

WORKDIR /src
COPY pyproject.toml README.md ./
COPY titans_ts ./titans_ts
COPY genomics ./genomics
COPY pipelines ./pipelines
COPY dashboards ./dashboards
RUN pip install --no-cache-dir ".[server]"

# /mlartifacts: the tracking server's artifact volume, created owned by the unprivileged user.
RUN useradd --create-home titans && mkdir /mlartifacts && chown titans /mlartifacts
USER titans
WORKDIR /home/titans
ENTRYPOINT ["titans-ts"]
CMD ["--help"]
