//! The hand-written CPU trainer for the seed network: forward, backward and Adam over
//! preallocated buffers. Keras semantics: inverted dropout, MSE averaged over batch and columns,
//! Adam with `α = lr·√(1−β2ᵗ)/(1−β1ᵗ)` and ε outside the square root.
//!
//! The matrix products use one register-blocked kernel ([`gemm`]: 4 rows × 16 columns of
//! accumulators that the compiler vectorises with SSE natively and simd128 in wasm). It never
//! fuses multiply and add and always sums in the same order, so a native run and a browser run
//! compute bit-identical weights, scores and flags (a BLAS with run-time FMA kernels would not).

use std::ops::ControlFlow;

use rand::RngCore;
use web_time::Instant;
use wide::f32x4;

use super::{AutoencoderParams, DROPOUT_AFTER, Dense, EpochReport, Net, epoch_order};
use crate::detect::DetectError;
use crate::detect::rng::rng;
use crate::features::Matrix;

/// `eˣ` from basic IEEE operations only (Cephes' `expf`: range reduction by ln 2, a degree-6
/// polynomial, scaling through the exponent bits; within 2 ulp). The platform's `exp` differs
/// between native libm and wasm in the last bit, which would make the page and the CLI train
/// differently.
pub(super) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * (r * r)
        + r
        + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

pub(super) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// Block of the kernel: rows × columns of accumulators (8 SSE / simd128 registers).
const MR: usize = 4;
const NR: usize = 8;

/// A matrix operand read through strides: element (i, j) is `data[i·rs + j·cs]`, so a
/// transposed matrix costs nothing.
#[derive(Clone, Copy)]
pub(super) struct Strided<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Strided { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Strided { data, rs: 1, cs: cols }
    }
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// `c[i·n + j] = init[j] + Σ_p a(i, p) · b(p, j)` for `i < m`, `j < n`, `p < k` (`init` = zeros
/// when `None`), `c` row-major. `b` is packed once into zero-padded column blocks and each
/// block of `a`'s rows once, so the inner loop works on fixed-size blocks in registers.
pub(super) fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: Strided<'_>,
    init: Option<&[f32]>,
    c: &mut [f32],
) {
    thread_local! {
        /// Packing buffers, reused: a training run makes millions of small products.
        static PACK: std::cell::RefCell<Pack> = const { std::cell::RefCell::new(Pack { b: Vec::new(), a: Vec::new() }) };
    }
    PACK.with_borrow_mut(|pack| pack.gemm(m, n, k, a, b, init, c));
}

/// Packed panels of `b` (column blocks) and of a block of `a`'s rows.
struct Pack {
    b: Vec<[f32; NR]>,
    a: Vec<[f32; MR]>,
}

impl Pack {
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &mut self,
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_>,
        b: Strided<'_>,
        init: Option<&[f32]>,
        c: &mut [f32],
    ) {
        let (bpack, apack) = (&mut self.b, &mut self.a);
        let blocks = n.div_ceil(NR);
        bpack.clear();
        bpack.resize(blocks * k, [0f32; NR]);
        for (jb, panel) in bpack.chunks_exact_mut(k).enumerate() {
            let cols = NR.min(n - jb * NR);
            for (p, dst) in panel.iter_mut().enumerate() {
                for (q, v) in dst.iter_mut().enumerate().take(cols) {
                    *v = b.at(p, jb * NR + q);
                }
            }
        }
        apack.clear();
        apack.resize(k, [0f32; MR]);
        for i0 in (0..m).step_by(MR) {
            let rows = MR.min(m - i0);
            for (p, dst) in apack.iter_mut().enumerate() {
                for (r, v) in dst.iter_mut().enumerate() {
                    *v = if r < rows { a.at(i0 + r, p) } else { 0.0 };
                }
            }
            for (jb, panel) in bpack.chunks_exact(k).enumerate() {
                let j0 = jb * NR;
                let cols = NR.min(n - j0);
                let start = match init {
                    Some(v) => split(&block(&v[j0..], cols)),
                    None => [f32x4::ZERO; 2],
                };
                let mut acc = [start; MR];
                for (ap, bp) in apack.iter().zip(panel) {
                    let [b0, b1] = split(bp);
                    for (row, &av) in acc.iter_mut().zip(ap) {
                        let av = f32x4::splat(av);
                        row[0] += av * b0;
                        row[1] += av * b1;
                    }
                }
                for (r, row) in acc.iter().enumerate().take(rows) {
                    let out = &mut c[(i0 + r) * n + j0..];
                    let (lo, hi) = (row[0].to_array(), row[1].to_array());
                    if cols == NR {
                        if let Ok(dst) = <&mut [f32; NR]>::try_from(&mut out[..NR]) {
                            *dst = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
                        }
                    } else {
                        for (q, v) in out.iter_mut().take(cols).enumerate() {
                            *v = if q < 4 { lo[q] } else { hi[q - 4] };
                        }
                    }
                }
            }
        }
    }
}

