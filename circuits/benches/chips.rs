//! Per-chip proving benches (real KZG keygen and `create_proof` on the chips' test circuits,
//! dev SRS): `cargo bench -p zkinfer-circuits --features testing --bench chips`.
//!
//! - `dense` vs `freivalds`: the same 256 × 256 public-weight layer, one advice cell per
//!   multiply-accumulate in 8 lanes against one random combination of the outputs (K = 64);
//! - `rescale`: 64 outputs rescaled and range-checked (a 64 → 64 dense layer around them);
//! - `func`: 256 lookups in a 256-segment function table;
//! - `poseidon`: the salted sponge over 256 packed 12-bit values.

use criterion::{criterion_group, criterion_main, Criterion};
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk, Circuit, ProvingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::ProverSHPLONK,
    },
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
};
use rand_core::SeedableRng;
use zkinfer_circuits::testing::{
    FreivaldsCircuit, FuncCircuit, HasInstances, LayerCircuit, LayerShape, PoseidonCircuit,
};

fn keys<C: Circuit<Fr>>(k: u32, c: &C) -> (ParamsKZG<Bn256>, ProvingKey<G1Affine>) {
    let params = ParamsKZG::<Bn256>::setup(k, rand_chacha::ChaCha20Rng::seed_from_u64(1));
    let vk = keygen_vk(&params, &c.without_witnesses()).expect("vk");
    let pk = keygen_pk(&params, vk, &c.without_witnesses()).expect("pk");
    (params, pk)
}

fn prove<C: Circuit<Fr> + HasInstances + Clone>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    c: &C,
) {
    let instances = c.instances();
    let refs: Vec<&[Fr]> = instances.iter().map(Vec::as_slice).collect();
    let mut t = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        _,
        _,
        _,
    >(
        params,
        pk,
        std::slice::from_ref(c),
        &[&refs],
        rand_chacha::ChaCha20Rng::seed_from_u64(2),
        &mut t,
    )
    .expect("proof");
}

fn bench<C: Circuit<Fr> + HasInstances + Clone>(cr: &mut Criterion, name: &str, k: u32, c: C) {
    let (params, pk) = keys(k, &c);
    let mut g = cr.benchmark_group("chips");
    g.sample_size(10);
    g.bench_function(name, |b| b.iter(|| prove(&params, &pk, &c)));
    g.finish();
}

fn layer(n_in: usize, n_out: usize) -> (Vec<Vec<i64>>, Vec<i64>, Vec<i64>) {
    let w = (0..n_out)
        .map(|i| {
            (0..n_in)
                .map(|j| ((i * 31 + j * 17) % 101) as i64 - 50)
                .collect()
        })
        .collect();
    let b = (0..n_out).map(|i| (i as i64 * 37) % 200 - 100).collect();
    let x = (0..n_in).map(|j| (j as i64 * 13) % 60 - 30).collect();
    (w, b, x)
}

fn chips(cr: &mut Criterion) {
    let (w, b, x) = layer(256, 256);
    let shape = |lanes| LayerShape {
        lanes,
        range_bits: 10,
        relu_bits: 10,
        remainder_limbs: 2,
        private_weights: false,
        tall_rescale: false,
        weight_offset: false,
    };
    bench(
        cr,
        "dense 256x256 (8 lanes)",
        14,
        LayerCircuit::honest(shape(8), w.clone(), b.clone(), 12, x.clone()),
    );
    bench(
        cr,
        "freivalds 256x256 (K=64)",
        11,
        FreivaldsCircuit::honest(64, w, b, x),
    );
    let (w, b, x) = layer(64, 64);
    bench(
        cr,
        "rescale 64 (+ dense 64x64)",
        11,
        LayerCircuit::honest(shape(4), w.clone(), b.clone(), 12, x.clone()),
    );
    let tall = LayerShape {
        tall_rescale: true,
        ..shape(4)
    };
    bench(
        cr,
        "rescale 64, tall (+ dense 64x64)",
        11,
        LayerCircuit::honest(tall, w, b, 12, x),
    );
    let segments: Vec<zkinfer_circuits::func::Segment> = (0..256)
        .map(|i| zkinfer_circuits::func::Segment {
            tag: 1,
            start: i * 16 - 2048,
            r: 4,
            f0: i,
            slope: 3,
        })
        .collect();
    let xs: Vec<i64> = (0..256).map(|i| i * 16 - 2048 + (i % 16)).collect();
    bench(
        cr,
        "func 256 lookups",
        11,
        FuncCircuit::honest(8, segments, 1, xs),
    );
    let values: Vec<i64> = (0..256).map(|i| (i * 7919) % 4001 - 2000).collect();
    let p = zkinfer_circuits::poseidon::bn254().clone();
    bench(
        cr,
        "poseidon 256 values",
        11,
        PoseidonCircuit::honest(p, 12, values, Fr::from(0x5a17)),
    );
}

criterion_group!(benches, chips);
criterion_main!(benches);
