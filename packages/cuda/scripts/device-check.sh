#!/usr/bin/env bash
# The device check: one run on a GPU machine (no Node.js, no network there). Parts, most needed first, each with
# its own time limit (clamped to what is left of the budget); a part that fails or times out is reported, never
# stops the rest:
#   info           the device, its properties, its fp32 peak (SMs × clock × FP32 lanes/SM × 2)
#   conformance    every built-in kernel on the device against ref (the shared suite)
#   batchnorm      @convnet/kernels-batchnorm's CUDA kernels against ref (+ their time at small-bn's shapes)
#   sanitizer-*    conformance + batchnorm under compute-sanitizer (memcheck, racecheck, synccheck, initcheck)
#                  with CONVNET_CUDA_SYNC=1 and the allocator in exact-size mode (CONVNET_CUDA_EXACT_ALLOC=1: no
#                  rounding slack, no reuse, so an overrun or a use after release is seen)
#   gradcheck, large, sgemm     device gradients vs finite differences; 2^31-element and grid-limit launches;
#                  SGEMM GFLOP/s on random data (checked against float64) and its share of the fp32 peak
#   torch-export, torch-compare the torchvision net from the same weights: our logits, loss and one step's
#                  gradients against PyTorch's (bench_torch_device.py compare states the tolerances)
#   small-bn-*, small-*         the trainer (`convnet train --data synthetic`, strict memory mode) on the device
#                  and on cpu: the losses agree step by step; images/s and the data-wait share through the loader
#   resident-*     images/s from one resident batch (as PyTorch measures), so loader and step are told apart
#   paper-*, torchvision-*, torch   the big nets through the trainer, PyTorch + cuDNN on the same workloads
# Every part's stdout and stderr, the sanitizer reports and the full JSON are kept in the results folder: $OUT/
# device-check when OUT is set (a remote GPU machine hands $OUT back), else a new folder under TMPDIR whose path
# the printed line names. The printed JSON is one short line: verdict, failed parts, the comparisons.
#
#   bash device-check.sh [--device cuda|cuda-host] [--small] [--no-torch] [--no-sanitizer] [--budget SECONDS]
# --device cuda-host --small checks the bundle on a machine without a GPU (the emulator, tiny sizes).
# PYTHON names the Python with torch (default python3).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEVICE=cuda SMALL= TORCH=1 SANITIZER=1 BUDGET=470
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="${2:-}"; shift 2 ;;
    --small) SMALL=--small; shift ;;
    --no-torch) TORCH=; shift ;;
    --no-sanitizer) SANITIZER=; shift ;;
    --budget) BUDGET="${2:-}"; shift 2 ;;
    *) echo "{\"ok\":false,\"error\":\"device-check.sh: unknown argument '$1' (--device, --small, --no-torch, --no-sanitizer, --budget)\"}"; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cuda-host) ;; *) echo "{\"ok\":false,\"error\":\"device-check.sh: --device: expected cuda or cuda-host, got '$DEVICE'\"}"; exit 2 ;; esac
case "$BUDGET" in ''|*[!0-9]*) echo "{\"ok\":false,\"error\":\"device-check.sh: --budget: expected whole seconds, got '$BUDGET'\"}"; exit 2 ;; esac
PYTHON="${PYTHON:-python3}"
START=$(date +%s)
# scratch (the node binary, trainer run folders) goes; results stay
WORK="$(mktemp -d "${TMPDIR:-/tmp}/device-check-work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if [ -n "${OUT:-}" ]; then RES="$OUT/device-check"; rm -rf "$RES"; mkdir -p "$RES"
else RES="$(mktemp -d "${TMPDIR:-/tmp}/device-check.XXXXXX")"; fi
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# the time limit of a part: what it asks for, never past the budget
limit() { local l; l=$(left); [ "$1" -lt "$l" ] && echo "$1" || echo $(( l > 1 ? l : 1 )); }

# Node: the carried binary (xz), else one on PATH (a development machine, or the bundle's test)
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
[ -f "$CLI" ] || { echo "{\"ok\":false,\"error\":\"no trainer: neither node_modules/@convnet/trainer/dist/cli.js nor apps/trainer/dist/cli.js (run scripts/bundle.sh after pnpm build)\"}"; exit 1; }

