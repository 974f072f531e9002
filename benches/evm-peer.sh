#!/usr/bin/env bash
# EZKL's EVM verifier beside zkinfer's (benches/evm.sh): bytecode size and verify gas per model,
# measured in zkinfer's own EVM runner (revm, mainnet rules, 30 M gas; examples/evm_call).
#   benches/evm-peer.sh [model | model-folder ...]   (from the project root; default:
#                                                     mlp_tiny mlp_digits cnn_small residual_mlp attention_tiny)
# Needs the peer venv with EZKL 23.0.5 (target/peer/.venv, made by ../shared/peer/run.sh) and
# scripts/solc (solcjs 0.8.19). Downloads nothing. Work files go to target/peer-evm/<model>/
# (REUSE=1 keeps an existing proof/verifier there instead of redoing the EZKL pipeline).
# EZKL 23 rejects cnn_bn, dw_separable and residual_conv as bundled ("a node is missing required
# params: stride"); the peer run uses copies with explicit Conv/Pool attributes: pass
# target/peer/models/<name> for those.
#
# EZKL pipeline, as ../shared/peer/ezkl_run.py: gen_settings (default PyRunArgs) ->
# calibrate_settings(calibration.json, target="resources") -> compile_circuit -> gen_srs (local,
# insecure, per k) -> gen_witness(input.json) -> setup -> prove -> verify; then
# create_evm_verifier (per-model Halo2Verifier), create_evm_verifier(reusable=True) +
# create_evm_vka(decimals=18), encode_evm_calldata (with and without the vka).
# Solidity: solcjs 0.8.19, optimizer on, runs=1 (EZKL's deploy-evm default), default EVM version
# (paris); "optimizer off" is tried too. Gas is the whole call transaction's (21,000 + calldata +
# execution), as in benches/evm.sh. Every model also gets tampered calls (one proof evaluation
# byte, one public instance), which must revert.
# Reusable mode: the generic Halo2VerifierReusable takes the VK artifact (vka, bytes32[]) in the
# calldata of every verifyProof call and requires its keccak digest to have been registered
# once with registerVka (a storage write). "register gas" is that one-time registerVka call; for
# "verify gas" the contract is compiled with an added constructor that marks the model's digest
# registered (runtime code identical but for the metadata hash, checked), so the verify call
# runs against the state a prior registerVka leaves.
set -euo pipefail
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  MODELS=(mlp_tiny mlp_digits cnn_small residual_mlp attention_tiny)
fi
PY="$(pwd)/target/peer/.venv/bin/python"
[ -x "$PY" ] || { echo "missing $PY (run ../shared/peer/run.sh once to make the EZKL venv)" >&2; exit 1; }
EVM_CALL="${CARGO_TARGET_DIR:-target}/release/examples/evm_call"
[ -x "$EVM_CALL" ] || cargo build --release -q --example evm_call
export EVM_CALL="$(cd "$(dirname "$EVM_CALL")" && pwd)/$(basename "$EVM_CALL")"
export SOLC_JS="$(pwd)/scripts/solc/solc.js"
OUT="$(pwd)/target/peer-evm"
mkdir -p "$OUT/srs"
HELPER="$OUT/evm_peer.py"
cat > "$HELPER" <<'PY'
import json, os, subprocess, sys

def ezkl_stage(mdir, work, srsdir):
    """The EZKL pipeline (as ezkl_run.py) plus its EVM artifacts. Run in the venv."""
    import asyncio, ezkl
    p = lambda n: os.path.join(work, n)
    onnx = os.path.join(mdir, "network.onnx")
    ezkl.gen_settings(onnx, p("settings.json"))
    assert ezkl.calibrate_settings(os.path.join(mdir, "calibration.json"), onnx, p("settings.json"), target="resources")
    k = json.load(open(p("settings.json")))["run_args"]["logrows"]
    assert ezkl.compile_circuit(onnx, p("model.compiled"), p("settings.json"))
    srs = os.path.join(srsdir, f"kzg{k}.srs")
    if not os.path.exists(srs):
        ezkl.gen_srs(srs, k)
    ezkl.gen_witness(os.path.join(mdir, "input.json"), p("model.compiled"), p("witness.json"))
    assert ezkl.setup(p("model.compiled"), p("vk.key"), p("pk.key"), srs_path=srs)
    assert ezkl.prove(p("witness.json"), p("model.compiled"), p("pk.key"), p("proof.json"), srs_path=srs)
    assert ezkl.verify(p("proof.json"), p("settings.json"), p("vk.key"), srs_path=srs)

    async def sol():
        for reusable, name in ((False, "Verifier.sol"), (True, "VerifierReusable.sol")):
            try:
                # writes the .sol, then fails making the ABI (it wants to download solc): fine
                await ezkl.create_evm_verifier(p("vk.key"), p("settings.json"), p(name), p(name + ".abi"),
                                               srs_path=srs, reusable=reusable)
            except Exception as e:
                if not os.path.exists(p(name)):
                    raise
                print(f"  (create_evm_verifier: {str(e)[:120]}; the .sol was written)", file=sys.stderr)
        assert await ezkl.create_evm_vka(p("vk.key"), p("settings.json"), p("vka.bin"), srs_path=srs, decimals=18)
    asyncio.run(sol())
    ezkl.encode_evm_calldata(p("proof.json"), p("calldata.bin"))
    ezkl.encode_evm_calldata(p("proof.json"), p("calldata_reusable.bin"), vka_path=p("vka.bin"))
    os.remove(p("pk.key"))  # GBs for the bigger models; not needed past prove
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)  # ezkl 23's async runtime can segfault at interpreter exit

