#!/usr/bin/env bash
# Measure zkinfer on the bundled models and print a markdown table next to EZKL's results.
#   benches/compare.sh [model ...]      (from the project root; default: every bundled model)
# EZKL's numbers come from target/peer/results/ezkl-<model>.json, written by
# ../shared/peer/run.sh <model> (run it first). zkinfer: release build, dev SRS,
# prove and verify repeated REPEAT times (default 3), medians reported: the whole `zkinfer
# prove` command's wall time (what a user waits for, key loading included) beside its
# create_proof time; peak RSS from /usr/bin/time of the prove command.
set -euo pipefail
REPEAT=${REPEAT:-3}
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  for d in models/*/; do MODELS+=("$(basename "$d")"); done
fi
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/zkinfer"
OUT=target/bench
mkdir -p "$OUT"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "| model | k (zk/EZKL) | zkinfer prove command s (create_proof s) | EZKL prove s (create_proof s) | ratio (command / prove call) | zkinfer verify ms | EZKL verify ms | proof B (zk/EZKL) | prove peak RSS MiB (zk/EZKL) | max abs err on input.json (zk/EZKL) | zk max abs err, calibration samples | zk argmax agreement |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  d="$OUT/$m"
  compile_out=$($BIN compile "models/$m/network.onnx" -o "$d" --calibration "models/$m/calibration.json")
  $BIN setup "$d" > /dev/null 2>&1
  : > "$d/prove.times"; : > "$d/verify.times"; : > "$d/rss"; : > "$d/wall"
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -f "%M %e" -o "$d/rss.one" $BIN prove "$d" --input "models/$m/input.json" -o "$d/proof.json" \
      | sed -n 's/^proved .* in \([0-9.]*\) s.*/\1/p' >> "$d/prove.times"
    cut -d' ' -f1 "$d/rss.one" >> "$d/rss"
    cut -d' ' -f2 "$d/rss.one" >> "$d/wall"
    $BIN verify --commitment "$d/commitment.json" --vk "$d/vk.bin" --proof "$d/proof.json" 2>/dev/null \
      | sed -n 's/.* in \([0-9.]*\) ms$/\1/p' >> "$d/verify.times"
  done
  k=$(python3 -c "import json;print(json.load(open('$d/settings.json'))['k'])")
  zp=$(median < "$d/prove.times"); zv=$(median < "$d/verify.times"); zw=$(median < "$d/wall")
  zrss=$(( $(sort -g "$d/rss" | tail -1) / 1024 ))
  zb=$(python3 -c "import json;print(len(json.load(open('$d/proof.json'))['proof'])//2)")
  zerr=$(echo "$compile_out" | sed -n 's/.*outputs = \([0-9.]*\).*/\1/p')
  zagree=$(echo "$compile_out" | sed -n 's/.*argmax agrees on \([0-9/]*\).*/\1/p')
  python3 - "$m" "$k" "$zp" "$zv" "$zb" "$zrss" "$zerr" "$zw" "$zagree" <<'PY'
import json, os, sys
m, k, zp, zv, zb, zrss, zerr, zw, zagree = sys.argv[1:]
p = os.path.join("target", "peer", "results", f"ezkl-{m}.json")
e = json.load(open(p))["summary"] if os.path.exists(p) else {}
ep, ev = e.get("prove_s"), e.get("verify_s")
ecp = e.get("prove_internal_s")
ratio = f"{float(ep) / float(zw):.1f}x" if ep else "-"
f = lambda v, nd=2: "-" if v is None else f"{v:.{nd}f}"
exp = json.load(open(os.path.join("models", m, "expected.json")))["output"]
got = json.load(open(os.path.join("target", "bench", m, "proof.json")))["outputs"][0]["floats"]
ierr = max(abs(a - b) for a, b in zip(got, exp))
print(f"| {m} | {k} / {e.get('logrows', '-')} | {float(zw):.2f} ({float(zp):.2f}) | {f(ep)} ({f(ecp)}) | {ratio} | {float(zv):.1f} | "
      f"{f(ev * 1000 if ev else None, 0)} | {zb} / {e.get('proof_bytes', '-')} | {zrss} / {f(e.get('prove_rss_mib'), 0)} | "
      f"{ierr:.4f} / {f(e.get('max_abs_err'), 4)} | {zerr} | {zagree} |")
PY
done
