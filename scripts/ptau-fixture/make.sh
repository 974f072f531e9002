#!/usr/bin/env bash
# Makes the .ptau fixtures of tests/ptau.rs with snarkjs from the npm registry (pinned in
# package.json / package-lock.json). Run by hand when the fixtures must change; the tests read
# the committed files and download nothing.
#
#   bash scripts/ptau-fixture/make.sh
#
# - snarkjs_pow10.ptau: a power-10 ceremony (new, one contribution, a beacon), as a Perpetual
#   Powers of Tau file is before `prepare phase2`; 2^10 is enough for mlp_tiny's k = 10.
# - snarkjs_pow4_prepared.ptau: a power-4 ceremony after `prepare phase2` (the Lagrange sections
#   the Hermez `powersOfTau28_hez_final_*.ptau` files have).
# - snarkjs_pow10.points.json: some points of the first file decoded by snarkjs's libraries.
# The contribution's entropy is fixed, but snarkjs adds its own randomness: each run gives new
# files (and a new SRS id), so re-run the tests after re-making them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../tests/fixtures/ptau"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$here"
npm ci --no-audit --no-fund --silent
S="$here/node_modules/.bin/snarkjs"
mkdir -p "$out"
ceremony() { # power name
  "$S" powersoftau new bn128 "$1" "$work/$2_0.ptau" >/dev/null
  "$S" powersoftau contribute "$work/$2_0.ptau" "$work/$2_1.ptau" --name=zkinfer-fixture -e="zkinfer fixture $2" >/dev/null
  "$S" powersoftau beacon "$work/$2_1.ptau" "$work/$2.ptau" \
    0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 10 -n=beacon >/dev/null
  "$S" powersoftau verify "$work/$2.ptau" >/dev/null
}
ceremony 10 pow10
cp "$work/pow10.ptau" "$out/snarkjs_pow10.ptau"
ceremony 4 pow4
"$S" powersoftau prepare phase2 "$work/pow4.ptau" "$out/snarkjs_pow4_prepared.ptau" >/dev/null
node points.mjs "$out/snarkjs_pow10.ptau" 0 1 2 3 511 1023 2046 > "$out/snarkjs_pow10.points.json"
ls -l "$out"
