#!/usr/bin/env sh
# Builds every lab program for one architecture (default sm_80): ./build.sh [arch]
# Each program checks its versions against the CPU, then times one: ./sgemm 3
set -e
cd "$(dirname "$0")"
ARCH=${1:-80}
# the shared headers (convnet/kernels/*.h), from @convnet/native's exported include directory
INC=$(node -p "require('@convnet/native/include').include_dir")
for f in *.cu; do
  echo "nvcc ${f}"
  nvcc -O3 -std=c++17 -arch=sm_${ARCH} -I"${INC}" -I../src "$f" -o "${f%.cu}"
done
