#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04): bubblewrap, then
# Python 3.11 and what grading needs (requirements-runtime.txt) in a virtual environment at /opt/messmaster.
# Where the image has no Python 3.11 (Ubuntu 22.04 has 3.10), a standalone CPython 3.11 is installed with uv
# (uv's version pinned here, which fixes the CPython release it installs), from PyPI and uv's own Python
# downloads: no third-party apt repository.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
UV_VERSION=0.13.9
apt-get update -qq
apt-get install -y -qq bubblewrap util-linux >/dev/null
if command -v python3.11 >/dev/null; then
    python3.11 -m venv /opt/messmaster
else
    apt-get install -y -qq python3-venv >/dev/null  # Ubuntu's own, for a venv that holds uv
    python3 -m venv /opt/uv
    /opt/uv/bin/pip install --quiet "uv==$UV_VERSION"
    # readable by every user: the kernels run as users of their own
    export UV_PYTHON_INSTALL_DIR=/opt/python
    /opt/uv/bin/uv python install 3.11
    /opt/uv/bin/uv venv --seed --python 3.11 /opt/messmaster
fi
# torch from its CPU index first: PyPI's Linux wheel of the same version is a CUDA build of several GB
/opt/messmaster/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
/opt/messmaster/bin/pip install --quiet -r requirements-runtime.txt
ln -sf /opt/messmaster/bin/python /usr/local/bin/messmaster-python
# The reference's numbers every grading reads (expected values, the reference's trainings, holdout counts),
# computed once into the image by grading the solved notebook: each submission's container starts from the image,
# and computed them again otherwise (seconds at half a CPU, the reference's packages in memory beside the kernel).
# Root's alone: a student's kernel (a user of its own) may not read them. Grading works without them, only slower.
mkdir -p -m 700 /opt/messmaster-reference
GRADER_CACHE=/opt/messmaster-reference /opt/messmaster/bin/python -m grader prepare \
    || echo "note: the reference's numbers could not be computed ahead; each submission will compute them"
