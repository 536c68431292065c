#!/usr/bin/env bash
# The device check: one run on a GPU machine (no Node.js, no network there) that prints ONE JSON line with
#   conformance of every kernel on the GPU (against ref), the same under compute-sanitizer (memcheck,
#   racecheck, synccheck), gradient checks on the device, full-size index/grid limits, SGEMM GFLOP/s (4096³ and
#   AlexNet's shapes), `convnet train --device cuda --data synthetic` images/s for the paper and torchvision
#   nets at batch 128 (with their first steps' losses against the cpu backend's), the small net's 20 steps
#   against cpu, and PyTorch + cuDNN on the same workloads for the ratios.
# It runs from the bundle that scripts/bundle.sh makes (this script, device-check.mjs, bench_torch_device.py,
# node.xz and node_modules/@convnet/*), in well under 8 minutes; each part has its own time limit, and a part
# that fails or times out is reported in the JSON, never stops the rest.
#
#   bash device-check.sh [--device cuda|cuda-host] [--small] [--no-torch] [--no-sanitizer] [--budget SECONDS]
# --device cuda-host --small checks the bundle on a machine without a GPU (the emulator, tiny sizes).
# CONVNET_CUDA_SYNC=1 is set for the sanitizer runs (each launch waits, so a fault names its kernel).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEVICE=cuda SMALL= TORCH=1 SANITIZER=1 BUDGET=470
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --small) SMALL=--small; shift ;;
    --no-torch) TORCH=; shift ;;
    --no-sanitizer) SANITIZER=; shift ;;
    --budget) BUDGET="$2"; shift 2 ;;
    *) echo "{\"ok\":false,\"error\":\"device-check.sh: unknown argument '$1' (--device, --small, --no-torch, --no-sanitizer, --budget)\"}"; exit 2 ;;
  esac
done
START=$(date +%s)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/device-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# the time limit of a part: what it asks for, never past the budget
limit() { local l; l=$(left); [ "$1" -lt "$l" ] && echo "$1" || echo $(( l > 1 ? l : 1 )); }

# Node: the carried binary (xz), else one on PATH (a development machine)
NODE="$HERE/node"
if [ ! -x "$NODE" ]; then
  if [ -f "$HERE/node.xz" ]; then
    NODE="$WORK/node"
    xz -dc "$HERE/node.xz" > "$NODE" && chmod +x "$NODE" || { echo '{"ok":false,"error":"node.xz: cannot decompress (xz missing?)"}'; exit 1; }
  else
    NODE="$(command -v node || true)"
    [ -n "$NODE" ] || { echo '{"ok":false,"error":"no node.xz next to device-check.sh and no node on PATH: run scripts/bundle.sh"}'; exit 1; }
  fi
fi
MJS="$HERE/device-check.mjs"
CLI="$HERE/node_modules/@convnet/trainer/dist/cli.js"
[ -f "$CLI" ] || CLI="$HERE/../../../apps/trainer/dist/cli.js"

# part NAME SECONDS CMD...: runs CMD with a time limit; its last stdout line (JSON) goes to $WORK/NAME.json,
# or a JSON saying how it failed
part() {
  local name="$1" secs; secs=$(limit "$2"); shift 2
  local t0; t0=$(date +%s.%N)
  timeout --kill-after=5 "$secs" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
  local rc=$?
  local t1; t1=$(date +%s.%N)
  local last; last="$(grep '^{' "$WORK/$name.out" | tail -n 1)"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then last="{\"ok\":false,\"error\":\"timed out after ${secs} s\"}"
  elif [ -z "$last" ] && [ $rc -eq 0 ]; then last='{"ok":true}'
  elif [ -z "$last" ]; then last="{\"ok\":false,\"error\":$("$NODE" -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").slice(-3).join(" | ").slice(0,400)))' "$WORK/$name.err"),\"rc\":$rc}"
  fi
  printf '%s\n' "$last" > "$WORK/$name.json"
  printf '%s\n' "$(echo "$t1 - $t0" | bc 2>/dev/null || echo 0)" > "$WORK/$name.sec"
}

