//! Where the autoencoder trains, and why there. Two places: the hand-written CPU trainer, or an
//! *accelerator*, a burn `Device` that the caller brings (the browser's WebGPU, brought up by
//! `browser::gpu`; burn's `flex` natively, for `netsieve analyze --trainer burn`). The user
//! prefers one, or leaves it to [`Preference::Auto`]: then, when there is an accelerator, both
//! train a few steps of the capture itself and the faster runs the whole job.
//!
//! Timing beats a fixed rule here: at batch 32 this 8,550-parameter network is a round of a
//! dozen tiny dispatches per step, so a GPU can lose to one CPU core, and by how much depends on
//! the GPU, the driver and the browser.

use std::ops::ControlFlow;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::{Autoencoder, AutoencoderValidParams, EpochReport, train_burn};
use crate::detect::DetectError;
use crate::features::Matrix;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// The accelerator when timing says it is faster for this job, else the CPU.
    #[default]
    Auto,
    Cpu,
    Accelerator,
}

/// A burn device to train on, and its name for people ("WebGPU (google swiftshader)").
#[derive(Debug, Clone)]
pub struct Accelerator {
    pub device: Device,
    pub name: String,
}

/// What the caller offers: the preference, and the accelerator or why there is none.
#[derive(Debug, Clone)]
pub struct Compute {
    pub preference: Preference,
    pub accelerator: Result<Accelerator, String>,
}

impl Compute {
    /// The CPU trainer only.
    pub fn cpu() -> Compute {
        Compute { preference: Preference::Cpu, accelerator: Err("none was offered".into()) }
    }

    /// burn's `flex` CPU backend as the accelerator, asked for explicitly.
    pub fn burn_flex() -> Compute {
        Compute {
            preference: Preference::Accelerator,
            accelerator: Ok(Accelerator { device: Device::flex(), name: "burn flex (CPU)".into() }),
        }
    }
}

/// Which backend trained the autoencoder and why; shown on the page and kept in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendNote {
    pub backend: String,
    pub reason: String,
    /// What [`Preference::Auto`] measured, when it timed both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
}

/// Milliseconds per training step on each side, as timed by [`choose`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub cpu_ms: f64,
    pub accelerator_ms: f64,
}

/// Steps of the capture each side trains (after a warm-up epoch of as many) when
/// [`Preference::Auto`] has a choice. Few, because a software adapter can take half a second
/// a step; enough, because every step of this network costs the same.
pub const TRIAL_STEPS: usize = 8;

/// The CPU side is timed until this long has passed (browsers coarsen their clocks).
const CPU_TRIAL_MS: f64 = 30.0;

/// Decides where to train; with `Auto` and an accelerator this times [`TRIAL_STEPS`] on each.
pub async fn choose<'a>(
    compute: &'a Compute,
    params: &AutoencoderValidParams,
    data: &Matrix<f32>,
) -> Result<(Option<&'a Accelerator>, BackendNote), DetectError> {
    let note =
        |backend: &str, reason: String| BackendNote { backend: backend.to_string(), reason, trial: None };
    match (compute.preference, &compute.accelerator) {
        (Preference::Cpu, _) => Ok((None, note("CPU", "chosen in the settings".into()))),
        (Preference::Accelerator, Ok(a)) => Ok((Some(a), note(&a.name, "chosen in the settings".into()))),
        (Preference::Accelerator, Err(why)) => Err(DetectError::Backend(format!(
            "the accelerator was asked for, but {why}; choose the CPU or automatic"
        ))),
        (Preference::Auto, Err(why)) => Ok((None, note("CPU", format!("no accelerator: {why}")))),
        (Preference::Auto, Ok(a)) => {
            let p = params.get();
            let trial = first_rows(data, TRIAL_STEPS * p.batch_size);
            let steps = trial.rows.div_ceil(p.batch_size) as f64;
            let two = params.clone().with_epochs(2);
            let cpu_ms = {
                let started = Instant::now();
                let mut runs = 0u32;
                while runs == 0 || (elapsed_ms(started) < CPU_TRIAL_MS && runs < 100) {
                    two.fit_cpu(&trial, &mut go_on)?;
                    runs += 1;
                }
                elapsed_ms(started) / (f64::from(runs) * 2.0 * steps)
            };
            // The first epoch compiles the accelerator's kernels: time the second (its steps
            // and the loss read that ends it, as in training).
            let warm = train_burn(&two, &trial, &a.device, &mut go_on).await?;
            let acc_ms = warm.history.last().map_or(f64::INFINITY, |e| e.seconds * 1000.0) / steps;
            let job_steps = data.rows.div_ceil(p.batch_size) * p.epochs;
            let (use_it, reason) = decide(cpu_ms, acc_ms, job_steps, &a.name);
            let trial = Some(Trial { cpu_ms, accelerator_ms: acc_ms });
            let backend = if use_it { a.name.as_str() } else { "CPU" };
            Ok((use_it.then_some(a), BackendNote { trial, ..note(backend, reason) }))
        }
    }
}

