// Prints some points of a .ptau file as decimal affine coordinates, decoded by snarkjs's own
// libraries (ffjavascript, @iden3/binfileutils): an independent check of zkinfer's decoder.
import * as binFileUtils from "@iden3/binfileutils";
import { getCurveFromName } from "ffjavascript";

const [file, ...idx] = process.argv.slice(2);
const { fd, sections } = await binFileUtils.readBinFile(file, "ptau", 1);
const curve = await getCurveFromName("bn128");
async function point(section, group, i) {
  const G = curve[group];
  const size = G.F.n8 * 2;
  const buff = await fd.read(size, sections[section][0].p + i * size);
  const p = G.toObject(G.toAffine(G.fromRprLEM(buff, 0)));
  return p.slice(0, 2).map((c) => (Array.isArray(c) ? c.map(String) : String(c)));
}
const out = { tauG1: {}, tauG2: {} };
for (const i of idx.map(Number)) out.tauG1[i] = await point(2, "G1", i);
for (const i of [0, 1]) out.tauG2[i] = await point(3, "G2", i);
await fd.close();
await curve.terminate();
console.log(JSON.stringify(out, null, 1));