/// The first `cols` (≤ NR) values of `src`, zero-padded to a block.
fn block(src: &[f32], cols: usize) -> [f32; NR] {
    if cols == NR
        && let Ok(full) = <&[f32; NR]>::try_from(&src[..NR])
    {
        return *full;
    }
    let mut out = [0f32; NR];
    for (o, v) in out.iter_mut().zip(src.iter().take(cols)) {
        *o = *v;
    }
    out
}

fn split(v: &[f32; NR]) -> [f32x4; 2] {
    [f32x4::new([v[0], v[1], v[2], v[3]]), f32x4::new([v[4], v[5], v[6], v[7]])]
}

/// `z = a·w + b` for `rows` rows.
pub(super) fn affine(a: &[f32], rows: usize, layer: &Dense, z: &mut [f32]) {
    let (x, w) = (Strided::rows(a, layer.n_in), Strided::rows(&layer.w, layer.n_out));
    gemm(rows, layer.n_out, layer.n_in, x, w, Some(&layer.b), z);
}

struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn new(n: usize) -> Self {
        Moments { m: vec![0.0; n], v: vec![0.0; n] }
    }

    /// One Adam step of `param` with gradient `g`.
    fn step(&mut self, param: &mut [f32], g: &[f32], alpha: f32, b1: f32, b2: f32, eps: f32) {
        for (((p, g), m), v) in param.iter_mut().zip(g).zip(self.m.iter_mut()).zip(self.v.iter_mut()) {
            *m += (g - *m) * (1.0 - b1);
            *v += (g * g - *v) * (1.0 - b2);
            *p -= alpha * *m / (v.sqrt() + eps);
        }
    }
}

/// Inverted dropout as Keras draws it: two 32-bit draws per 64-bit word, a unit kept when its
/// draw is below `keep · 2³²` and then scaled by `1 / keep`.
struct Dropout {
    rng: crate::detect::rng::DetRng,
    keep_below: u32,
    scale: f32,
}

impl Dropout {
    fn new(p: &AutoencoderParams) -> Option<Dropout> {
        (p.dropout > 0.0).then(|| {
            let keep = 1.0 - p.dropout;
            Dropout {
                rng: rng(p.seed, 2),
                keep_below: (keep * 4_294_967_296.0).min(f64::from(u32::MAX)) as u32,
                scale: (1.0 / keep) as f32,
            }
        })
    }

    fn draw(&mut self, mask: &mut [f32]) {
        for pair in mask.chunks_mut(2) {
            let word = self.rng.next_u64();
            for (m, bits) in pair.iter_mut().zip([word as u32, (word >> 32) as u32]) {
                *m = if bits < self.keep_below { self.scale } else { 0.0 };
            }
        }
    }
}

/// The buffers of one training step, allocated once per run: per layer the pre-activation
/// `z`, the activation `a` (after dropout) and the dropout mask; the batch `x`; the gradients.
struct Step {
    d: usize,
    x: Vec<f32>,
    z: Vec<Vec<f32>>,
    a: Vec<Vec<f32>>,
    mask: Vec<Vec<f32>>,
    dz: Vec<f32>,
    da: Vec<f32>,
    gw: Vec<Vec<f32>>,
    gb: Vec<Vec<f32>>,
}