part info 30 "$NODE" "$MJS" info --device "$DEVICE"
part conformance 90 "$NODE" "$MJS" conformance --device "$DEVICE"

# compute-sanitizer on the conformance suite (not on the emulator: it has no CUDA to check)
if [ -n "$SANITIZER" ] && [ "$DEVICE" = cuda ] && command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck synccheck; do
    part "sanitizer-$tool" 60 env CONVNET_CUDA_SYNC=1 compute-sanitizer --tool "$tool" --error-exitcode 99 \
      "$NODE" "$MJS" conformance --device cuda
    s="$(grep -h 'ERROR SUMMARY' "$WORK/sanitizer-$tool.out" "$WORK/sanitizer-$tool.err" 2>/dev/null | tail -n 1)"
    "$NODE" -e '
      const fs = require("fs"); const [f, summary] = process.argv.slice(1);
      const r = JSON.parse(fs.readFileSync(f, "utf8")); const m = /ERROR SUMMARY: (\d+)/.exec(summary);
      fs.writeFileSync(f, JSON.stringify({ ...r, sanitizerErrors: m ? +m[1] : null, ok: !!r.ok && m !== null && +m[1] === 0 }));
    ' "$WORK/sanitizer-$tool.json" "$s"
  done
else
  echo "{\"ok\":null,\"skipped\":\"$([ "$DEVICE" = cuda ] && echo 'compute-sanitizer not on PATH (or --no-sanitizer)' || echo 'not on the emulator')\"}" > "$WORK/sanitizer.json"
fi
part gradcheck 45 "$NODE" "$MJS" gradcheck --device "$DEVICE"
part large 60 "$NODE" "$MJS" large --device "$DEVICE" $SMALL
part sgemm 60 "$NODE" "$MJS" sgemm --device "$DEVICE" $SMALL

# training: ours on the device (rate over the steps after warm-up) and the cpu backend's first steps for the losses.
# Device runs are in strict memory mode (CONVNET_CUDA_STRICT=1): a hidden host access to device memory fails them.
# --data synthetic holds 512 training images, so longer runs go over several epochs; the rate counts the steps
# after the first of each epoch, leaving out warm-up, evaluation and checkpoints.
train() {  # train NAME MODEL BATCH STEPS DEVICE
  local epochs=$(( ($4 * $3 + 511) / 512 ))
  part "$1" 150 env CONVNET_CUDA_STRICT=1 "$NODE" "$CLI" train --data synthetic --model "$2" --batch-size "$3" --max-steps "$4" --epochs "$epochs" \
    --log-every 1 --device "$5" --run "$WORK/run-$1" --lr 0.001 --limit-test 256
  "$NODE" -e '
    const fs = require("fs"); const [dir, out, batch] = process.argv.slice(1);
    let lines = [];
    try { lines = fs.readFileSync(dir + "/metrics.jsonl", "utf8").split("\n").filter(Boolean).map(JSON.parse); } catch {}
    const steps = lines.filter((m) => m.type === "step"), epoch = lines.filter((m) => m.type === "epoch").at(-1);
    const prev = JSON.parse(fs.readFileSync(out, "utf8"));
    let n = 0, t = 0;
    for (let i = 1; i < steps.length; i++)
      if (steps[i].epoch === steps[i - 1].epoch && (i > 1 || steps.length < 4)) { n += +batch; t += steps[i].seconds - steps[i - 1].seconds; }
    fs.writeFileSync(out, JSON.stringify({ ...(prev.error ? prev : {}), ok: steps.length > 0 && !prev.error, steps: steps.length,
      losses: steps.map((s) => s.loss), imagesPerSec: t > 0 ? n / t : null, transfersPerStep: steps.at(-1)?.transfersPerStep ?? null,
      transferBytesPerStep: steps.at(-1)?.transferBytesPerStep ?? null, valTransfersPerBatch: epoch?.valTransfersPerBatch ?? null,
      valTransferBytesPerBatch: epoch?.valTransferBytesPerBatch ?? null }));
  ' "$WORK/run-$1" "$WORK/$1.json" "$3"
  rm -rf "$WORK/run-$1"
}
run_torch() {
  if [ -n "$TORCH" ] && [ "$(left)" -gt 20 ]; then
    part torch 150 python3 "$HERE/bench_torch_device.py" $SMALL
  else
    echo '{"ok":null,"skipped":"--no-torch or no time left"}' > "$WORK/torch.json"
  fi
}
# most needed first (the budget cuts the last parts short): the 20-step loss check, our rates, PyTorch's rates,
# then the cpu backend's first paper/torchvision steps for their loss checks
if [ -n "$SMALL" ]; then
  train small-dev small 16 6 "$DEVICE"; train small-cpu small 16 6 cpu
  run_torch