# part NAME SECONDS CMD...: runs CMD with a time limit; stdout and stderr stay in $RES/NAME.out, .err; its last
# JSON stdout line goes to $RES/NAME.json, or a JSON saying how it failed (with the end of stderr)
part() {
  local name="$1" secs; secs=$(limit "$2"); shift 2
  local t0; t0=$(date +%s.%N)
  timeout --kill-after=5 "$secs" "$@" > "$RES/$name.out" 2> "$RES/$name.err"
  local rc=$?
  local t1; t1=$(date +%s.%N)
  local last; last="$(grep '^{' "$RES/$name.out" | tail -n 1)"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then last="{\"ok\":false,\"error\":\"timed out after ${secs} s\"}"
  elif [ -z "$last" ] && [ $rc -eq 0 ]; then last='{"ok":true}'
  elif [ -z "$last" ]; then last="{\"ok\":false,\"error\":$("$NODE" -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").slice(-3).join(" | ").slice(0,400)))' "$RES/$name.err"),\"rc\":$rc}"
  fi
  printf '%s\n' "$last" > "$RES/$name.json"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$RES/$name.sec"
}
skip() { printf '{"ok":null,"skipped":"%s"}\n' "$2" > "$RES/$1.json"; }

part info 30 "$NODE" "$MJS" info --device "$DEVICE"
part conformance 90 "$NODE" "$MJS" conformance --device "$DEVICE"
part batchnorm 60 "$NODE" "$MJS" batchnorm --device "$DEVICE" $SMALL

# compute-sanitizer (not on the emulator: it has no CUDA to check). Its full reports stay in sanitizer-TOOL.log.
if [ -n "$SANITIZER" ] && [ "$DEVICE" = cuda ] && command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck synccheck initcheck; do
    for what in conformance batchnorm; do
      name="sanitizer-$tool-$what"
      part "$name" 90 env CONVNET_CUDA_SYNC=1 CONVNET_CUDA_EXACT_ALLOC=1 compute-sanitizer --tool "$tool" \
        --error-exitcode 99 --log-file "$RES/$name.log" "$NODE" "$MJS" "$what" --device cuda $SMALL
      "$NODE" -e '
        const fs = require("fs"); const [f, log] = process.argv.slice(1);
        const r = JSON.parse(fs.readFileSync(f, "utf8"));
        const text = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
        const m = /ERROR SUMMARY: (\d+)/.exec(text);
        fs.writeFileSync(f, JSON.stringify({ ok: !!r.ok && m !== null && +m[1] === 0, sanitizerErrors: m ? +m[1] : null,
          ...(r.ok ? {} : { error: r.error ?? (r.failed ?? []).slice(0, 3).join("; ") }) }));
      ' "$RES/$name.json" "$RES/$name.log"
    done
  done
else
  skip sanitizer "$([ "$DEVICE" = cuda ] && echo 'compute-sanitizer not on PATH (or --no-sanitizer)' || echo 'not on the emulator')"
fi
part gradcheck 45 "$NODE" "$MJS" gradcheck --device "$DEVICE"
part large 60 "$NODE" "$MJS" large --device "$DEVICE" $SMALL
part sgemm 60 "$NODE" "$MJS" sgemm --device "$DEVICE" $SMALL

# outputs against PyTorch, from the same weights
if [ -n "$TORCH" ]; then
  part torch-export 90 "$NODE" "$MJS" export --device "$DEVICE" --dir "$WORK/torch-compare" $SMALL
  if grep -q '"ok":true' "$RES/torch-export.json"; then
    part torch-compare 90 "$PYTHON" "$HERE/bench_torch_device.py" compare --dir "$WORK/torch-compare"
  else skip torch-compare 'the export failed'; fi
  rm -rf "$WORK/torch-compare"
else skip torch-compare '--no-torch'; fi