impl Step {
    fn new(net: &Net, d: usize, rows: usize) -> Step {
        let widths: Vec<usize> = net.layers.iter().map(|l| l.n_out).collect();
        let widest = widths.iter().copied().max().unwrap_or(d).max(d);
        let per_layer = |fill: f32| widths.iter().map(|&w| vec![fill; rows * w]).collect::<Vec<_>>();
        Step {
            d,
            x: vec![0.0; rows * d],
            z: per_layer(0.0),
            a: per_layer(0.0),
            mask: per_layer(1.0),
            dz: vec![0.0; rows * widest],
            da: vec![0.0; rows * widest],
            gw: net.layers.iter().map(|l| vec![0.0; l.w.len()]).collect(),
            gb: net.layers.iter().map(|l| vec![0.0; l.b.len()]).collect(),
        }
    }

    /// Copies the batch's rows of `data` into `x`.
    fn load(&mut self, data: &Matrix<f32>, batch: &[usize]) {
        let d = self.d;
        for (k, &row) in batch.iter().enumerate() {
            self.x[k * d..(k + 1) * d].copy_from_slice(data.row(row));
        }
    }

    /// ReLU layers (with dropout after [`DROPOUT_AFTER`] when training), a sigmoid output.
    fn forward(&mut self, net: &Net, bs: usize, mut dropout: Option<&mut Dropout>) {
        let last = net.layers.len() - 1;
        for (l, layer) in net.layers.iter().enumerate() {
            let (before, rest) = self.a.split_at_mut(l);
            let input: &[f32] = if l == 0 { &self.x } else { &before[l - 1] };
            affine(input, bs, layer, &mut self.z[l]);
            let n = bs * layer.n_out;
            let (z, a) = (&self.z[l][..n], &mut rest[0][..n]);
            match dropout.as_deref_mut() {
                _ if l == last => a.iter_mut().zip(z).for_each(|(o, &zi)| *o = sigmoid(zi)),
                Some(drop) if DROPOUT_AFTER.contains(&l) => {
                    drop.draw(&mut self.mask[l][..n]);
                    for ((o, m), &zi) in a.iter_mut().zip(&self.mask[l][..n]).zip(z) {
                        *o = zi.max(0.0) * m;
                    }
                }
                _ => a.iter_mut().zip(z).for_each(|(o, &zi)| *o = zi.max(0.0)),
            }
        }
    }

    /// The squared error summed over the batch, averaged over the columns; leaves in `dz` the
    /// gradient of the mean squared error (over batch and columns) through the sigmoid.
    fn loss_gradient(&mut self, bs: usize) -> f64 {
        let out = &self.a[self.a.len() - 1];
        let scale = 2.0 / (bs * self.d) as f32;
        let n = bs * self.d;
        let mut sq = 0f64;
        for ((g, &o), &x) in self.dz[..n].iter_mut().zip(&out[..n]).zip(&self.x[..n]) {
            let e = o - x;
            sq += f64::from(e * e);
            *g = scale * e * o * (1.0 - o);
        }
        sq / self.d as f64
    }

