//! Interrupting `setup` or `prove` with a real signal (SIGTERM, SIGINT) at points spread over
//! the command leaves the earlier outputs as they were (or, if the command got to write
//! one, the complete new file) and no temp file behind.
#![cfg(unix)]

mod common;

use common::{describe, model_dir, s};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

fn no_temp_files(dir: &Path, what: &str) {
    let stray: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(stray.is_empty(), "{what}: temp files left: {stray:?}");
}

/// Runs `args`, sends `signal` after `delay`, asserts the command either finished (exit 0)
/// or was interrupted (exit 128 + signal: killed without a code, the handler did not run);
/// returns 1 if it was interrupted.
fn interrupted(args: &[&str], delay: Duration, signal: i32, what: &str) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    // SAFETY: sending a signal to our own child process by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let code = child.wait().expect("wait").code();
    assert!(
        code == Some(0) || code == Some(128 + signal),
        "{what}: exit {code:?}"
    );
    usize::from(code != Some(0))
}

#[test]
fn an_interrupted_setup_or_prove_leaves_no_partial_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    let src = model_dir("cnn_gelu_ln");
    let input = src.join("input.json");
    common::compile("cnn_gelu_ln", &dir);
    let run = |args: &[&str]| {
        let o = common::zkinfer(args);
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    };
    run(&["setup", s(&dir), "--insecure-dev-srs"]);
    let proof = dir.join("proof.json");
    run(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)]);
    let before = snapshot(&dir);
    let mut interrupted_runs = 0;
    for (i, ms) in [20u64, 150, 400, 800, 1300, 2000, 3000].iter().enumerate() {
        let signal = if i % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let what = format!("setup, signal {signal} after {ms} ms");
        interrupted_runs += interrupted(
            &["setup", s(&dir), "--insecure-dev-srs"],
            Duration::from_millis(*ms),
            signal,
            &what,
        );
        no_temp_files(&dir, &what);
        // keygen is deterministic: every key file is the old one or an identical new one
        let after: Vec<_> = snapshot(&dir)
            .into_iter()
            .filter(|(n, _)| n != "proof.json")
            .collect();
        let old: Vec<_> = before
            .iter()
            .filter(|(n, _)| n != "proof.json")
            .cloned()
            .collect();
        assert!(after == old, "{what}: the key files changed");

        let what = format!("prove, signal {signal} after {ms} ms");
        interrupted_runs += interrupted(
            &["prove", s(&dir), "--input", s(&input), "-o", s(&proof)],
            Duration::from_millis(*ms),
            signal,
            &what,
        );
        no_temp_files(&dir, &what);
        // proof.json is the old proof or a complete new one: it verifies either way
        let o = common::verify_build(&dir, &proof);
        assert_eq!(o.status.code(), Some(0), "{what}: {}", describe(&o));
    }
    assert!(
        interrupted_runs >= 4,
        "only {interrupted_runs} runs were interrupted: the commands finished too fast to test"
    );
}
