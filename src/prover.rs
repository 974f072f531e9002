//! Prove stage: halo2 KZG (SHPLONK) proof creation with a Blake2b transcript.

use crate::circuit::ModelCircuit;
use crate::keys::Srs;
use halo2_proofs::{
    halo2curves::{
        bn256::{Bn256, Fr, G1Affine, G1},
        ff::PrimeField,
        group::{prime::PrimeCurveAffine, Curve, Group},
    },
    plonk::{create_proof, ProvingKey},
    poly::{
        commitment::{Blind, CommitmentScheme, Params, ParamsProver, Prover},
        kzg::{
            commitment::{KZGCommitmentScheme, ParamsKZG, ParamsVerifierKZG},
            msm::MSMKZG,
            multiopen::ProverSHPLONK,
        },
        Coeff, LagrangeCoeff, Polynomial, ProverQuery,
    },
    transcript::{
        Blake2bWrite, Challenge255, EncodedChallenge, TranscriptWrite, TranscriptWriterBuffer,
    },
};
use rand_core::RngCore;
use std::io;
use std::sync::Arc;

/// Errors of the prove stage.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// halo2 failed (an unsatisfiable witness, or keys for another circuit).
    #[error(
        "proving failed: {0} (are the proving key and SRS from `zkinfer setup` of this model?)"
    )]
    Backend(String),
}

/// Creates a proof for `circuit` with public `instance`, drawing its blinding from `rng` (a
/// cryptographic rng: the private-weight link replays it, see [`crate::weights`]).
pub fn prove(
    srs: &Srs,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instance: &[Fr],
    rng: impl RngCore,
) -> Result<Vec<u8>, ProveError> {
    prove_by(&Committer::Plain(srs), pk, circuit, instance, rng)
}

/// [`prove`] with a choice of [`Committer`] (it does not verify the proof: a [`KnownColumns`]
/// with a wrong commitment makes one that does not verify).
pub(crate) fn prove_by(
    committer: &Committer<'_>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instance: &[Fr],
    rng: impl RngCore,
) -> Result<Vec<u8>, ProveError> {
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create(committer, pk, circuit, instance, rng, &mut transcript).map_err(ProveError::Backend)?;
    Ok(transcript.finalize())
}

/// Multi-scalar multiplication over a few fixed points (the `blinding_factors + 1` Lagrange
/// points of the rows halo2 blinds), many times: a table of `d·16^w·B_j` (`d < 16`, `w < 64`)
/// makes each product 64 additions per point, no doubling. For 7 points, building the table
/// takes about 7,000 group operations; one multiplication through it 448 additions against
/// about 2,000 operations of a Pippenger run, which at this size is mostly overhead.
#[derive(Clone, Debug)]
pub struct FixedBases {
    bases: Vec<G1Affine>,
    /// `table[(j·64 + w)·15 + d − 1] = d·16^w·B_j`.
    table: Vec<G1Affine>,
}

impl FixedBases {
    const WINDOWS: usize = 64;

    /// The table of `bases`.
    pub fn new(bases: Vec<G1Affine>) -> Self {
        let mut projective = Vec::with_capacity(bases.len() * Self::WINDOWS * 15);
        for b in &bases {
            let mut p = G1::from(*b);
            for _ in 0..Self::WINDOWS {
                let mut multiple = p;
                for _ in 0..15 {
                    projective.push(multiple);
                    multiple += p;
                }
                // multiple = 16·p
                p = multiple;
            }
        }
        let mut table = vec![G1Affine::identity(); projective.len()];
        G1::batch_normalize(&projective, &mut table);
        Self { bases, table }
    }

    /// The points.
    pub fn bases(&self) -> &[G1Affine] {
        &self.bases
    }

