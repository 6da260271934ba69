#!/bin/sh
# The image's entrypoint: the grader's command line (`docker run IMAGE grade ...`), or, when the first
# argument is a Dask command (as Dask's Kubernetes worker and scheduler specs pass them: `dask-worker ...`,
# `dask worker ...`) or a program to run, that program, so that one image serves both.
set -e
case "${1:-}" in
    dask | dask-worker | dask-scheduler | python | python3 | sh | bash) exec "$@" ;;
esac
exec messmaster-grader "$@"