# ------------------------------------------------------------------------------ EVM side
EIP170 = 24576
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

def solc(src, name, optimizer=True, runs=1):
    j = {"language": "Solidity", "sources": {"v.sol": {"content": src}},
         "settings": {"optimizer": {"enabled": optimizer, "runs": runs},
                      "outputSelection": {"*": {"*": ["evm.bytecode.object", "evm.deployedBytecode.object"]}}}}
    r = subprocess.run(["node", os.environ["SOLC_JS"], "--standard-json"], input=json.dumps(j),
                       capture_output=True, text=True, check=True)
    o = json.loads(r.stdout)
    errs = [e for e in o.get("errors", []) if e["severity"] == "error"]
    if errs:
        return None, errs[0]["formattedMessage"].splitlines()[0]
    c = o["contracts"]["v.sol"][name]["evm"]
    return (bytes.fromhex(c["bytecode"]["object"]), bytes.fromhex(c["deployedBytecode"]["object"])), None

def call(work, tag, deploy, calldata, lift):
    d, c = os.path.join(work, f"{tag}.deploy.hex"), os.path.join(work, f"{tag}.calldata.bin")
    open(d, "w").write(deploy.hex())
    open(c, "wb").write(calldata)
    cmd = [os.environ["EVM_CALL"], d, c] + (["--lift-eip170"] if lift else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"evm_call {tag}: {r.stderr.strip()}")
    return json.loads(r.stdout)

def word(b, at):
    return int.from_bytes(b[at:at + 32], "big")

def tampered(cd, what):
    """calldata of verifyProof(bytes proof, uint256[] instances, ...) with one thing changed."""
    cd = bytearray(cd)
    poff, ioff = 4 + word(cd, 4), 4 + word(cd, 36)
    plen, n = word(cd, poff), word(cd, ioff)
    if what == "proof":
        # a byte inside the last evaluation (scalars come before SHPLONK's two final G1 points),
        # so the proof still parses and the failure comes from the opening/pairing check
        cd[poff + 32 + plen - 128 - 8] ^= 0x01
    else:
        at = ioff + 32 + 32 * (n - 1)   # last public instance + 1
        cd[at:at + 32] = ((word(cd, at) + 1) % R).to_bytes(32, "big")
    return bytes(cd)

def evm_stage(model, work, k):
    p = lambda n: os.path.join(work, n)
    res = {"model": model, "k": k}
    pj = json.load(open(p("proof.json")))
    pr = pj["proof"]
    res["proof_bytes"] = len(pr) if isinstance(pr, list) else len(pr.removeprefix("0x")) // 2
    res["instances"] = sum(len(i) for i in pj["instances"])
    cd = open(p("calldata.bin"), "rb").read()
    res["calldata_bytes"] = len(cd)
    assert word(cd, 4 + word(cd, 4)) == res["proof_bytes"]

    # per-model Halo2Verifier
    src = open(p("Verifier.sol")).read()
    res["pragma"] = next(l.strip() for l in src.splitlines() if l.startswith("pragma"))
    (dep, rt), err = solc(src, "Halo2Verifier")
    assert err is None, err
    lift = len(rt) > EIP170
    ok = call(work, "verifier", dep, cd, lift)
    res.update(runtime_bytes=ok["runtime_bytes"], fits_eip170=ok["fits_eip170"], accepted=ok["accepted"],
               gas=ok["gas_used"])
    t = {w: call(work, f"verifier.tampered-{w}", dep, tampered(cd, w), lift) for w in ("proof", "instance")}
    res["tamper"] = {w: {"accepted": r["accepted"], "gas": r["gas_used"]} for w, r in t.items()}
    # optimizer off, for reference
    out, err = solc(src, "Halo2Verifier", optimizer=False)
    if out is None:
        res["optimizer_off"] = err
    else:
        r = call(work, "verifier.noopt", out[0], cd, len(out[1]) > EIP170)
        res["optimizer_off"] = {"runtime_bytes": r["runtime_bytes"], "accepted": r["accepted"], "gas": r["gas_used"]}

    # reusable verifier + vka
    rsrc = open(p("VerifierReusable.sol")).read()
    rcd = open(p("calldata_reusable.bin"), "rb").read()
    voff = 4 + word(rcd, 68)
    nw = word(rcd, voff)
    vka_words = rcd[voff + 32: voff + 32 + 32 * nw]
    assert len(rcd) == voff + 32 + 32 * nw
    (rdep, rrt), err = solc(rsrc, "Halo2VerifierReusable")
    assert err is None, err
    reg_cd = bytes.fromhex("dc8b4094") + (32).to_bytes(32, "big") + rcd[voff:]   # registerVka(bytes32[])
    reg = call(work, "reusable.register", rdep, reg_cd, len(rrt) > EIP170)
    marker = "mapping(bytes32 => bool) registeredVkas;"
    assert marker in rsrc
    pre = rsrc.replace(marker, marker + '\n    constructor() { registeredVkas[keccak256(hex"%s")] = true; }'
                       % vka_words.hex(), 1)
    (pdep, prt), err = solc(pre, "Halo2VerifierReusable")
    assert err is None, err
    meta = 2 + prt[-1] + 256 * prt[-2]        # CBOR metadata length word at the end
    assert len(prt) == len(rrt) and prt[:-meta] == rrt[:-meta], "constructor changed the runtime code"
    rl = len(rrt) > EIP170
    rok = call(work, "reusable.verify", pdep, rcd, rl)
    rt_ = call(work, "reusable.verify.tampered-proof", pdep, tampered(rcd, "proof"), rl)
    res["reusable"] = {"runtime_bytes": rok["runtime_bytes"], "fits_eip170": rok["fits_eip170"],
                       "vka_words": nw, "register_accepted": reg["accepted"], "register_gas": reg["gas_used"],
                       "calldata_bytes": len(rcd), "accepted": rok["accepted"], "gas": rok["gas_used"],
                       "tamper_proof": {"accepted": rt_["accepted"], "gas": rt_["gas_used"]}}
    json.dump(res, open(p("result.json"), "w"), indent=1)
    return res