/// Trains where [`choose`] said.
pub async fn train(
    on: Option<&Accelerator>,
    params: &AutoencoderValidParams,
    data: &Matrix<f32>,
    on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<Autoencoder, DetectError> {
    match on {
        None => params.fit_cpu(data, on_epoch),
        Some(a) => train_burn(params, data, &a.device, on_epoch).await,
    }
}

/// Picks the faster side from measured milliseconds per step; says why in words.
pub fn decide(cpu_ms: f64, acc_ms: f64, job_steps: usize, name: &str) -> (bool, String) {
    let use_it = acc_ms < cpu_ms;
    let (faster, ratio) = if use_it { (name, cpu_ms / acc_ms) } else { ("the CPU", acc_ms / cpu_ms) };
    let s = |ms: f64| format_seconds(ms * job_steps as f64 / 1000.0);
    let reason = format!(
        "timed on {TRIAL_STEPS} training steps of this capture: the CPU took {} ms a step, {name} {} \
         ms; {faster} is {ratio:.1}× faster (the {} steps of this job: about {} on the CPU, {} on \
         {name})",
        format_ms(cpu_ms),
        format_ms(acc_ms),
        crate::format::thousands(job_steps as u64),
        s(cpu_ms),
        s(acc_ms),
    );
    (use_it, reason)
}

/// Three significant digits or so: 0.0712, 2.50, 591.
fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.4}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

fn format_seconds(s: f64) -> String {
    if s < 60.0 { format!("{s:.1} s") } else { format!("{:.1} min", s / 60.0) }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn go_on(_: &EpochReport) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn first_rows(data: &Matrix<f32>, rows: usize) -> Matrix<f32> {
    let rows = rows.min(data.rows);
    Matrix { rows, cols: data.cols, data: data.data[..rows * data.cols].to_vec() }
}

#[cfg(test)]
mod tests {
    use futures_lite::future::block_on;

    use super::*;
    use crate::detect::autoencoder::Autoencoder;
    use crate::detect::autoencoder::tests::easy;

    #[test]
    fn the_faster_side_wins_and_the_reason_gives_the_figures() {
        let (gpu, why) = decide(0.07, 2.5, 76_000, "WebGPU (x)");
        assert!(!gpu);
        assert!(why.contains("0.0700 ms a step, WebGPU (x) 2.50 ms;"), "{why}");
        assert!(why.contains("the CPU is 35.7× faster"), "{why}");
        assert!(why.contains("76,000 steps") && why.contains("5.3 s on the CPU"), "{why}");
        assert!(why.contains("3.2 min on WebGPU (x)"), "{why}");
        let (gpu, why) = decide(400.0, 0.1, 10, "WebGPU (x)");
        assert!(gpu);
        assert!(why.contains("took 400 ms a step"), "{why}");
        assert!(why.contains("WebGPU (x) is 4000.0× faster"), "{why}");
    }

    #[test]
    fn preferences_are_obeyed_and_explained() {
        let data = easy(100);
        let p = Autoencoder::params().check().expect("valid");
        let cpu = Compute::cpu();
        let (on, note) = block_on(choose(&cpu, &p, &data)).expect("cpu");
        assert!(on.is_none());
        assert_eq!(note.reason, "chosen in the settings");
        let flex = Compute::burn_flex();
        let (on, note) = block_on(choose(&flex, &p, &data)).expect("flex");
        assert_eq!(on.map(|a| a.name.as_str()), Some("burn flex (CPU)"));
        assert_eq!(note.backend, "burn flex (CPU)");
        let none = Compute { preference: Preference::Accelerator, accelerator: Err("no adapter".into()) };
        let err = block_on(choose(&none, &p, &data)).expect_err("refused");
        assert!(err.to_string().contains("no adapter; choose the CPU"), "{err}");
        let auto = Compute { preference: Preference::Auto, ..none };
        let (on, note) = block_on(choose(&auto, &p, &data)).expect("auto");
        assert!(on.is_none());
        assert_eq!(note.reason, "no accelerator: no adapter");
    }

    /// With an accelerator, `Auto` times both on the capture and names what it measured.
    #[test]
    fn auto_times_both_sides() {
        let data = easy(2000);
        let p = Autoencoder::params().check().expect("valid");
        let auto = Compute { preference: Preference::Auto, ..Compute::burn_flex() };
        let (on, note) = block_on(choose(&auto, &p, &data)).expect("auto");
        assert!(note.reason.starts_with("timed on 8 training steps"), "{}", note.reason);
        // Both sides were timed, and the side that trains is the one the timing favours.
        let t = note.trial.expect("automatic times both sides");
        assert!(
            t.cpu_ms > 0.0 && t.cpu_ms.is_finite() && t.accelerator_ms > 0.0 && t.accelerator_ms.is_finite()
        );
        assert_eq!(on.map(|a| a.name.as_str()), (t.accelerator_ms < t.cpu_ms).then_some("burn flex (CPU)"));
    }
}