    /// `Σ_j scalars[j]·B_j` (as many scalars as points; missing ones count as 0). Not constant
    /// time (the table is indexed by the scalars' digits), no more than halo2's own
    /// multi-scalar multiplication over the same secrets is.
    pub fn msm(&self, scalars: &[Fr]) -> G1 {
        debug_assert!(scalars.len() <= self.bases.len());
        let mut acc = G1::identity();
        for (j, s) in scalars.iter().enumerate().take(self.bases.len()) {
            let repr = s.to_repr();
            for (w, byte) in repr.as_ref().iter().enumerate() {
                for (half, d) in [(0, byte & 15), (1, byte >> 4)] {
                    if d != 0 {
                        let at = (j * Self::WINDOWS + 2 * w + half) * 15 + usize::from(d) - 1;
                        acc += self.table[at];
                    }
                }
            }
        }
        acc
    }
}

/// Weight columns whose commitments the prover knows before it proves (private weights):
/// every proof lays out the same values on a weight column's usable rows, and only the rows
/// halo2 fills with fresh randomness change. The owner knows the commitment of the usable
/// part, `C_u = C − Σ_j s_j·B_j` (the published commitment `C` without its salts, see
/// [`crate::weights`]), so committing to the column costs a multi-scalar multiplication over
/// its `blinding_factors + 1` random rows instead of all `2^k`.
///
/// A column is recognised by its values, compared in full: a polynomial that is not one of
/// these columns, row for row, is committed the ordinary way. The commitment computed is the
/// same group element either way (`C_u + Σ_j r_j·B_j` is the commitment of the column), so
/// proofs do not change: if `C_u` were wrong (a commitment.json made for other weights), the
/// proof would not verify, and `prove` checks every proof before it writes it.
#[derive(Clone, Debug)]
pub(crate) struct KnownColumns {
    first_blind_row: usize,
    blind_bases: Arc<FixedBases>,
    columns: Vec<(Vec<Fr>, G1)>,
}

impl KnownColumns {
    /// Columns of `first_blind_row + blind_bases.len()` rows: `blind_bases` are the Lagrange
    /// points `[L_j(τ)]G` of the rows from `first_blind_row` on, and each column is given by
    /// its values on the rows before and the commitment of those values alone.
    pub fn new(
        first_blind_row: usize,
        blind_bases: Arc<FixedBases>,
        columns: Vec<(Vec<Fr>, G1)>,
    ) -> Self {
        debug_assert!(columns.iter().all(|(v, _)| v.len() == first_blind_row));
        Self {
            first_blind_row,
            blind_bases,
            columns,
        }
    }

    /// The commitment of `values` (Lagrange form) if its usable rows are a known column's.
    pub fn commit(&self, values: &[Fr]) -> Option<G1> {
        if values.len() != self.first_blind_row + self.blind_bases.bases().len() {
            return None;
        }
        let (head, tail) = values.split_at(self.first_blind_row);
        let (_, usable) = self.columns.iter().find(|(v, _)| v.as_slice() == head)?;
        Some(usable + self.blind_bases.msm(tail))
    }
}

/// KZG parameters that commit to [`KnownColumns`] from their known part ([`CachedKzg`]'s).
#[derive(Clone, Debug)]
pub(crate) struct CachedParams {
    srs: Arc<Srs>,
    known: Arc<KnownColumns>,
}

impl CachedParams {
    /// `srs` with the `known` columns.
    pub fn new(srs: Arc<Srs>, known: KnownColumns) -> Self {
        Self {
            srs,
            known: Arc::new(known),
        }
    }
}

/// KZG on BN254, committing to known columns from their known part: the same commitments,
/// the same proofs as [`KZGCommitmentScheme`], verified by the ordinary verifier.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CachedKzg;

impl CommitmentScheme for CachedKzg {
    type Scalar = Fr;
    type Curve = G1Affine;
    type ParamsProver = CachedParams;
    type ParamsVerifier = ParamsVerifierKZG<Bn256>;

    fn new_params(k: u32) -> Self::ParamsProver {
        CachedParams::new(
            Arc::new(ParamsKZG::new(k)),
            KnownColumns::new(0, Arc::new(FixedBases::new(vec![])), vec![]),
        )
    }