# training: the trainer on the device (strict memory mode: a hidden host access to device memory fails the run)
# and on cpu for the losses. --data synthetic holds 512 training images; a run is whole epochs of PER_EPOCH steps
# (--limit-train), so every epoch ends with its metrics line. The rate counts the steps after the first of each
# epoch (no warm-up, evaluation or checkpoints); the data-wait share is the epochs' (time the step loop waited
# for the loader over the epochs' training time).
LIMIT_TEST=256; [ -n "$SMALL" ] && LIMIT_TEST=16
train() {  # train NAME MODEL BATCH STEPS DEVICE [PER_EPOCH]
  local per="${6:-$(( 512 / $3 < $4 ? 512 / $3 : $4 ))}"
  local epochs=$(( ($4 + per - 1) / per ))
  local strict=; [ "$5" != cpu ] && strict=CONVNET_CUDA_STRICT=1
  part "$1" 150 env $strict "$NODE" "$CLI" train --data synthetic --model "$2" --batch-size "$3" --max-steps "$4" \
    --epochs "$epochs" --limit-train $(( per * $3 )) --log-every 1 --device "$5" --run "$WORK/run-$1" --lr 0.001 \
    --limit-test "$LIMIT_TEST"
  [ -f "$WORK/run-$1/metrics.jsonl" ] && cp "$WORK/run-$1/metrics.jsonl" "$RES/$1.metrics.jsonl"
  "$NODE" -e '
    const fs = require("fs"); const [dir, out, batch] = process.argv.slice(1);
    let lines = [];
    try { lines = fs.readFileSync(dir + "/metrics.jsonl", "utf8").split("\n").filter(Boolean).map(JSON.parse); } catch {}
    const steps = lines.filter((m) => m.type === "step"), epochs = lines.filter((m) => m.type === "epoch");
    const prev = JSON.parse(fs.readFileSync(out, "utf8"));
    let n = 0, t = 0;
    for (let i = 1; i < steps.length; i++)
      if (steps[i].epoch === steps[i - 1].epoch && (i > 1 || steps.length < 4)) { n += +batch; t += steps[i].seconds - steps[i - 1].seconds; }
    const es = epochs.reduce((s, e) => s + (e.seconds ?? 0), 0);
    const wait = es > 0 ? epochs.reduce((s, e) => s + (e.dataWaitShare ?? 0) * (e.seconds ?? 0), 0) / es : null;
    fs.writeFileSync(out, JSON.stringify({ ...(prev.error ? prev : {}), ok: steps.length > 0 && !prev.error, steps: steps.length,
      losses: steps.map((s) => s.loss), imagesPerSec: t > 0 ? n / t : null, dataWaitShare: wait,
      transfersPerStep: steps.at(-1)?.transfersPerStep ?? null, transferBytesPerStep: steps.at(-1)?.transferBytesPerStep ?? null,
      valTransfersPerBatch: epochs.at(-1)?.valTransfersPerBatch ?? null }));
  ' "$WORK/run-$1" "$RES/$1.json" "$3"
  rm -rf "$WORK/run-$1"
}
resident() {  # resident NAME MODEL BATCH STEPS
  part "$1" 120 env CONVNET_CUDA_STRICT=1 "$NODE" "$MJS" resident --device "$DEVICE" --model "$2" --batch "$3" --steps "$4"
}
run_torch() {
  if [ -n "$TORCH" ] && [ "$(left)" -gt 20 ]; then part torch 150 "$PYTHON" "$HERE/bench_torch_device.py" rates $SMALL
  else skip torch '--no-torch or no time left'; fi
}
# most needed first (the budget cuts the last parts short)
if [ -n "$SMALL" ]; then
  train small-bn-dev small-bn 16 6 "$DEVICE" 3; train small-bn-cpu small-bn 16 6 cpu 3
  train small-dev small 16 4 "$DEVICE" 2; train small-cpu small 16 4 cpu 2
  resident resident-small-bn small-bn 16 2
  run_torch
else
  train small-bn-dev small-bn 128 20 "$DEVICE"; train small-bn-cpu small-bn 128 20 cpu
  train small-dev small 128 20 "$DEVICE"; train small-cpu small 128 20 cpu
  resident resident-small-bn small-bn 128 50
  resident resident-torchvision torchvision 128 20; resident resident-paper paper 128 20
  train torchvision-dev torchvision 128 24 "$DEVICE"; train paper-dev paper 128 24 "$DEVICE"
  run_torch
  train paper-cpu paper 128 2 cpu; train torchvision-cpu torchvision 128 2 cpu
fi

