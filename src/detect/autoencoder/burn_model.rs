//! The seed network as a burn module, trained on whatever `Device` the caller passes (burn's
//! `flex` CPU backend natively; WebGPU in a browser). It starts from the same Glorot weights as
//! the CPU trainer and hands its trained weights back as a [`Net`], so scoring is shared.
//!
//! Every read from the device is awaited (`into_data_async`): WebGPU cannot block on a read.
//! On `flex` those futures are ready at once, so native callers can `block_on` them.

use std::ops::ControlFlow;

use burn::module::{Module, Param};
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::{Config, Device, Tensor, TensorData};
use burn::tensor::activation::{relu, sigmoid};
use web_time::Instant;

use super::{Autoencoder, AutoencoderValidParams, DROPOUT_AFTER, Dense, EpochReport, Net, epoch_order};
use crate::detect::DetectError;
use crate::detect::rng::rng;
use crate::features::Matrix;

/// Shape of the network: input width and dropout rate.
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    pub input: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// The seed autoencoder as a burn module.
#[derive(Module, Debug)]
pub struct BurnAutoencoder {
    /// The layers of [`Net`] (sizes from `HIDDEN`), in order.
    layers: Vec<Linear>,
    dropout: Dropout,
}

fn linear(layer: &Dense, device: &Device) -> Linear {
    let w = Tensor::<2>::from_data(TensorData::new(layer.w.clone(), [layer.n_in, layer.n_out]), device);
    let b = Tensor::<1>::from_data(TensorData::new(layer.b.clone(), [layer.n_out]), device);
    Linear { weight: Param::from_tensor(w), bias: Some(Param::from_tensor(b)) }
}

/// Reads a tensor's values back from its device.
async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, DetectError> {
    let data =
        t.into_data_async().await.map_err(|e| DetectError::Model(format!("reading a tensor: {e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| DetectError::Model(format!("reading a tensor: {e:?}")))
}

async fn dense(l: &Linear) -> Result<Dense, DetectError> {
    let [n_in, n_out] = l.weight.val().dims();
    let w = read(l.weight.val()).await?;
    let b = match &l.bias {
        Some(b) => read(b.val()).await?,
        None => vec![0.0; n_out],
    };
    Ok(Dense { n_in, n_out, w, b })
}

impl AutoencoderConfig {
    /// Glorot-initialised module on `device` (seeded like the CPU trainer's).
    pub fn init(&self, seed: u64, device: &Device) -> BurnAutoencoder {
        BurnAutoencoder::from_net(&Net::glorot(self.input, &mut rng(seed, 0)), self.dropout, device)
    }
}

impl BurnAutoencoder {
    /// The module holding `net`'s weights.
    pub fn from_net(net: &Net, dropout: f64, device: &Device) -> Self {
        BurnAutoencoder {
            layers: net.layers.iter().map(|l| linear(l, device)).collect(),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// Reconstruction of a batch.
    ///
    /// # Shapes
    /// - input: `[batch, d]`
    /// - output: `[batch, d]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        // ReLU layers, dropout after those of `DROPOUT_AFTER` (the CPU trainer's one
        // definition), a sigmoid output.
        let last = self.layers.len() - 1;
        let mut x = x;
        for (l, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            x = if l == last {
                sigmoid(x)
            } else if DROPOUT_AFTER.contains(&l) {
                self.dropout.forward(relu(x))
            } else {
                relu(x)
            };
        }
        x
    }

    /// The weights as a [`Net`].
    pub async fn to_net(&self) -> Result<Net, DetectError> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            layers.push(dense(l).await?);
        }
        Ok(Net { layers })
    }
}

/// Trains the burn module on `device` (made autodiff here) with the parameters' epochs,
/// batches, Adam and dropout; losses are summed on the device and read once per epoch.
pub async fn train_burn(
    params: &AutoencoderValidParams,
    data: &Matrix<f32>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<Autoencoder, DetectError> {
    let p = params.get();
    if data.rows == 0 {
        return Err(DetectError::NoPackets);
    }
    let device = device.clone().autodiff();
    device.seed(p.seed);
    let mut model = AutoencoderConfig::new(data.cols).with_dropout(p.dropout).init(p.seed, &device);
    let mut optim = AdamConfig::new()
        .with_beta_1(p.beta_1 as f32)
        .with_beta_2(p.beta_2 as f32)
        .with_epsilon(p.epsilon as f32)
        .init();
    let d = data.cols;
    let mut history = Vec::with_capacity(p.epochs);
    let mut batch = Vec::with_capacity(p.batch_size * d);
    for epoch in 0..p.epochs {
        let started = Instant::now();
        let order = epoch_order(data.rows, p.seed, epoch);
        let mut loss_sum = Tensor::<1>::zeros([1], &device);
        for rows in order.chunks(p.batch_size) {
            batch.clear();
            for &r in rows {
                batch.extend_from_slice(data.row(r));
            }
            let x = Tensor::<2>::from_data(TensorData::new(batch.clone(), [rows.len(), d]), &device);
            let out = model.forward(x.clone());
            let loss = MseLoss::new().forward(out, x, Reduction::Mean);
            loss_sum = loss_sum + loss.clone().detach().mul_scalar(rows.len() as f32).reshape([1]);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(p.learning_rate, model, grads);
        }
        let total: f32 = read(loss_sum).await?.first().copied().unwrap_or(f32::NAN);
        let report = EpochReport {
            epoch: epoch + 1,
            epochs: p.epochs,
            loss: f64::from(total) / data.rows as f64,
            seconds: started.elapsed().as_secs_f64(),
        };
        let flow = on_epoch(&report);
        history.push(report);
        if flow.is_break() {
            return Err(DetectError::Cancelled);
        }
    }
    Ok(Autoencoder { net: model.valid().to_net().await?, history, percentile: p.percentile, profile: None })
}

#[cfg(test)]
mod tests {
    use futures_lite::future::block_on;

    use super::*;
    use crate::detect::autoencoder::tests::easy;

    /// Without dropout both trainers see the same weights, batches and Adam, so their
    /// per-epoch losses must agree closely. (Not exactly: burn's Adam adds ε to the
    /// bias-corrected √v̂, Keras to √v.)
    #[test]
    fn burn_and_cpu_trainers_learn_the_same_way() {
        let data = easy(300);
        let p = Autoencoder::params().epochs(4).dropout(0.0).check().expect("valid");
        let cpu = p.fit_cpu(&data, &mut |_| ControlFlow::Continue(())).expect("cpu trains");
        let burn = block_on(train_burn(&p, &data, &Device::flex(), &mut |_| ControlFlow::Continue(())))
            .expect("burn trains");
        assert_eq!(burn.history.len(), 4);
        for (a, b) in cpu.history.iter().zip(&burn.history) {
            let rel = (a.loss - b.loss).abs() / a.loss;
            assert!(rel < 1e-2, "epoch {}: cpu {} burn {}", a.epoch, a.loss, b.loss);
        }
        assert!(burn.history[3].loss < burn.history[0].loss);
        let rho = crate::evaluate::spearman(&cpu.score(&data), &burn.score(&data));
        assert!(rho > 0.99, "score rank correlation {rho}");
    }

    #[test]
    fn weights_round_trip_through_the_module() {
        let net = Net::glorot(5, &mut rng(1, 0));
        let back = block_on(BurnAutoencoder::from_net(&net, 0.2, &Device::flex()).to_net()).expect("reads");
        assert_eq!(back, net);
    }
}
