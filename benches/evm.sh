#!/usr/bin/env bash
# The EVM verifier per model: bytecode sizes and the gas of an accepted proof.
#   benches/evm.sh [model | model-folder ...]   (from the project root; default: every
#                                                bundled model)
# Needs scripts/install-solc.sh. Release build, dev SRS; `zkinfer evm`, `prove --evm` and
# `evm verify` (revm, 30 M gas limit). Prints one markdown table.
set -euo pipefail
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  for d in models/*/; do MODELS+=("models/$(basename "$d")"); done
fi
bash scripts/install-solc.sh > /dev/null
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/zkinfer"
SOLC="$(pwd)/scripts/solc/solc.js"
OUT=target/bench-evm
mkdir -p "$OUT"
echo "| model | public values | one contract (runtime B) | parts (runtime B each) | entry (runtime B) | proof B | calldata B | verify gas |"
echo "|---|---|---|---|---|---|---|---|"
for arg in "${MODELS[@]}"; do
  if [ -d "$arg" ]; then src="$arg"; else src="models/$arg"; fi
  m=$(basename "$src")
  d="$OUT/$m"
  $BIN compile "$src/network.onnx" -o "$d" --calibration "$src/calibration.json" > /dev/null
  $BIN setup "$d" --insecure-dev-srs > /dev/null 2>&1
  $BIN evm "$d" --solc "$SOLC" --insecure-dev-srs > /dev/null 2>&1
  $BIN prove "$d" --input "$src/input.json" -o "$d/proof.json" --evm > /dev/null
  gas=$($BIN evm verify "$d/evm" --proof "$d/proof.json" 2>/dev/null | sed -n 's/.*gas used \([0-9]*\).*/\1/p')
  python3 - "$d" "$m" "$gas" <<'PY'
import json, sys, os
d, m, gas = sys.argv[1:]
v = json.load(open(os.path.join(d, "evm", "verifier.json")))
p = json.load(open(os.path.join(d, "proof.json")))
proof = len(p["proof"]) // 2
parts = ", ".join(f"{p['runtime_bytes']:,}" for p in v["parts"]) or "none"
print(f"| {m} | {v['instances']} | {v['single_contract_runtime_bytes']:,} | {len(v['parts'])}: {parts} | {v['runtime_bytes']:,} | {proof:,} | {32 * v['instances'] + proof:,} | {int(gas):,} |")
PY
done
