//! Cutting a verifier that exceeds EIP-170 into contracts that each fit it.
//!
//! snark-verifier's verifier is one `assembly` block: a prelude, then a straight line of
//! statements that keep every intermediate value in memory at fixed addresses and fold each
//! check into `success := and(…, success)`. Only `success`, `f_p` and `f_q` live on the stack
//! between top-level statements (the parser refuses code where anything else would), so the
//! line can be cut anywhere between top-level statements: part *i* runs a contiguous range of
//! statements and returns its whole memory (`return(0, msize())`) if its checks held, and part
//! *i + 1* starts from that memory.
//!
//! The entry contract, `Halo2Verifier`, is what a caller uses. It checks the calldata length,
//! then calls each part in order with the caller's calldata followed by the previous part's
//! memory, reverting when a part reverts; the last part returns nothing, as the single contract
//! did. It holds the parts' addresses (constructor arguments, in storage) and checks each
//! part's `EXTCODEHASH` against the hash compiled into its own code before calling it, so its
//! own code hash pins the whole verifier: deploying it with other contracts' addresses only
//! makes it reject everything.
//!
//! A part called directly, with made-up memory, proves nothing: only the entry contract
//! verifies (pin its code hash, never a part's). Part 1 keeps zkinfer's prelude (calldata
//! length, canonical scalars, range checks); every part keeps `zkinfer_fq` on its scalar reads.
//! [`parse`] refuses statements that would run differently in a part (reading the calldata
//! length, computed calldata offsets, the memory size, return data; `success` set other than
//! by `and(…, success)`), so a future snark-verifier that emits them fails loudly.
//!
//! Limits: the entry contract reads the parts' addresses from its own storage, so calling it
//! through `DELEGATECALL` rejects every proof (the single contract would not), and it needs a
//! chain where `EXTCODEHASH` is the Keccak-256 of the runtime code (not zkSync Era's).

use super::EvmError;

const ASM_OPEN: &str = "assembly (\"memory-safe\") {";
const CONTRACT: &str = "contract Halo2Verifier {";
const FINAL_CHECK: &str = "if iszero(success) { revert(0, 0) }";
/// Variables allowed at the top level of the assembly block, all declared before the
/// statements: a Solidity layout check, the verdict and the two field moduli.
const TOP_LETS: [&str; 4] = ["data", "success", "f_p", "f_q"];

/// The verifier's assembly block cut into top-level items.
pub struct Parsed {
    /// SPDX line and pragma, before the contract.
    pre: String,
    /// From the contract line to the assembly block's opening brace.
    head: String,
    /// Items before the statements (layout check, zkinfer's prelude, the three variables,
    /// function definitions), in order: part 1 runs them all.
    setup: Vec<String>,
    /// Function definitions (every part has them).
    functions: Vec<String>,
    /// `let success`, `let f_p`, `let f_q` (every part declares them).
    shared_lets: Vec<String>,
    /// The straight-line statements.
    body: Vec<String>,
    /// From the assembly block's closing brace to the end of the file.
    tail: String,
}

fn bad(m: &str) -> EvmError {
    EvmError::Generate(format!("cannot split the generated verifier: {m}"))
}

/// Brace depth change of one line of Yul, comments and string literals ignored.
fn depth_change(line: &str) -> i64 {
    let code = line.split("//").next().unwrap_or("");
    let mut d = 0;
    let mut in_str = false;
    for c in code.chars() {
        match c {
            '"' => in_str = !in_str,
            '{' if !in_str => d += 1,
            '}' if !in_str => d -= 1,
            _ => {}
        }
    }
    d
}