def row(r):
    f = lambda x: f"{x:,}"
    t = r["tamper"]
    rej = ("yes" if not t["proof"]["accepted"] and not t["instance"]["accepted"] and
           not r["reusable"]["tamper_proof"]["accepted"] else "**NO**")
    rej += f" ({f(t['proof']['gas'])} / {f(t['instance']['gas'])} / {f(r['reusable']['tamper_proof']['gas'])})"
    oo = r["optimizer_off"]
    oo = "stack too deep" if isinstance(oo, str) and "Stack too deep" in oo else (
        oo if isinstance(oo, str) else f"{f(oo['runtime_bytes'])} B, {f(oo['gas'])} gas")
    u = r["reusable"]
    gas = f(r["gas"]) if r["accepted"] else f"**rejected** ({f(r['gas'])})"
    ugas = f(u["gas"]) if u["accepted"] else f"**rejected** ({f(u['gas'])})"
    return (f"| {r['model']} | {r['k']} | {f(r['runtime_bytes'])} | {'yes' if r['fits_eip170'] else '**no**'} | "
            f"{f(r['proof_bytes'])} | {r['instances']} | {f(r['calldata_bytes'])} | {gas} | {rej} | {oo} | "
            f"{f(u['runtime_bytes'])} | {u['vka_words']} ({f(32 * u['vka_words'])} B) | {f(u['register_gas'])} | "
            f"{f(u['calldata_bytes'])} | {ugas} |")

if __name__ == "__main__":
    if sys.argv[1] == "ezkl":
        ezkl_stage(*sys.argv[2:5])
    elif sys.argv[1] == "evm":
        model, work = sys.argv[2:4]
        k = json.load(open(os.path.join(work, "settings.json")))["run_args"]["logrows"]
        print(row(evm_stage(model, work, k)))
PY

echo "| model | EZKL k | EZKL verifier runtime B | fits EIP-170 | EZKL proof B | public instances | calldata B | verify gas | tampered rejected (gas: proof / instance / reusable proof) | optimizer off | reusable verifier runtime B | vka words (B) | registerVka gas (once) | reusable calldata B | reusable verify gas |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for arg in "${MODELS[@]}"; do
  if [ -d "$arg" ]; then src="$(cd "$arg" && pwd)"; else src="$(pwd)/models/$arg"; fi
  m=$(basename "$src")
  work="$OUT/$m"
  if [ "${REUSE:-0}" != 1 ] || [ ! -f "$work/calldata_reusable.bin" ]; then
    rm -rf "$work"; mkdir -p "$work"
    echo "[$m] EZKL pipeline ..." >&2
    t0=$SECONDS
    # create_evm_verifier writes the .sol, then tries to fetch solc (svm) for an ABI we do not
    # need: a dead proxy makes sure nothing is downloaded
    if ! HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
        https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 NO_PROXY= no_proxy= \
        "$PY" "$HELPER" ezkl "$src" "$work" "$OUT/srs" > "$work/ezkl.log" 2>&1; then
      echo "| $m | EZKL failed: $(tail -c 200 "$work/ezkl.log" | tr '\n|' '  ') |"; continue
    fi
    echo "[$m] EZKL done in $((SECONDS - t0)) s" >&2
  fi
  "$PY" "$HELPER" evm "$m" "$work" || echo "| $m | EVM stage failed |"
done