    fn read_params<R: io::Read>(reader: &mut R) -> io::Result<Self::ParamsProver> {
        Ok(CachedParams::new(
            Arc::new(ParamsKZG::read(reader)?),
            KnownColumns::new(0, Arc::new(FixedBases::new(vec![])), vec![]),
        ))
    }
}

impl<'params> Params<'params, G1Affine> for CachedParams {
    type MSM = MSMKZG<Bn256>;

    fn k(&self) -> u32 {
        self.srs.k()
    }

    fn n(&self) -> u64 {
        self.srs.n()
    }

    fn downsize(&mut self, k: u32) {
        Arc::make_mut(&mut self.srs).downsize(k);
    }

    fn empty_msm(&'params self) -> Self::MSM {
        MSMKZG::new()
    }

    fn commit_lagrange(&self, poly: &Polynomial<Fr, LagrangeCoeff>, r: Blind<Fr>) -> G1 {
        match self.known.commit(poly) {
            Some(c) => c,
            None => self.srs.commit_lagrange(poly, r),
        }
    }

    fn write<W: io::Write>(&self, writer: &mut W) -> io::Result<()> {
        Params::write(&*self.srs, writer)
    }

    fn read<R: io::Read>(reader: &mut R) -> io::Result<Self> {
        CachedKzg::read_params(reader)
    }
}

impl<'params> ParamsProver<'params, G1Affine> for CachedParams {
    type ParamsVerifier = ParamsVerifierKZG<Bn256>;

    fn new(k: u32) -> Self {
        CachedKzg::new_params(k)
    }

    fn commit(&self, poly: &Polynomial<Fr, Coeff>, r: Blind<Fr>) -> G1 {
        self.srs.commit(poly, r)
    }

    fn get_g(&self) -> &[G1Affine] {
        self.srs.get_g()
    }

    fn verifier_params(&'params self) -> &'params Self::ParamsVerifier {
        &self.srs
    }
}

/// SHPLONK multi-opening over [`CachedParams`]'s SRS (it commits only to its own polynomials,
/// in coefficient form: nothing a known column could be).
#[derive(Debug)]
pub(crate) struct CachedShplonk<'params>(&'params CachedParams);

impl<'params> Prover<'params, CachedKzg> for CachedShplonk<'params> {
    const QUERY_INSTANCE: bool = <ProverSHPLONK<'params, Bn256> as Prover<
        'params,
        KZGCommitmentScheme<Bn256>,
    >>::QUERY_INSTANCE;

    fn new(params: &'params CachedParams) -> Self {
        Self(params)
    }

    fn create_proof<'com, Ch: EncodedChallenge<G1Affine>, T: TranscriptWrite<G1Affine, Ch>, R, I>(
        &self,
        rng: R,
        transcript: &mut T,
        queries: I,
    ) -> io::Result<()>
    where
        I: IntoIterator<Item = ProverQuery<'com, G1Affine>> + Clone,
        R: RngCore,
    {
        ProverSHPLONK::new(&*self.0.srs).create_proof(rng, transcript, queries)
    }
}