/// Refuses a statement that would behave differently in a part than in the one contract: one
/// that reads the calldata's length or anything past the caller's calldata, the memory size,
/// return data or code; that sets `success` other than by `and(…, success)`; or that changes
/// `f_p` or `f_q`.
fn check_statement(t: &str) -> Result<(), EvmError> {
    const REFUSED: [&str; 7] = [
        "msize(",
        "returndatasize(",
        "returndatacopy(",
        "calldatasize(",
        "calldatacopy(",
        "codecopy(",
        "extcodecopy(",
    ];
    if let Some(op) = REFUSED.iter().find(|op| t.contains(*op)) {
        return Err(bad(&format!("a statement uses {op}…)")));
    }
    // every calldata read at a literal offset (below the calldata length: `harden` checks)
    for (at, m) in t.match_indices("calldataload(") {
        if !t[at + m.len()..].starts_with("0x") {
            return Err(bad("a calldata read at a computed offset"));
        }
    }
    for line in t.lines() {
        let l = line.trim();
        if l.starts_with("f_p :=") || l.starts_with("f_q :=") {
            return Err(bad("a statement changes a field modulus"));
        }
        if l.starts_with("success :=")
            && !(l.starts_with("success := and(") && l.ends_with(", success)"))
        {
            return Err(bad(&format!(
                "`success` set other than by `and(…, success)`: {l}"
            )));
        }
    }
    Ok(())
}

/// Parses the (hardened) generated verifier.
pub fn parse(code: &str) -> Result<Parsed, EvmError> {
    if code.matches(ASM_OPEN).count() != 1 || code.matches(CONTRACT).count() != 1 {
        return Err(bad("not one contract with one assembly block"));
    }
    let contract_at = code.find(CONTRACT).ok_or_else(|| bad(CONTRACT))?;
    let asm_end = code.find(ASM_OPEN).ok_or_else(|| bad(ASM_OPEN))? + ASM_OPEN.len();
    if asm_end < contract_at {
        return Err(bad("the assembly block is outside the contract"));
    }
    let rest = &code[asm_end..];
    let mut items: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut depth = 0i64;
    let mut tail_at = None;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if depth == 0 && line.trim_start().starts_with('}') {
            tail_at = Some(offset);
            break;
        }
        offset += line.len();
        current.push_str(line);
        depth += depth_change(line);
        if depth < 0 {
            return Err(bad("unbalanced braces"));
        }
        if depth == 0 {
            if !current.trim().is_empty() {
                items.push(std::mem::take(&mut current));
            }
            current.clear();
        }
    }
    let tail_at = tail_at.ok_or_else(|| bad("the assembly block does not close"))?;
    let tail = rest[tail_at..].to_string();

    let trimmed = |s: &String| s.trim().to_string();
    let let_name = |s: &str| -> Option<String> {
        s.strip_prefix("let ")
            .map(|r| r.split([' ', ':']).next().unwrap_or("").to_string())
    };
    // setup: every item up to and including `let f_q := …`
    let f_q_at = items
        .iter()
        .position(|i| let_name(i.trim()).as_deref() == Some("f_q"))
        .ok_or_else(|| bad("no `let f_q`"))?;
    let final_at = items
        .iter()
        .rposition(|i| i.trim() == FINAL_CHECK)
        .ok_or_else(|| bad("no final `if iszero(success)`"))?;
    if final_at <= f_q_at + 1 {
        return Err(bad("no statements"));
    }
    for after in &items[final_at + 1..] {
        let t = after.trim();
        if !(t.starts_with("//") || t == "return(0, 0)") {
            return Err(bad(&format!("unexpected code after the final check: {t}")));
        }
    }
    let mut setup = Vec::new();
    let mut functions = Vec::new();
    let mut shared_lets = Vec::new();
    for item in &items[..=f_q_at] {
        let t = trimmed(item);
        if t.starts_with("function ") {
            functions.push(item.clone());
        } else if let Some(name) = let_name(&t) {
            if !TOP_LETS.contains(&name.as_str()) {
                return Err(bad(&format!("a top-level variable `{name}`")));
            }
            if name != "data" {
                shared_lets.push(item.clone());
            }
        }
        setup.push(item.clone());
    }
    if shared_lets.len() != 3 {
        return Err(bad(
            "not exactly `success`, `f_p` and `f_q` before the statements",
        ));
    }
    let mut body = Vec::new();
    for item in &items[f_q_at + 1..final_at] {
        let t = trimmed(item);
        if t.starts_with("function ") {
            functions.push(item.clone());
            setup.push(item.clone());
        } else if t.starts_with("let ") {
            return Err(bad(&format!(
                "a top-level variable among the statements: {}",
                t.lines().next().unwrap_or("")
            )));
        } else if !t.starts_with("//") {
            check_statement(&t)?;
            body.push(item.clone());
        }
    }
    Ok(Parsed {
        pre: code[..contract_at].to_string(),
        head: code[contract_at..asm_end].to_string(),
        setup,
        functions,
        shared_lets,
        body,
        tail,
    })
}

