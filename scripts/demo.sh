#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: runs the main job on the embedded defaults and prints the recommendation.
set -eu
bin=$1
cd "$(dirname "$0")/.."
"$bin" --version
