#!/usr/bin/env bash
# Makes the device-check bundle: what device-check.sh needs on a GPU machine that has no Node.js, no npm and no
# network, in one folder (default packages/cuda/device-bundle, git-ignored) well under 64 MiB:
#   node.xz                       this machine's node binary, xz -9 (about 24 MB; cached between runs)
#   device-check.sh, device-check.mjs, bench_torch_device.py
#   node_modules/@convnet/*       every package the trainer imports (scripts/bundle-list.mjs follows
#                                 apps/trainer's dependencies), with package.json, dist/ and the addons built
#                                 here (build/Release/*.node; only @convnet/native's is required)
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
ADDON="" WITH_NODE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda-addon) ADDON="$2"; shift 2 ;;
    --no-node) WITH_NODE=; shift ;;  # no node.xz (the check then runs the node on PATH: the bundle's test here)
    -*) echo "bundle.sh: unknown option $1 (--cuda-addon FILE, --no-node)" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

NODE_BIN="$(command -v node)"
if [ -z "$WITH_NODE" ]; then rm -f "$OUT/node.xz"
elif [ ! -f "$OUT/node.xz" ] || [ "$NODE_BIN" -nt "$OUT/node.xz" ]; then
  echo "compressing $NODE_BIN (xz -9; about a minute)" >&2
  xz -9 -T2 -c "$NODE_BIN" > "$OUT/node.xz.tmp" && mv "$OUT/node.xz.tmp" "$OUT/node.xz"
fi
rm -rf "$OUT/node_modules"
mkdir -p "$OUT/node_modules/@convnet"

# The packages: what apps/trainer imports, transitively (bundle-list.mjs; it fails on an unbuilt package, e.g. a
# missing apps/trainer/dist, and on a runtime dependency the bundle has no stand-in for).
LIST="$(node "$HERE/bundle-list.mjs" "$ROOT")" || exit 1
CARRIED="" MISSING=""
while IFS=$'\t' read -r dir name; do
  src="$ROOT/$dir" dst="$OUT/node_modules/$name"
  mkdir -p "$dst"
  cp "$src/package.json" "$dst/"
  # what it publishes that runs: dist/ and top-level JavaScript/JSON files of its "files" list (native's loader)
  for f in $(node -e 'for (const f of require(process.argv[1]).files ?? []) console.log(f)' "$src/package.json"); do
    case "$f" in
      dist|*.js|*.cjs|*.mjs|*.json|*.d.ts|*.d.mts|*.d.cts) [ -e "$src/$f" ] && cp -r "$src/$f" "$dst/" ;;
    esac
  done
  # its addons, as built here: every one is optional except @convnet/native's (the MPI addon is missing where
  # Open MPI is; the CUDA addons where nvcc was)
  if [ -d "$src/build/Release" ]; then
    for a in "$src"/build/Release/*.node; do
      [ -f "$a" ] || continue
      mkdir -p "$dst/build/Release" && cp "$a" "$dst/build/Release/" && CARRIED="$CARRIED $(basename "$a")"
    done
  fi
  if [ -f "$src/CMakeLists.txt" ] && ! ls "$src"/build/Release/*.node > /dev/null 2>&1; then MISSING="$MISSING $name"; fi
done <<< "$LIST"
[ -f "$OUT/node_modules/@convnet/native/build/Release/convnet_native.node" ] || {
  echo "bundle.sh: native/build/Release/convnet_native.node missing (run pnpm install, which compiles it)" >&2; exit 1; }
echo "bundle: packages $(echo "$LIST" | cut -f2 | tr '\n' ' ')" >&2
echo "bundle: addons$CARRIED${MISSING:+; no addon built for$MISSING}" >&2
if [ -n "$ADDON" ]; then mkdir -p "$OUT/node_modules/@convnet/cuda/build/Release" && cp "$ADDON" "$OUT/node_modules/@convnet/cuda/build/Release/convnet_cuda.node"; fi
mkdir -p "$OUT/node_modules/vitest" "$OUT/node_modules/sharp"
cp "$HERE/vitest-shim/package.json" "$HERE/vitest-shim/index.js" "$OUT/node_modules/vitest/"
cp "$HERE/sharp-stub/package.json" "$HERE/sharp-stub/index.js" "$OUT/node_modules/sharp/"
cp "$HERE/device-check.sh" "$HERE/device-check.mjs" "$HERE/bench_torch_device.py" "$OUT/"

# which GPU architectures the carried CUDA addon has code for
ARCHS="$(cd "$OUT" && node -e 'import("@convnet/cuda").then((c) => console.log(JSON.stringify(c.buildInfo())))' 2>/dev/null || echo '?')"
SIZE="$(du -sb "$OUT" | cut -f1)"
echo "bundle: $OUT, $(( SIZE / 1048576 )) MiB; cuda addon: $ARCHS" >&2
if [ "$SIZE" -gt $(( 64 * 1048576 )) ]; then echo "bundle.sh: $OUT is over 64 MiB" >&2; exit 1; fi