/// Name of part `i` (1-based).
pub fn part_name(i: usize) -> String {
    format!("Halo2VerifierPart{i}")
}

impl Parsed {
    /// Statements in the straight line.
    pub fn statements(&self) -> usize {
        self.body.len()
    }

    /// The source of `n` part contracts, the statements cut into ranges of about equal source
    /// length. `calldata_len` is the length of the caller's calldata (part *i > 1* finds the
    /// previous part's memory after it).
    pub fn parts_source(&self, n: usize, calldata_len: usize) -> Result<String, EvmError> {
        if n < 2 || n > self.body.len() {
            return Err(bad(&format!(
                "{n} parts for {} statements",
                self.body.len()
            )));
        }
        let total: usize = self.body.iter().map(String::len).sum();
        let mut ranges = Vec::with_capacity(n);
        let mut start = 0;
        let mut acc = 0;
        for (j, item) in self.body.iter().enumerate() {
            acc += item.len();
            let cut = ranges.len() + 1;
            // leave at least one statement for each remaining part
            if cut < n && acc * n >= total * cut && self.body.len() - (j + 1) >= n - cut {
                ranges.push(start..j + 1);
                start = j + 1;
            }
        }
        ranges.push(start..self.body.len());
        if ranges.len() != n || ranges.iter().any(|r| r.is_empty()) {
            return Err(bad("uneven statements"));
        }
        let mut src = self.pre.clone();
        for (i, range) in ranges.into_iter().enumerate() {
            let name = part_name(i + 1);
            let last = i + 1 == n;
            src.push_str(
                &self
                    .head
                    .replacen(CONTRACT, &format!("contract {name} {{"), 1),
            );
            src.push_str(&format!(
                "\n            // zkinfer: part {} of {n}, statements {}..{} of the verifier\n",
                i + 1,
                range.start,
                range.end
            ));
            if i == 0 {
                for item in &self.setup {
                    src.push_str(item);
                }
            } else {
                for item in self.functions.iter().chain(&self.shared_lets) {
                    src.push_str(item);
                }
                src.push_str(&format!(
                    "            // the previous part's memory, after the caller's calldata\n            calldatacopy(0, {calldata_len:#x}, sub(calldatasize(), {calldata_len:#x}))\n"
                ));
            }
            for item in &self.body[range] {
                src.push_str(item);
            }
            src.push_str(&format!("\n            {FINAL_CHECK}\n"));
            if last {
                src.push_str("            return(0, 0)\n");
            } else {
                src.push_str("            // the memory, for the next part\n            return(0, msize())\n");
            }
            src.push_str(&self.tail);
            src.push('\n');
        }
        Ok(src)
    }
}

