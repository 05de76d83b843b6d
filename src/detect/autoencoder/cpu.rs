//! The hand-written CPU trainer for the seed network: forward, backward and Adam over
//! preallocated buffers. Keras semantics: inverted dropout, MSE averaged over batch and columns,
//! Adam with `α = lr·√(1−β2ᵗ)/(1−β1ᵗ)` and ε outside the square root.
//!
//! The matrix products are [`gemm`]'s (4, 8 or 16 lanes, picked at run time, the same bits in
//! each); the step itself runs under the chosen instruction set ([`vectorized`]), and times its
//! parts ([`StepProfile`]). Nothing fuses multiply and add and every sum keeps its order, so a
//! native run and a browser run compute bit-identical weights, scores and flags (a BLAS with
//! run-time FMA kernels would not).

use std::ops::ControlFlow;

use rand::RngCore;
use web_time::Instant;

use serde::{Deserialize, Serialize};

use super::gemm::{Kernel, Strided, gemm, vectorized};
use super::{AutoencoderParams, DROPOUT_AFTER, Dense, EpochReport, Net, epoch_order};
use crate::detect::DetectError;
use crate::detect::rng::rng;
use crate::features::Matrix;
use crate::timing::Lap;

/// `eˣ` from basic IEEE operations only (Cephes' `expf`: range reduction by ln 2, a degree-6
/// polynomial, scaling through the exponent bits; within 2 ulp). The platform's `exp` differs
/// between native libm and wasm in the last bit, which would make the page and the CLI train
/// differently.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let n = floor(x * std::f32::consts::LOG2_E + 0.5);
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

/// `⌊y⌋` for |y| < 2²³ (here |y| < 128), exactly as `f32::floor`, without the libm call that
/// `floor` is on x86-64's baseline instruction set (SSE2 has no rounding instruction).
#[inline(always)]
fn floor(y: f32) -> f32 {
    let t = y as i32 as f32; // rounds toward zero
    if t > y { t - 1.0 } else { t }
}

#[inline(always)]
pub(super) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
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
    #[inline(always)]
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

    #[inline(always)]
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
    #[inline(always)]
    fn load(&mut self, data: &Matrix<f32>, batch: &[usize]) {
        let d = self.d;
        for (k, &row) in batch.iter().enumerate() {
            self.x[k * d..(k + 1) * d].copy_from_slice(data.row(row));
        }
    }

    /// ReLU layers (with dropout after [`DROPOUT_AFTER`] when training), a sigmoid output.
    /// Returns the seconds spent drawing dropout masks.
    #[inline(always)]
    fn forward(&mut self, net: &Net, bs: usize, mut dropout: Option<&mut Dropout>) -> f64 {
        let mut drawing = 0.0;
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
                    let t = Instant::now();
                    drop.draw(&mut self.mask[l][..n]);
                    drawing += t.elapsed().as_secs_f64();
                    for ((o, m), &zi) in a.iter_mut().zip(&self.mask[l][..n]).zip(z) {
                        *o = zi.max(0.0) * m;
                    }
                }
                _ => a.iter_mut().zip(z).for_each(|(o, &zi)| *o = zi.max(0.0)),
            }
        }
        drawing
    }

    /// The squared error summed over the batch, averaged over the columns; leaves in `dz` the
    /// gradient of the mean squared error (over batch and columns) through the sigmoid.
    #[inline(always)]
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
    #[inline(always)]
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
                let (prev, n) = (l - 1, bs * n_in);
                let (z, da, dz) = (&self.z[prev][..n], &self.da[..n], &mut self.dz[..n]);
                let relu = |zi: f32, g: f32| if zi > 0.0 { g } else { 0.0 };
                if dropped && DROPOUT_AFTER.contains(&prev) {
                    for (((o, &zi), &g), &m) in dz.iter_mut().zip(z).zip(da).zip(&self.mask[prev][..n]) {
                        *o = relu(zi, g) * m;
                    }
                } else {
                    for ((o, &zi), &g) in dz.iter_mut().zip(z).zip(da) {
                        *o = relu(zi, g);
                    }
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

    #[inline(always)]
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

/// Where the CPU trainer's time went, summed over a run (seconds): copying each batch in, the
/// forward pass (its dropout draws apart), the loss and its gradient, the backward pass, Adam.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepProfile {
    pub kernel: Option<Kernel>,
    pub steps: u64,
    pub load: f64,
    pub forward: f64,
    pub dropout: f64,
    pub loss: f64,
    pub backward: f64,
    pub adam: f64,
}

impl StepProfile {
    /// The parts' names, in the order a step runs them.
    pub const PARTS: [&'static str; 6] = ["load", "forward", "dropout", "loss", "backward", "adam"];

    /// Each part with its name ([`StepProfile::PARTS`]).
    pub fn parts(&self) -> [(&'static str, f64); 6] {
        let seconds = [self.load, self.forward, self.dropout, self.loss, self.backward, self.adam];
        std::array::from_fn(|k| (Self::PARTS[k], seconds[k]))
    }
}

/// One optimizer step on the rows `batch` of `data`; returns the batch's summed loss.
///
/// Never inlined: V8 compiles a WebAssembly function first with its baseline compiler and
/// swaps in the optimised code only at the next call (no on-stack replacement), so a step
/// inlined into [`train`]'s loop, called once, would run its element-wise loops and Adam
/// unoptimised for the whole training (about 1.5× slower there; measured with
/// `node --no-liftoff`).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn one_step(
    net: &mut Net,
    data: &Matrix<f32>,
    batch: &[usize],
    p: &AutoencoderParams,
    step: &mut Step,
    adam: &mut Adam,
    mut dropout: Option<&mut Dropout>,
    profile: &mut StepProfile,
) -> f64 {
    let bs = batch.len();
    vectorized(
        #[inline(always)]
        || {
            let mut lap = Lap::start();
            step.load(data, batch);
            profile.load += lap.lap();
            let drawing = step.forward(net, bs, dropout.as_deref_mut());
            profile.forward += lap.lap() - drawing;
            profile.dropout += drawing;
            let loss = step.loss_gradient(bs);
            profile.loss += lap.lap();
            step.backward(net, bs, dropout.is_some());
            profile.backward += lap.lap();
            adam.step(net, step, p);
            profile.adam += lap.lap();
            profile.steps += 1;
            loss
        },
    )
}

/// Trains `net` in place; returns one report per epoch and where the time went.
pub(super) fn train(
    net: &mut Net,
    data: &Matrix<f32>,
    p: &AutoencoderParams,
    on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<(Vec<EpochReport>, StepProfile), DetectError> {
    let bmax = p.batch_size.min(data.rows);
    let mut step = Step::new(net, data.cols, bmax);
    let mut adam = Adam::new(net);
    let mut dropout = Dropout::new(p);
    let mut history = Vec::with_capacity(p.epochs);
    let mut profile = StepProfile { kernel: Some(Kernel::current()), ..StepProfile::default() };
    for epoch in 0..p.epochs {
        let started = Instant::now();
        let mut loss_sum = 0f64;
        for batch in epoch_order(data.rows, p.seed, epoch).chunks(bmax) {
            loss_sum += one_step(net, data, batch, p, &mut step, &mut adam, dropout.as_mut(), &mut profile);
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
    Ok((history, profile))
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
        // floor as exp uses it: every y its clamped range gives, halves and near-integers too.
        for i in -130_000..=130_000 {
            for y in [i as f32 / 1000.0, i as f32 / 1000.0 + 0.5, (i / 1000) as f32] {
                assert_eq!(floor(y).to_bits(), y.floor().to_bits(), "floor({y})");
            }
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
