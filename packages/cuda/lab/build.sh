#!/usr/bin/env sh
# Builds every lab program for one architecture (default sm_80): ./build.sh [arch]
# Each program checks its versions against the CPU, then times one: ./sgemm 3
set -e
cd "$(dirname "$0")"
ARCH=${1:-80}
for f in *.cu; do
  echo "nvcc ${f}"
  nvcc -O3 -std=c++17 -arch=sm_${ARCH} -I../../../native/include -I../src "$f" -o "${f%.cu}"
done
