#!/usr/bin/env bash
# Measure zkinfer on models and print one markdown table beside EZKL's results.
#   benches/compare.sh [model | model-folder ...]   (from the project root; default: every
#                                                    bundled model)
# A model is a name under models/ or the path of any folder holding network.onnx,
# input.json, calibration.json (and expected.json for the error column), e.g. the large
# models of benches/make_large_models.py. EZKL's numbers come from
# target/peer/results/ezkl-<name>.json, written by ../shared/peer/run.sh <model> (run it
# first; a dash where it has none). zkinfer: release build, dev SRS, prove and verify
# repeated REPEAT times (default 3), medians: the whole `zkinfer prove` command's wall time
# (what a user waits for, key loading included) beside its create_proof time; setup is the
# whole `zkinfer setup` command; peak RSS from /usr/bin/time of the prove command. Ratios
# are zkinfer / EZKL (the performance issue's targets: prove, RSS and pk <= 0.1, setup
# <= 0.2). The estimate column is `zkinfer inspect`'s prove-time estimate for the build.
set -euo pipefail
REPEAT=${REPEAT:-3}
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  for d in models/*/; do MODELS+=("models/$(basename "$d")"); done
fi
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/zkinfer"
OUT=target/bench
mkdir -p "$OUT"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "| model | k (zk/EZKL) | prove s: zkinfer command (create_proof) | inspect's estimate s | EZKL prove s | prove ratio | setup s (zk/EZKL) | setup ratio | verify ms (zk/EZKL) | proof B (zk/EZKL) | pk MiB (zk/EZKL) | pk ratio | prove peak RSS MiB (zk/EZKL) | RSS ratio | max abs err (zk/EZKL) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for arg in "${MODELS[@]}"; do
  if [ -d "$arg" ]; then src="$arg"; else src="models/$arg"; fi
  m=$(basename "$src")
  d="$OUT/$m"
  $BIN compile "$src/network.onnx" -o "$d" --calibration "$src/calibration.json" > "$d.compile.txt"
  /usr/bin/time -f "%e" -o "$d.setup.time" $BIN setup "$d" --insecure-dev-srs > /dev/null 2>&1
  : > "$d/prove.times"; : > "$d/verify.times"; : > "$d/rss"; : > "$d/wall"
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -f "%M %e" -o "$d/rss.one" $BIN prove "$d" --input "$src/input.json" -o "$d/proof.json" \
      | sed -n 's/^proved .* in \([0-9.]*\) s.*/\1/p' >> "$d/prove.times"
    cut -d' ' -f1 "$d/rss.one" >> "$d/rss"
    cut -d' ' -f2 "$d/rss.one" >> "$d/wall"
    $BIN verify --commitment "$d/commitment.json" --vk "$d/vk.bin" --proof "$d/proof.json" 2>/dev/null \
      | sed -n 's/.* in \([0-9.]*\) ms$/\1/p' >> "$d/verify.times"
  done
  $BIN inspect "$d" --json > "$d.inspect.json"
  python3 - "$m" "$src" "$d" "$(median < "$d/prove.times")" "$(median < "$d/verify.times")" \
    "$(median < "$d/wall")" "$(sort -g "$d/rss" | tail -1)" "$(cat "$d.setup.time")" <<'PY'
import json, os, sys
m, src, d, zp, zv, zw, zrss_kb, zsetup = sys.argv[1:]
est = json.load(open(d + ".inspect.json"))["est_prove_seconds"]
zp, zv, zw, zsetup = float(zp), float(zv), float(zw), float(zsetup)
zrss = int(zrss_kb) / 1024
k = json.load(open(os.path.join(d, "settings.json")))["k"]
zb = len(json.load(open(os.path.join(d, "proof.json")))["proof"]) // 2
zpk = os.path.getsize(os.path.join(d, "pk.bin")) / 2**20
p = os.path.join("target", "peer", "results", f"ezkl-{m}.json")
full = json.load(open(p)) if os.path.exists(p) else {}
e = full.get("summary", {})
ok = e.get("status") == "ok"
ep, ev, es, erss = (e.get(x) if ok else None for x in ("prove_s", "verify_s", "setup_s", "prove_rss_mib"))
epk = full.get("pk_bytes") / 2**20 if ok and full.get("pk_bytes") else None
f = lambda v, nd=2: "-" if v is None else f"{v:.{nd}f}"
r = lambda a, b: "-" if not b else f"{a / b:.3f}"
err = "-"
try:
    exp = json.load(open(os.path.join(src, "expected.json")))["output"]
    got = json.load(open(os.path.join(d, "proof.json")))["outputs"][0]["floats"]
    err = f"{max(abs(a - b) for a, b in zip(got, exp)):.4f}"
except (OSError, KeyError, IndexError):
    pass
ee = f(e.get("max_abs_err"), 4) if ok else "-"
status = "" if ok or not e else f" ({e.get('status')})"
print(f"| {m} | {k} / {e.get('logrows', '-')} | {zw:.2f} ({zp:.2f}) | {est:.2f} | {f(ep)}{status} | {r(zw, ep)} | "
      f"{zsetup:.2f} / {f(es)} | {r(zsetup, es)} | {zv:.1f} / {f(ev * 1000 if ev else None, 0)} | "
      f"{zb} / {e.get('proof_bytes', '-') if ok else '-'} | {zpk:.1f} / {f(epk, 1)} | {r(zpk, epk)} | "
      f"{zrss:.0f} / {f(erss, 0)} | {r(zrss, erss)} | {err} / {ee} |")
PY
done
