#!/usr/bin/env bash
# Makes the device-check bundle: what device-check.sh needs on a GPU machine that has no Node.js, no npm and no
# network, in one folder (default packages/cuda/device-bundle, git-ignored) well under 64 MiB:
#   node.xz                       this machine's node binary, xz -9 (about 24 MB; cached between runs)
#   device-check.sh, device-check.mjs, bench_torch_device.py
#   node_modules/@convnet/*       each runtime package's package.json and dist/, and the built addons
#                                 (native, distributed, cuda: build/Release/*.node)
#   node_modules/vitest           a shim with the expect() the conformance cases use (scripts/vitest-shim)
#   node_modules/sharp            a stand-in (no libvips there; the check trains on --data synthetic)
# Run `pnpm build` first. The CUDA addon must contain sm_90 code (the default CONVNET_CUDA_ARCHS does; a build
# for 90 alone is smaller: cd packages/cuda && CONVNET_CUDA_ARCHS=90 npx cmake-js rebuild), or pass
# --cuda-addon FILE to carry another build. Check the bundle here with:
#   bash packages/cuda/scripts/bundle.sh /tmp/b && cd "$(mktemp -d)" && cp -r /tmp/b/. . && bash device-check.sh --device cuda-host --small
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="$ROOT/packages/cuda/device-bundle"
ADDON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda-addon) ADDON="$2"; shift 2 ;;
    -*) echo "bundle.sh: unknown option $1 (--cuda-addon FILE)" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

NODE_BIN="$(command -v node)"
if [ ! -f "$OUT/node.xz" ] || [ "$NODE_BIN" -nt "$OUT/node.xz" ]; then
  echo "compressing $NODE_BIN (xz -9; about a minute)" >&2
  xz -9 -T2 -c "$NODE_BIN" > "$OUT/node.xz.tmp" && mv "$OUT/node.xz.tmp" "$OUT/node.xz"
fi
rm -rf "$OUT/node_modules"
mkdir -p "$OUT/node_modules/@convnet"

copy_pkg() {  # copy_pkg DIR NAME [extra files/dirs...]
  local dir="$ROOT/$1" name="$2"; shift 2
  local dst="$OUT/node_modules/@convnet/$name"
  [ -f "$dir/package.json" ] || { echo "bundle.sh: $dir/package.json missing" >&2; exit 1; }
  mkdir -p "$dst"
  cp "$dir/package.json" "$dst/"
  [ -d "$dir/dist" ] && cp -r "$dir/dist" "$dst/"
  for f in "$@"; do
    [ -e "$dir/$f" ] || { echo "bundle.sh: $dir/$f missing (run pnpm install && pnpm build)" >&2; exit 1; }
    mkdir -p "$dst/$(dirname "$f")"
    cp -r "$dir/$f" "$dst/$f"
  done
}
for p in tensor layers optim alexnet augment imagenet; do
  [ -f "$ROOT/packages/$p/dist/index.js" ] || { echo "bundle.sh: packages/$p/dist missing: run pnpm build" >&2; exit 1; }
  copy_pkg "packages/$p" "$p"
done
copy_pkg native native index.cjs index.d.ts include.cjs build/Release/convnet_native.node
copy_pkg packages/distributed distributed build/Release/convnet_distributed.node
copy_pkg packages/cuda cuda build/Release/convnet_cuda_host.node build/Release/convnet_cuda.node
copy_pkg apps/trainer trainer
[ -n "$ADDON" ] && cp "$ADDON" "$OUT/node_modules/@convnet/cuda/build/Release/convnet_cuda.node"
mkdir -p "$OUT/node_modules/vitest" "$OUT/node_modules/sharp"
cp "$HERE/vitest-shim/package.json" "$HERE/vitest-shim/index.js" "$OUT/node_modules/vitest/"
cp "$HERE/sharp-stub/package.json" "$HERE/sharp-stub/index.js" "$OUT/node_modules/sharp/"
cp "$HERE/device-check.sh" "$HERE/device-check.mjs" "$HERE/bench_torch_device.py" "$OUT/"

# which GPU architectures the carried CUDA addon has code for
ARCHS="$(cd "$OUT" && node -e 'import("@convnet/cuda").then((c) => console.log(JSON.stringify(c.buildInfo())))' 2>/dev/null || echo '?')"
SIZE="$(du -sb "$OUT" | cut -f1)"
echo "bundle: $OUT, $(( SIZE / 1048576 )) MiB; cuda addon: $ARCHS" >&2
if [ "$SIZE" -gt $(( 64 * 1048576 )) ]; then echo "bundle.sh: $OUT is over 64 MiB" >&2; exit 1; fi
