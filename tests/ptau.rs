//! `params import` of snarkjs `.ptau` files (fixtures made by `scripts/ptau-fixture/make.sh` with
//! snarkjs from the npm registry; nothing is downloaded here): the points decode to what
//! snarkjs's own libraries decode, a cut-down import keeps the id, keys made from the .ptau and
//! from its import are identical, a proof made with them verifies with that id pinned, and a
//! corrupted or forged file is refused with nothing written.

mod common;

use common::{describe, s, zkinfer};
use halo2_proofs::halo2curves::{
    bn256::{Fq, Fq2},
    ff::PrimeField,
};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ptau")
        .join(name)
}

fn fq(dec: &serde_json::Value) -> Fq {
    Fq::from_str_vartime(dec.as_str().expect("decimal string")).expect("in range")
}

fn fq2(pair: &serde_json::Value) -> Fq2 {
    Fq2 {
        c0: fq(&pair[0]),
        c1: fq(&pair[1]),
    }
}

/// The id line `params id` prints.
fn id_of(file: &Path) -> String {
    let o = zkinfer(&["params", "id", s(file)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    out.split("srs id ")
        .nth(1)
        .expect("an id")
        .split_whitespace()
        .next()
        .expect("id")
        .to_string()
}

#[test]
fn points_match_snarkjs_decoding() {
    let points: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("snarkjs_pow10.points.json")).expect("points.json"),
    )
    .expect("json");
    let srs =
        zkinfer::ptau::read_srs_file(&fixture("snarkjs_pow10.ptau"), Some(10)).expect("import");
    assert_eq!(srs.k(), 10);
    let g = srs.get_g();
    let mut checked = 0;
    for (i, xy) in points["tauG1"].as_object().expect("tauG1") {
        let i: usize = i.parse().expect("index");
        if i < g.len() {
            assert_eq!((g[i].x, g[i].y), (fq(&xy[0]), fq(&xy[1])), "τ^{i}·G1");
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} points compared");
    for (i, p) in [(0, srs.g2()), (1, srs.s_g2())] {
        let xy = &points["tauG2"][i.to_string()];
        assert_eq!((p.x, p.y), (fq2(&xy[0]), fq2(&xy[1])), "τ^{i}·G2");
    }
}

#[test]
fn import_keeps_the_id_and_keys_match() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let ptau = fixture("snarkjs_pow10.ptau");
    let id = id_of(&ptau);

    // full and cut-down imports, and the prepared (Hermez-style) file
    let full = t.join("kzg10.srs");
    let o = zkinfer(&["params", "import", s(&ptau), "-o", s(&full)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&id));
    assert_eq!(id_of(&full), id);
    let small = t.join("kzg7.srs");
    let o = zkinfer(&["params", "import", s(&ptau), "--k", "7", "-o", s(&small)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert_eq!(id_of(&small), id);
    assert_eq!(
        std::fs::read(&small).expect("small").len(),
        4 + 2 * 128 * 64 + 2 * 128
    );
    let prepared = fixture("snarkjs_pow4_prepared.ptau");
    let o = zkinfer(&[
        "params",
        "import",
        s(&prepared),
        "-o",
        s(&t.join("kzg4.srs")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert_ne!(id_of(&prepared), id, "two ceremonies, two ids");

    // keys from the .ptau directly and from its import are the same keys; the proof verifies
    // with the ceremony's id pinned, and not with another
    let mut vks = Vec::new();
    for (i, srs) in [&ptau, &full].iter().enumerate() {
        let dir = t.join(format!("build{i}"));
        let report = common::compile("mlp_tiny", &dir);
        let k = report.settings.k;
        assert!(k <= 10, "mlp_tiny needs k = {k}");
        let o = zkinfer(&["setup", s(&dir), "--srs", s(srs)]);
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("INSECURE"));
        vks.push(std::fs::read(dir.join("vk.bin")).expect("vk"));
    }
    assert_eq!(vks[0], vks[1], "vk from the .ptau and from its import");
    let dir = t.join("build0");
    let proof = t.join("proof.json");
    let input = common::model_dir("mlp_tiny").join("input.json");
    let o = zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let (c, vk) = (dir.join("commitment.json"), dir.join("vk.bin"));
    let o = common::verify_with(&c, &vk, &proof, &["--trusted-srs", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let other = id_of(&prepared);
    let o = common::verify_with(&c, &vk, &proof, &["--trusted-srs", &other]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));

    // a larger k than the file has
    let o = zkinfer(&[
        "params",
        "import",
        s(&ptau),
        "--k",
        "11",
        "-o",
        s(&t.join("x.srs")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("k ≤ 10"),
        "{}",
        describe(&o)
    );
}

#[test]
fn corrupted_or_forged_files_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let original = std::fs::read(fixture("snarkjs_pow10.ptau")).expect("ptau");
    // offset of the τ·G1 section: sections are (type u32, size u64, data); find type 2
    let mut at = 12;
    let g1_at = loop {
        let kind = u32::from_le_bytes(original[at..at + 4].try_into().expect("u32"));
        let size = u64::from_le_bytes(original[at + 4..at + 12].try_into().expect("u64")) as usize;
        if kind == 2 {
            break at + 12;
        }
        at += 12 + size;
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped bit in τ^5·G1",
            {
                let mut b = original.clone();
                b[g1_at + 5 * 64 + 7] ^= 4;
                b
            },
            "τ^5·G1 is not a BN254 G1 point",
        ),
        (
            "τ^9·G1 replaced by τ^10·G1",
            {
                let mut b = original.clone();
                b.copy_within(g1_at + 10 * 64..g1_at + 11 * 64, g1_at + 9 * 64);
                b
            },
            "pairing check failed",
        ),
        (
            "truncated",
            original[..original.len() - 100].to_vec(),
            "remain in the file",
        ),
        (
            "a BLS12-381 header",
            {
                let mut b = original.clone();
                let h = 12 + 12;
                b[h..h + 4].copy_from_slice(&48u32.to_le_bytes());
                b
            },
            "not for BN254",
        ),
    ];
    for (name, bytes, needle) in cases {
        let f = t.join("bad.ptau");
        std::fs::write(&f, &bytes).expect("write");
        let out = t.join("out.srs");
        let o = zkinfer(&["params", "import", s(&f), "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(needle) && err.contains("bad.ptau"),
            "{name}: {err}"
        );
        assert!(!out.exists(), "{name}: an output was written");
        assert!(
            std::fs::read_dir(t).expect("ls").count() == 1,
            "{name}: a temp file was left"
        );
    }
}