else
  train small-dev small 128 20 "$DEVICE"; train small-cpu small 128 20 cpu
  train paper-dev paper 128 24 "$DEVICE"; train torchvision-dev torchvision 128 24 "$DEVICE"
  run_torch
  train paper-cpu paper 128 2 cpu; train torchvision-cpu torchvision 128 2 cpu
fi



# one JSON line: every part, the comparisons, and the verdict
"$NODE" -e '
  const fs = require("fs"); const [dir, device, small, start] = process.argv.slice(1);
  const r = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const k = f.slice(0, -5).replace(/-(\w)/g, (_, c) => c.toUpperCase());
    try { r[k] = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")); } catch (e) { r[k] = { ok: false, error: String(e.message) }; }
    const sec = dir + "/" + f.slice(0, -5) + ".sec";
    if (fs.existsSync(sec)) r[k].seconds = +(+fs.readFileSync(sec, "utf8")).toFixed(1);
  }
  const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
  const lossCheck = (dev, cpu, n, tol) => {
    if (!dev?.losses?.length || !cpu?.losses?.length) return { ok: false, error: "missing run" };
    const k = Math.min(n, dev.losses.length, cpu.losses.length);
    const errs = Array.from({ length: k }, (_, i) => rel(dev.losses[i], cpu.losses[i]));
    return { ok: errs.every((e) => e <= tol), steps: k, tolerance: tol, maxRelErr: Math.max(...errs) };
  };
  const cmp = {};
  cmp.smallLossesVsCpu = lossCheck(r.smallDev, r.smallCpu, 20, 1e-4);
  if (r.paperDev) cmp.paperLossesVsCpu = lossCheck(r.paperDev, r.paperCpu, 2, 1e-3);
  if (r.torchvisionDev) cmp.torchvisionLossesVsCpu = lossCheck(r.torchvisionDev, r.torchvisionCpu, 2, 1e-3);
  const t = r.torch ?? {};
  if (t.trainImagesPerSec) {
    cmp.paperVsTorch = (r.paperDev?.imagesPerSec ?? 0) / t.trainImagesPerSec.paper;
    cmp.torchvisionVsTorch = (r.torchvisionDev?.imagesPerSec ?? 0) / t.trainImagesPerSec.torchvision;
  }
  const s4096 = r.sgemm?.shapes?.find((s) => s.name === "4096³");
  if (s4096) {
    cmp.sgemm4096ShareOfFp32Peak = s4096.gflops / 66900;  // H200 SXM: 66.9 TFLOP/s fp32 (non-tensor)
    if (t.sgemmGflops) cmp.sgemm4096VsTorch = s4096.gflops / t.sgemmGflops["4096^3"];
  }
  const parts = Object.values(r).concat(Object.values(cmp));
  const ok = parts.every((p) => p.ok !== false);
  process.stdout.write(JSON.stringify({ check: "convnet device check", date: new Date().toISOString(), device, small: small === "--small",
    ok, wallSec: Math.round(Date.now() / 1000 - +start), comparisons: cmp, ...r }) + "\n");
  process.exit(ok ? 0 : 1);
' "$WORK" "$DEVICE" "$SMALL" "$START"