/// How [`create`] commits: plainly, or with known columns.
pub(crate) enum Committer<'a> {
    /// Every column by a full multi-scalar multiplication.
    Plain(&'a Srs),
    /// Known columns from their known part ([`KnownColumns`]).
    Known(&'a CachedParams),
}

/// `create_proof` with either committer, on any transcript; a panic in the backend becomes an
/// error.
pub(crate) fn create<Ch, T>(
    committer: &Committer<'_>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instance: &[Fr],
    rng: impl RngCore,
    transcript: &mut T,
) -> Result<(), String>
where
    Ch: EncodedChallenge<G1Affine>,
    T: TranscriptWrite<G1Affine, Ch>,
{
    let instances: &[&[Fr]] = &[instance];
    crate::keys::guarded(|| match committer {
        Committer::Plain(srs) => create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            Ch,
            _,
            T,
            _,
        >(srs, pk, &[circuit], &[instances], rng, transcript),
        Committer::Known(params) => create_proof::<CachedKzg, CachedShplonk<'_>, Ch, _, T, _>(
            params,
            pk,
            &[circuit],
            &[instances],
            rng,
            transcript,
        ),
    })?
    .map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::{
        arithmetic::best_multiexp,
        halo2curves::ff::Field,
        poly::{commitment::Blind, EvaluationDomain},
    };
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn fixed_bases_multiply_as_a_multiexp_does() {
        let srs = crate::keys::dev_srs(4).expect("srs");
        let bases: Vec<G1Affine> = srs.get_g()[..7].to_vec();
        let table = FixedBases::new(bases.clone());
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let edges = [
            Fr::ZERO,
            Fr::ONE,
            -Fr::ONE,
            Fr::from(15),
            Fr::from(16),
            -Fr::from(16),
        ];
        for round in 0..8 {
            let scalars: Vec<Fr> = (0..7)
                .map(|j| {
                    if round < 2 {
                        edges[(j + round) % edges.len()]
                    } else {
                        Fr::random(&mut rng)
                    }
                })
                .collect();
            assert_eq!(
                table.msm(&scalars).to_affine(),
                best_multiexp(&scalars, &bases).to_affine(),
                "round {round}"
            );
        }
        // fewer scalars than points: the missing ones are 0
        assert_eq!(
            table.msm(&[Fr::from(5)]).to_affine(),
            (bases[0] * Fr::from(5)).to_affine()
        );
    }

    #[test]
    fn known_columns_commit_as_the_full_multiexp_does() {
        let k = 5;
        let n = 1usize << k;
        let m = 7;
        let first = n - m;
        let srs = Arc::new(crate::keys::dev_srs(k).expect("srs"));
        let domain = EvaluationDomain::<Fr>::new(1, k);
        let commit = |v: &[Fr]| {
            srs.commit_lagrange(&domain.lagrange_from_vec(v.to_vec()), Blind::default())
                .to_affine()
        };
        let unit = |j: usize| {
            let mut v = vec![Fr::ZERO; n];
            v[j] = Fr::ONE;
            v
        };
        let bases: Vec<G1Affine> = (first..n).map(|j| commit(&unit(j))).collect();
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let column = |seed: u64| -> Vec<Fr> {
            (0..n)
                .map(|i| {
                    if i < first {
                        Fr::from(seed * 1000 + i as u64) + Fr::from(1u64 << 62)
                    } else {
                        Fr::ZERO
                    }
                })
                .collect()
        };
        let (a, b) = (column(1), column(2));
        let known = KnownColumns::new(
            first,
            Arc::new(FixedBases::new(bases)),
            vec![
                (a[..first].to_vec(), commit(&a).into()),
                (b[..first].to_vec(), commit(&b).into()),
            ],
        );
        let params = CachedParams::new(srs.clone(), known);
        let blinded = |mut v: Vec<Fr>, rng: &mut ChaCha20Rng| {
            for x in &mut v[first..] {
                *x = Fr::random(&mut *rng);
            }
            v
        };
        // a known column with fresh blinding rows, another known one, and columns that are
        // not known (one usable row changed; another length): the same commitments as KZG's
        let mut changed = blinded(a.clone(), &mut rng);
        changed[3] += Fr::ONE;
        for v in [
            blinded(a.clone(), &mut rng),
            blinded(b.clone(), &mut rng),
            changed,
            blinded(column(3), &mut rng),
        ] {
            assert!(
                params.known.commit(&v).is_some()
                    == (v[..first] == a[..first] || v[..first] == b[..first])
            );
            let poly = domain.lagrange_from_vec(v.clone());
            assert_eq!(
                params.commit_lagrange(&poly, Blind::default()).to_affine(),
                commit(&v)
            );
        }
        let short = vec![Fr::ONE; n / 2];
        assert!(params.known.commit(&short).is_none());
    }
}