# the full JSON (every part) into $RES/device-check.json; one short line printed
"$NODE" -e '
  const fs = require("fs"); const [dir, device, small, start] = process.argv.slice(1);
  const r = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "device-check.json").sort()) {
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
  cmp.smallBnLossesVsCpu = lossCheck(r.smallBnDev, r.smallBnCpu, 20, 1e-4);
  cmp.smallLossesVsCpu = lossCheck(r.smallDev, r.smallCpu, 20, 1e-4);
  if (r.paperDev) cmp.paperLossesVsCpu = lossCheck(r.paperDev, r.paperCpu, 2, 1e-3);
  if (r.torchvisionDev) cmp.torchvisionLossesVsCpu = lossCheck(r.torchvisionDev, r.torchvisionCpu, 2, 1e-3);
  const t = r.torch ?? {}, tr = t.trainImagesPerSec ?? {};
  const ratio = (a, b) => (a > 0 && b > 0 ? +(a / b).toFixed(3) : null);
  if (t.trainImagesPerSec) {
    cmp.vsTorch = {
      paperLoader: ratio(r.paperDev?.imagesPerSec, tr.paper), paperResident: ratio(r.residentPaper?.imagesPerSec, tr.paper),
      torchvisionLoader: ratio(r.torchvisionDev?.imagesPerSec, tr.torchvision),
      torchvisionResident: ratio(r.residentTorchvision?.imagesPerSec, tr.torchvision),
      smallBnLoader: ratio(r.smallBnDev?.imagesPerSec, tr["small-bn"]), smallBnResident: ratio(r.residentSmallBn?.imagesPerSec, tr["small-bn"]),
    };
    const s4096 = r.sgemm?.shapes?.find((s) => s.name === "4096³");
    if (s4096 && t.sgemmGflops) cmp.vsTorch.sgemm4096 = ratio(s4096.gflops, t.sgemmGflops["4096^3"]);
  }
  cmp.dataWaitShare = { smallBn: r.smallBnDev?.dataWaitShare ?? null, paper: r.paperDev?.dataWaitShare ?? null, torchvision: r.torchvisionDev?.dataWaitShare ?? null };
  const s4096 = r.sgemm?.shapes?.find((s) => s.name === "4096³");
  if (s4096?.shareOfFp32Peak) cmp.sgemm4096ShareOfFp32Peak = s4096.shareOfFp32Peak;
  const bnMs = r.batchnorm?.timing?.smallBnBatch128Ms, stepMs = r.residentSmallBn?.msPerStep;
  if (bnMs && stepMs) cmp.batchNormShareOfSmallBnStep = +(bnMs / stepMs).toFixed(3);
  const parts = Object.entries(r).concat(Object.entries(cmp));
  const failed = parts.filter(([, p]) => p && p.ok === false).map(([k, p]) => `${k}: ${String(p.error ?? (p.failed ?? []).slice(0, 2).join("; ") ?? "").slice(0, 160)}`);
  const ok = failed.length === 0;
  const full = { check: "convnet device check", date: new Date().toISOString(), device, small: small === "--small", ok,
    wallSec: Math.round(Date.now() / 1000 - +start), results: dir, comparisons: cmp, ...r };
  fs.writeFileSync(dir + "/device-check.json.tmp", JSON.stringify(full, null, 1) + "\n");
  fs.renameSync(dir + "/device-check.json.tmp", dir + "/device-check.json");
  const fig = {
    fp32PeakGflops: r.info?.fp32PeakGflops ?? null, sgemm4096Gflops: s4096?.gflops ?? null,
    imagesPerSec: Object.fromEntries(Object.entries(r).filter(([, p]) => p?.imagesPerSec).map(([k, p]) => [k, Math.round(p.imagesPerSec)])),
    torchCompare: r.torchCompare?.float32 ? { ok: r.torchCompare.ok, logits: r.torchCompare.float32.logitsMaxErrRel, grads: r.torchCompare.float32.gradMaxRelL2 } : r.torchCompare?.skipped ?? null,
  };
  const skipped = Object.entries(r).filter(([, p]) => p?.ok === null).map(([k]) => k);
  process.stdout.write(JSON.stringify({ check: "convnet device check", device, small: small === "--small", ok, wallSec: full.wallSec,
    results: dir, failed, skipped, comparisons: cmp, figures: fig }) + "\n");
  process.exit(ok ? 0 : 1);
' "$RES" "$DEVICE" "$SMALL" "$START"