    /// From `dz` of the output layer down: every layer's weight and bias gradients.
    fn backward(&mut self, net: &Net, bs: usize, dropped: bool) {
        for l in (0..net.layers.len()).rev() {
            let layer = &net.layers[l];
            let (n_in, n_out) = (layer.n_in, layer.n_out);
            let input: &[f32] = if l == 0 { &self.x } else { &self.a[l - 1] };
            // gw = inputᵀ · dz ; gb = column sums of dz
            let (xt, d) = (Strided::transposed(input, n_in), Strided::rows(&self.dz, n_out));
            gemm(n_in, n_out, bs, xt, d, None, &mut self.gw[l]);
            let gb = &mut self.gb[l];
            gb.iter_mut().for_each(|g| *g = 0.0);
            for r in 0..bs {
                for (g, v) in gb.iter_mut().zip(&self.dz[r * n_out..(r + 1) * n_out]) {
                    *g += v;
                }
            }
            if l > 0 {
                // da = dz · wᵀ, then through the previous layer's dropout and ReLU.
                let (d, wt) = (Strided::rows(&self.dz, n_out), Strided::transposed(&layer.w, n_out));
                gemm(bs, n_in, n_out, d, wt, None, &mut self.da);
                let prev = l - 1;
                let masked = dropped && DROPOUT_AFTER.contains(&prev);
                for i in 0..bs * n_in {
                    let g = if self.z[prev][i] > 0.0 { self.da[i] } else { 0.0 };
                    self.dz[i] = if masked { g * self.mask[prev][i] } else { g };
                }
            }
        }
    }
}

/// Keras's Adam over every layer: `α = lr·√(1−β2ᵗ)/(1−β1ᵗ)`, ε outside the square root.
struct Adam {
    w: Vec<Moments>,
    b: Vec<Moments>,
    /// β1ᵗ and β2ᵗ, kept by multiplication (no platform `powi`).
    b1t: f64,
    b2t: f64,
}

impl Adam {
    fn new(net: &Net) -> Adam {
        Adam {
            w: net.layers.iter().map(|l| Moments::new(l.w.len())).collect(),
            b: net.layers.iter().map(|l| Moments::new(l.b.len())).collect(),
            b1t: 1.0,
            b2t: 1.0,
        }
    }

    fn step(&mut self, net: &mut Net, step: &Step, p: &AutoencoderParams) {
        self.b1t *= p.beta_1;
        self.b2t *= p.beta_2;
        let alpha = (p.learning_rate * (1.0 - self.b2t).sqrt() / (1.0 - self.b1t)) as f32;
        let (b1, b2, eps) = (p.beta_1 as f32, p.beta_2 as f32, p.epsilon as f32);
        for (l, layer) in net.layers.iter_mut().enumerate() {
            self.w[l].step(&mut layer.w, &step.gw[l], alpha, b1, b2, eps);
            self.b[l].step(&mut layer.b, &step.gb[l], alpha, b1, b2, eps);
        }
    }
}

