use super::*;
use std::path::PathBuf;

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[test]
fn bundled_mlps_load_and_match_onnxruntime() {
    for (name, dims) in [
        ("mlp_tiny", vec![64, 16, 10]),
        ("mlp_digits", vec![64, 64, 32, 10]),
        ("mlp_wide", vec![64, 256, 256, 10]),
    ] {
        let m = load_onnx(&model(name).join("network.onnx")).expect("load");
        assert_eq!(m.input_len, 64);
        let dense: Vec<usize> = m
            .layers
            .iter()
            .filter_map(|l| match l {
                FloatLayer::Dense { bias, .. } => Some(bias.len()),
                FloatLayer::Relu { .. } => None,
            })
            .collect();
        assert_eq!(dense, dims[1..], "{name}");
        assert_eq!(
            m.layers.len(),
            2 * dense.len() - 1,
            "{name}: Dense/Relu alternate"
        );
        let input: Vec<f32> = json(&model(name).join("input.json"))["input_data"][0]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().expect("f") as f32)
            .collect();
        let expected = json(&model(name).join("expected.json"));
        let want: Vec<f64> = expected["output"]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().expect("f"))
            .collect();
        let got = m.forward(&input);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-4, "{name}: {g} vs {w}");
        }
    }
}

#[test]
fn conv_is_an_unsupported_op_naming_the_node() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cnn_small.onnx");
    match load_onnx(&p) {
        Err(OnnxError::UnsupportedOp { node, op }) => {
            assert!(node.contains("conv0"), "{node}");
            assert!(op.contains("Conv"), "{op}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
}

#[test]
fn missing_and_garbage_files_are_errors() {
    assert!(matches!(
        load_onnx(Path::new("/nonexistent/model.onnx")),
        Err(OnnxError::Read { .. })
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("garbage.onnx");
    std::fs::write(&p, b"this is not protobuf \xff\xfe\x00").expect("write");
    assert!(load_onnx(&p).is_err());
}

#[test]
fn matmul_add_flatten_reshape_identity_with_symbolic_batch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let m = load_onnx(&dir.join("matmul_chain.onnx")).expect("load");
    assert_eq!(m.input_shape, vec![1, 2, 3], "symbolic batch fixed to 1");
    assert_eq!(m.input_len, 6);
    let kinds: Vec<String> = m
        .layers
        .iter()
        .map(|l| match l {
            FloatLayer::Dense { weights, bias, .. } => {
                format!("dense {}x{}", bias.len(), weights[0].len())
            }
            FloatLayer::Relu { .. } => "relu".to_string(),
        })
        .collect();
    assert_eq!(kinds, ["dense 5x6", "relu", "dense 3x5"]);
    let reference = json(&dir.join("matmul_chain.json"));
    let x: Vec<f32> = reference["input"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("f") as f32)
        .collect();
    let want: Vec<f64> = reference["output"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("f"))
        .collect();
    for (g, w) in m.forward(&x).iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
    }
}