/// The entry contract calling the parts whose runtime code hashes are `part_hashes`, in order.
/// `commitment` (the digest) goes in a comment.
pub fn entry_source(part_hashes: &[String], calldata_len: usize, commitment: &str) -> String {
    let n = part_hashes.len();
    let params: Vec<String> = (1..=n).map(|i| format!("address part{i}")).collect();
    let stores: String = (1..=n)
        .map(|i| format!("            sstore({}, part{i})\n", i - 1))
        .collect();
    let mut calls = String::new();
    for (i, hash) in part_hashes.iter().enumerate() {
        let last = i + 1 == n;
        calls.push_str(&format!(
            "            // part {} ({})
            part := sload({i})
            if iszero(eq(extcodehash(part), 0x{hash})) {{ revert(0, 0) }}
            if iszero(staticcall(gas(), part, 0, n, 0, 0)) {{ revert(0, 0) }}
",
            i + 1,
            part_name(i + 1),
        ));
        if !last {
            calls.push_str(&format!(
                "            returndatacopy({calldata_len:#x}, 0, returndatasize())
            n := add({calldata_len:#x}, returndatasize())
"
            ));
        }
    }
    format!(
        "// SPDX-License-Identifier: MIT

pragma solidity {version};

/// zkinfer: the verifier of model commitment {commitment}, in {n} parts (each within
/// EIP-170's 24,576 bytes). Deploy {parts} first, then this contract with their addresses in
/// order. It checks each part's code hash before calling it, so its own code hash
/// (EXTCODEHASH) pins the whole verifier. Calldata: the public values (32-byte words), then
/// the proof. Returns nothing if the proof verifies, reverts otherwise.
contract Halo2Verifier {{
    constructor({params}) {{
        assembly {{
{stores}        }}
    }}

    fallback(bytes calldata) external returns (bytes memory) {{
        assembly {{
            if iszero(eq(calldatasize(), {calldata_len:#x})) {{ revert(0, 0) }}
            calldatacopy(0, 0, {calldata_len:#x})
            let n := {calldata_len:#x}
            let part := 0
{calls}            return(0, 0)
        }}
    }}
}}
",
        version = super::SOLC_VERSION,
        parts = (1..=n).map(part_name).collect::<Vec<_>>().join(", "),
        params = params.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = r#"// SPDX-License-Identifier: MIT

pragma solidity 0.8.19;

contract Halo2Verifier {
    fallback(bytes calldata) external returns (bytes memory) {
        assembly ("memory-safe") {
            let data := mload(0x40)
            if iszero(eq(data, 0x80)) {
                revert(0, 0)
            }
            let success := true
            let f_p := 7
            let f_q := 5
            function validate_ec_point(x, y) -> valid {
                valid := 1 // a } in a comment
            }
            mstore(0xa0, 1)
        {
            let x := calldataload(0x0)
            mstore(0xc0, x)
        }
mstore(0xe0, 3)
            success := and(eq(mload(0xa0), 1), success)

            // Revert if anything fails
            if iszero(success) { revert(0, 0) }

            // Return empty bytes on success
            return(0, 0)

        }
    }
}
"#;

    #[test]
    fn parses_and_cuts_between_top_level_statements() {
        let p = parse(TOY).expect("parses");
        assert_eq!(p.statements(), 4);
        assert_eq!(p.functions.len(), 1);
        let src = p.parts_source(2, 0x20).expect("cuts");
        assert_eq!(src.matches("contract Halo2VerifierPart").count(), 2);
        assert_eq!(src.matches("pragma solidity").count(), 1);
        // part 2 has the function and the variables, and starts from part 1's memory
        let part2 = &src[src.find("contract Halo2VerifierPart2").expect("part 2")..];
        assert!(part2.contains("function validate_ec_point"));
        assert!(part2.contains("let f_q := 5"));
        assert!(part2.contains("calldatacopy(0, 0x20, sub(calldatasize(), 0x20))"));
        assert!(!part2.contains("let data"));
        assert!(part2.contains("return(0, 0)"));
        let part1 = &src[..src.find("contract Halo2VerifierPart2").expect("part 2")];
        assert!(part1.contains("return(0, msize())"));
        assert!(part1.contains("let data"));
        // every statement is in exactly one part
        for s in [
            "mstore(0xa0, 1)",
            "mstore(0xc0, x)",
            "mstore(0xe0, 3)",
            "eq(mload(0xa0), 1)",
        ] {
            assert_eq!(src.matches(s).count(), 1, "{s}");
        }
        assert!(p.parts_source(5, 0x20).is_err());
        assert!(p.parts_source(1, 0x20).is_err());
    }

    #[test]
    fn refuses_code_with_other_top_level_variables() {
        let with_let = TOY.replace("mstore(0xe0, 3)", "let t := 3\nmstore(0xe0, t)");
        assert!(parse(&with_let).is_err());
        let no_check = TOY.replace("if iszero(success) { revert(0, 0) }", "");
        assert!(parse(&no_check).is_err());
        let extra = TOY.replace("return(0, 0)\n", "return(0, 0)\nmstore(0, 1)\n");
        assert!(parse(&extra).is_err());
        // statements that would run differently in a part
        for stmt in [
            "mstore(0xe0, msize())",
            "mstore(0xe0, calldatasize())",
            "mstore(0xe0, calldataload(mload(0xa0)))",
            "returndatacopy(0xe0, 0, 0x20)",
            "success := eq(mload(0xa0), 1)",
            "f_q := 3",
        ] {
            let changed = TOY.replace("mstore(0xe0, 3)", stmt);
            assert!(parse(&changed).is_err(), "{stmt}");
        }
    }
}
