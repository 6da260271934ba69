#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu): Python 3.11
# where the image lacks it, the pinned requirements in a virtual environment, and bubblewrap.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq bubblewrap util-linux >/dev/null
if ! command -v python3.11 >/dev/null; then
    apt-get install -y -qq software-properties-common >/dev/null
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null
fi
python3.11 -m venv /opt/messmaster
# torch from its CPU index first: PyPI's Linux wheel of the same version is a CUDA build of several GB
/opt/messmaster/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
/opt/messmaster/bin/pip install --quiet -r requirements.txt
ln -sf /opt/messmaster/bin/python /usr/local/bin/messmaster-python
