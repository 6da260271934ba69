# The grader as a container, for any CI and as a Dask worker: see the README's "A container".
# Pinned like the project: the base image by version, the packages by requirements-*.txt. Runs as a user, not
# root. It holds the hidden cases, the holdout and the reference: push it to a private registry only.
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/messmaster
COPY requirements-runtime.txt requirements-cluster.txt ./
# torch from its CPU index first: PyPI's Linux wheel of the same version is a CUDA build of several GB
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install --no-cache-dir -r requirements-cluster.txt

# the grader installed as a package: `messmaster-grader` (and `python -m grader`) work from any folder
COPY pyproject.toml ./
COPY grader grader
COPY assignment assignment
COPY reference reference
COPY secret secret
COPY student_template student_template
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build *.egg-info

COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN useradd --create-home --uid 10001 grader && mkdir /class && chown grader /class
USER grader
WORKDIR /class
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["--help"]
