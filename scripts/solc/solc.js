#!/usr/bin/env node
// A `solc --standard-json` stand-in over solcjs (the npm registry's solc, pinned in
// package.json): reads a standard-JSON compiler input on stdin, writes the output JSON on
// stdout. zkinfer runs it for `zkinfer evm` (see scripts/install-solc.sh).
const solc = require("solc");
if (!process.argv.includes("--standard-json")) {
  if (process.argv.includes("--version")) {
    console.log("solcjs " + solc.version());
    process.exit(0);
  }
  console.error("usage: solc.js --standard-json < input.json");
  process.exit(2);
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(input));
});