/// Trains `net` in place; returns one report per epoch.
pub(super) fn train(
    net: &mut Net,
    data: &Matrix<f32>,
    p: &AutoencoderParams,
    on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<Vec<EpochReport>, DetectError> {
    let bmax = p.batch_size.min(data.rows);
    let mut step = Step::new(net, data.cols, bmax);
    let mut adam = Adam::new(net);
    let mut dropout = Dropout::new(p);
    let mut history = Vec::with_capacity(p.epochs);
    for epoch in 0..p.epochs {
        let started = Instant::now();
        let mut loss_sum = 0f64;
        for batch in epoch_order(data.rows, p.seed, epoch).chunks(bmax) {
            let bs = batch.len();
            step.load(data, batch);
            step.forward(net, bs, dropout.as_mut());
            loss_sum += step.loss_gradient(bs);
            step.backward(net, bs, dropout.is_some());
            adam.step(net, &step, p);
        }
        let report = EpochReport {
            epoch: epoch + 1,
            epochs: p.epochs,
            loss: loss_sum / data.rows as f64,
            seconds: started.elapsed().as_secs_f64(),
        };
        let flow = on_epoch(&report);
        history.push(report);
        if flow.is_break() {
            return Err(DetectError::Cancelled);
        }
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::autoencoder::Autoencoder;

    #[test]
    fn exp_is_accurate() {
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let (got, want) = (exp(x), x.exp());
            assert!(((got - want) / want).abs() < 3e-7, "exp({x}) = {got}, want {want}");
        }
        assert!(sigmoid(-200.0) >= 0.0 && sigmoid(200.0) == 1.0);
    }

    #[test]
    fn gemm_matches_the_definition_for_odd_shapes_and_strides() {
        let (m, n, k) = (6, 19, 5);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![0.0f32; m * n];
        let init = vec![1.0f32; n];
        gemm(m, n, k, Strided::rows(&a, k), Strided::rows(&b, n), Some(&init), &mut c);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                assert!((c[i * n + j] - want).abs() < 1e-5, "{i},{j}");
            }
        }
        // a transposed through its strides: aᵀ is k × m, read as m × k.
        let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
        let mut c2 = vec![0.0f32; m * n];
        gemm(m, n, k, Strided::transposed(&at, m), Strided::rows(&b, n), None, &mut c2);
        for (x, y) in c.iter().zip(&c2) {
            assert!((x - 1.0 - y).abs() < 1e-5);
        }
    }

    /// The trainer's own gradients (every weight and bias of every layer, as `Step::backward`
    /// leaves them for Adam) equal central finite differences of its loss. A parameter whose
    /// probe moves a ReLU across its kink is skipped (there the loss has no derivative).
    #[test]
    fn the_trainers_gradients_match_finite_differences() {
        let data = crate::detect::autoencoder::tests::easy(8);
        let net = Net::glorot(3, &mut rng(3, 0));
        let rows: Vec<usize> = (0..data.rows).collect();
        let mut step = Step::new(&net, data.cols, data.rows);
        step.load(&data, &rows);
        let mut at = |net: &Net| -> (f64, Vec<Vec<bool>>) {
            step.forward(net, data.rows, None);
            let loss = step.loss_gradient(data.rows) / data.rows as f64;
            (loss, step.z.iter().map(|z| z.iter().map(|&v| v > 0.0).collect()).collect())
        };
        let (_, signs) = at(&net);
        let mut grads = Step::new(&net, data.cols, data.rows);
        grads.load(&data, &rows);
        grads.forward(&net, data.rows, None);
        grads.loss_gradient(data.rows);
        grads.backward(&net, data.rows, false);

        let h = 2e-3f32;
        let (mut checked, mut skipped) = (0, 0);
        for l in 0..net.layers.len() {
            for (is_bias, analytic) in [(false, &grads.gw[l]), (true, &grads.gb[l])] {
                for (k, &g) in analytic.iter().enumerate() {
                    let probe = |delta: f32| {
                        let mut n = net.clone();
                        let v = if is_bias { &mut n.layers[l].b[k] } else { &mut n.layers[l].w[k] };
                        *v += delta;
                        n
                    };
                    let (up, s_up) = at(&probe(h));
                    let (down, s_down) = at(&probe(-h));
                    if s_up != signs || s_down != signs {
                        skipped += 1;
                        continue;
                    }
                    let numeric = (up - down) / (2.0 * f64::from(h));
                    let g = f64::from(g);
                    assert!(
                        (numeric - g).abs() <= 2e-5 + 2e-2 * g.abs().max(numeric.abs()),
                        "layer {l} {} {k}: trainer {g:e}, finite difference {numeric:e}",
                        if is_bias { "bias" } else { "weight" }
                    );
                    checked += 1;
                }
            }
        }
        assert!(skipped * 20 < checked, "{skipped} probes crossed a kink, {checked} checked");
    }

    /// A step of the trainer lowers the loss it reports (one Adam step with a small rate).
    #[test]
    fn a_training_step_lowers_the_loss() {
        let data = crate::detect::autoencoder::tests::easy(8);
        let mut net = Net::glorot(3, &mut rng(3, 0));
        let loss = |net: &Net| -> f64 {
            let out = net.reconstruct(&data.data, data.rows);
            out.iter().zip(&data.data).map(|(o, x)| f64::from((o - x) * (o - x))).sum::<f64>()
                / data.data.len() as f64
        };
        let before = loss(&net);
        let p = Autoencoder::params().epochs(1).batch_size(8).dropout(0.0).learning_rate(1e-4);
        train(&mut net, &data, &p, &mut |_| ControlFlow::Continue(())).expect("trains");
        assert!(loss(&net) < before, "{} < {before}", loss(&net));
    }
}
