//! Bad input, table-driven: each case runs the real binary and must exit with its code (2 for
//! an unreadable or unusable file, 1 for a proof that does not hold), print a message naming
//! the file or the problem, never panic, and leave no output file behind. A failing write (a
//! full disk) is injected with the file-size limit. (A read-only output folder is not among
//! them: tests run as root here, which writes anyway.)

mod common;

use common::{built, describe, model_dir, s, zkinfer};
use std::path::{Path, PathBuf};

struct Case {
    what: &'static str,
    args: Vec<String>,
    code: i32,
    /// Fragments the output (stdout + stderr) must contain.
    says: Vec<String>,
    /// Files that must not exist afterwards.
    absent: Vec<PathBuf>,
}

fn case(what: &'static str, args: &[&str], code: i32, says: &[&str], absent: &[&Path]) -> Case {
    Case {
        what,
        args: args.iter().map(|a| a.to_string()).collect(),
        code,
        says: says.iter().map(|x| x.to_string()).collect(),
        absent: absent.iter().map(|p| p.to_path_buf()).collect(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn every_bad_input_exits_with_its_code_a_message_and_no_output() {
    let tiny = built("mlp_tiny");
    let other = built("cnn_small");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let out = t.join("proof.json");
    let input = model_dir("mlp_tiny").join("input.json");
    // honest proofs of both models, for the cross-model cases
    let proof = t.join("tiny.proof.json");
    let o = zkinfer(&["prove", s(tiny), "--input", s(&input), "-o", s(&proof)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let other_proof = t.join("other.proof.json");
    let other_input = model_dir("cnn_small").join("input.json");
    let o = zkinfer(&[
        "prove",
        s(other),
        "--input",
        s(&other_input),
        "-o",
        s(&other_proof),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));

    let missing = t.join("missing.json");
    let empty = write(t, "empty.json", b"");
    let truncated = write(t, "truncated.json", b"{\"input_data\": [[0.1, 0.2,");
    let wrong_type = write(t, "wrong_type.json", b"{\"input_data\": \"zero\"}");
    let a_list = write(t, "a_list.json", b"[[0.5, 0.5]]");
    let nan = write(t, "nan.json", b"{\"input_data\": [[NaN]]}");
    let huge = write(
        t,
        "huge.json",
        format!("{{\"input_data\": [[1e999{}]]}}", ", 0.5".repeat(63)).as_bytes(),
    );
    let out_of_range = write(
        t,
        "out_of_range.json",
        format!("{{\"input_data\": [[1e6{}]]}}", ", 0.5".repeat(63)).as_bytes(),
    );
    let short = write(
        t,
        "short.json",
        format!("{{\"input_data\": [[0.5{}]]}}", ", 0.5".repeat(62)).as_bytes(),
    );
    let a_dir = t.join("a_dir");
    std::fs::create_dir_all(&a_dir).expect("mkdir");
    let no_parent = t.join("no/such/folder/proof.json");
    let junk = write(t, "junk.bin", b"not a key at all");
    let commitment = tiny.join("commitment.json");
    let vk = tiny.join("vk.bin");
    let truncated_vk = write(
        t,
        "truncated_vk.bin",
        &std::fs::read(&vk).expect("vk")[..300],
    );
    let truncated_commitment = {
        let c = std::fs::read(&commitment).expect("commitment");
        write(t, "truncated_commitment.json", &c[..c.len() / 2])
    };
    let unsupported =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops/unsupported_many.onnx");
    let compiled = t.join("compiled");
    // found by fuzzing (the fuzz/ target onnx): tract panicked on a graph output naming no
    // tensor
    let tract_panic =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx_tract_panic.onnx");
    // an SRS too small for the circuit
    let small_srs = t.join("small.srs");
    let o = zkinfer(&["params", "gen", "--k", "4", "-o", s(&small_srs)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let fresh = t.join("fresh");
    std::fs::create_dir_all(&fresh).expect("mkdir");
    for f in ["settings.json", "model.json"] {
        std::fs::copy(tiny.join(f), fresh.join(f)).expect("copy");
    }
    let keys: Vec<PathBuf> = ["pk.bin", "vk.bin", "commitment.json", "srs.bin"]
        .iter()
        .map(|f| fresh.join(f))
        .collect();
    let keys: Vec<&Path> = keys.iter().map(PathBuf::as_path).collect();

    let prove = |i: &Path, o: &Path| -> Vec<String> {
        ["prove", s(tiny), "--input", s(i), "-o", s(o)]
            .map(String::from)
            .to_vec()
    };
    let verify = |c: &Path, v: &Path, p: &Path| -> Vec<String> {
        [
            "verify",
            "--commitment",
            s(c),
            "--vk",
            s(v),
            "--proof",
            s(p),
        ]
        .map(String::from)
        .to_vec()
    };
    let owned =
        |what: &'static str, args: Vec<String>, code: i32, says: &[&str], absent: &[&Path]| Case {
            what,
            args,
            code,
            says: says.iter().map(|x| x.to_string()).collect(),
            absent: absent.iter().map(|p| p.to_path_buf()).collect(),
        };
    let cases = vec![
        owned(
            "input missing",
            prove(&missing, &out),
            2,
            &["missing.json"],
            &[&out],
        ),
        owned(
            "input empty",
            prove(&empty, &out),
            2,
            &["empty.json"],
            &[&out],
        ),
        owned(
            "input truncated",
            prove(&truncated, &out),
            2,
            &["truncated.json", "JSON"],
            &[&out],
        ),
        owned(
            "input of the wrong JSON type",
            prove(&wrong_type, &out),
            2,
            &["wrong_type.json"],
            &[&out],
        ),
        owned(
            "input a bare list",
            prove(&a_list, &out),
            2,
            &["a_list.json"],
            &[&out],
        ),
        owned("input NaN", prove(&nan, &out), 2, &["nan.json"], &[&out]),
        owned(
            "input infinite",
            prove(&huge, &out),
            2,
            &["huge.json"],
            &[&out],
        ),
        owned(
            "input out of the compiled range",
            prove(&out_of_range, &out),
            2,
            &["range"],
            &[&out],
        ),
        owned(
            "input of the wrong length",
            prove(&short, &out),
            2,
            &["63 values"],
            &[&out],
        ),
        owned(
            "output path is a folder",
            prove(&input, &a_dir),
            2,
            &["a_dir"],
            &[],
        ),
        owned(
            "output folder missing",
            prove(&input, &no_parent),
            2,
            &["no/such/folder"],
            &[&no_parent],
        ),
        owned(
            "build folder missing",
            [
                "prove",
                s(&t.join("nobuild")),
                "--input",
                s(&input),
                "-o",
                s(&out),
            ]
            .map(String::from)
            .to_vec(),
            2,
            &["nobuild"],
            &[&out],
        ),
        owned(
            "commitment missing",
            verify(&missing, &vk, &proof),
            2,
            &["missing.json"],
            &[],
        ),
        owned(
            "commitment truncated",
            verify(&truncated_commitment, &vk, &proof),
            2,
            &["truncated_commitment.json"],
            &[],
        ),
        owned(
            "commitment of the wrong type",
            verify(&input, &vk, &proof),
            2,
            &["input.json"],
            &[],
        ),
        owned(
            "vk junk",
            verify(&commitment, &junk, &proof),
            2,
            &["junk.bin"],
            &[],
        ),
        owned(
            "vk truncated",
            verify(&commitment, &truncated_vk, &proof),
            2,
            &["truncated_vk.bin"],
            &[],
        ),
        owned(
            "vk of another model",
            verify(&commitment, &other.join("vk.bin"), &proof),
            1,
            &["REJECTED"],
            &[],
        ),
        owned(
            "proof of another model",
            verify(&commitment, &vk, &other_proof),
            1,
            &["REJECTED"],
            &[],
        ),
        owned(
            "proof empty",
            verify(&commitment, &vk, &empty),
            2,
            &["empty.json"],
            &[],
        ),
        owned(
            "proof is an input file",
            verify(&commitment, &vk, &input),
            2,
            &["input.json"],
            &[],
        ),
        case(
            "SRS too small for k",
            &[
                "setup",
                s(&fresh),
                "--srs",
                s(&small_srs),
                "--insecure-dev-srs",
            ],
            2,
            &["larger SRS"],
            &keys,
        ),
        case(
            "SRS junk",
            &["setup", s(&fresh), "--srs", s(&junk)],
            2,
            &["junk.bin"],
            &keys,
        ),
        case(
            "unsupported op",
            &["compile", s(&unsupported), "-o", s(&compiled)],
            2,
            &["Floor"],
            &[&compiled],
        ),
        case(
            "ONNX missing",
            &["compile", s(&missing), "-o", s(&compiled)],
            2,
            &["missing.json"],
            &[&compiled],
        ),
        case(
            "ONNX junk",
            &["compile", s(&junk), "-o", s(&compiled)],
            2,
            &["junk.bin"],
            &[&compiled],
        ),
        case(
            "ONNX output naming no tensor",
            &["compile", s(&tract_panic), "-o", s(&compiled)],
            2,
            &["onnx_tract_panic.onnx", "malformed model"],
            &[&compiled],
        ),
        case(
            "calibration NaN",
            &[
                "compile",
                s(&model_dir("mlp_tiny").join("network.onnx")),
                "-o",
                s(&compiled),
                "--calibration",
                s(&nan),
            ],
            2,
            &["nan.json"],
            &[&compiled],
        ),
    ];
    let mut table = vec![];
    for c in &cases {
        let o = zkinfer(&c.args.iter().map(String::as_str).collect::<Vec<_>>());
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.status.code(),
            Some(c.code),
            "{}: {}",
            c.what,
            describe(&o)
        );
        assert!(!text.contains("panicked"), "{}: {}", c.what, describe(&o));
        for frag in &c.says {
            assert!(
                text.contains(frag.as_str()),
                "{}: no {frag:?} in {}",
                c.what,
                describe(&o)
            );
        }
        for f in &c.absent {
            assert!(!f.exists(), "{}: {} was written", c.what, f.display());
        }
        // nothing half-written next to the outputs either
        for dir in [t, tiny, fresh.as_path()] {
            let stray: Vec<_> = std::fs::read_dir(dir)
                .expect("list")
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
                .collect();
            assert!(stray.is_empty(), "{}: temp files left: {stray:?}", c.what);
        }
        let line = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        table.push(format!("{:<34} exit {}  {}", c.what, c.code, line));
    }
    println!("{} bad-input cases:\n{}", cases.len(), table.join("\n"));
}

/// Runs zkinfer with writes past `limit` bytes failing (RLIMIT_FSIZE, SIGXFSZ ignored: `EFBIG`,
/// as a full disk fails with `ENOSPC`).
#[cfg(unix)]
fn zkinfer_with_file_limit(limit: u64, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"));
    cmd.args(args);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd.output().expect("run zkinfer")
}

/// Every file of a folder, by name.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

#[cfg(unix)]
#[test]
fn a_failing_write_replaces_nothing_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("build");
    std::fs::create_dir(&dir).expect("mkdir");
    for e in std::fs::read_dir(built("mlp_tiny")).expect("ls") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
    let size = |name: &str| std::fs::metadata(dir.join(name)).expect(name).len();
    // setup: the new srs.bin fits under the limit, pk.bin does not: neither (nor vk.bin, nor
    // the commitment) may replace the previous files, here a stand-in srs.bin
    let limit = size("srs.bin") + 1;
    assert!(size("pk.bin") > limit, "pk.bin must be the larger file");
    std::fs::write(dir.join("srs.bin"), b"the previous srs.bin").expect("write");
    let before = snapshot(&dir);
    let o = zkinfer_with_file_limit(limit, &["setup", s(&dir), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pk.bin") && err.contains("too large"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        snapshot(&dir) == before,
        "setup changed or left files: {:?}",
        snapshot(&dir).iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    // prove: the proof does not fit
    std::fs::copy(built("mlp_tiny").join("srs.bin"), dir.join("srs.bin")).expect("copy");
    let proof = tmp.path().join("proof.json");
    let input = model_dir("mlp_tiny").join("input.json");
    let o = zkinfer_with_file_limit(
        512,
        &["prove", s(&dir), "--input", s(&input), "-o", s(&proof)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("proof.json") && err.contains("too large"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec!["build".to_string()], "prove left files");
}
