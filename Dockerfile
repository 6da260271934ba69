# The grader as a container, for any CI: `docker run --rm -v "$PWD:/class" IMAGE grade /class/submissions --out /class/grades`.
# Pinned like the project: the base image by version, the packages by requirements.txt. Runs as a user, not root.
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/messmaster
COPY requirements.txt .
# torch from its CPU index first: PyPI's Linux wheel of the same version is a CUDA build of several GB
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install --no-cache-dir -r requirements.txt

COPY grader grader
COPY reference reference
COPY secret secret
COPY student_template student_template

RUN useradd --create-home --uid 10001 grader
USER grader
ENTRYPOINT ["python", "-m", "grader"]
CMD ["--help"]
