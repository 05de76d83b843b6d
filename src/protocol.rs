//! The messages between the page and the analysis worker, as plain serde types. Encoding them
//! (and transferring the file's bytes as an `ArrayBuffer`) is the browser layer's job; the
//! shapes and their round trips are tested natively here.
//!
//! The conversation: the worker posts [`FromWorker::Ready`] once it listens; the page sends
//! [`ToWorker::Analyze`] with the file's bytes beside it; the worker answers with `Progress`
//! messages, an `Overview` as soon as the capture is parsed, then `Done` or `Failed`.

use serde::{Deserialize, Serialize};

use crate::capture::Warning;
use crate::detect::autoencoder::{BackendNote, Preference};
use crate::pipeline::{EngineThresholds, Params, Part, Stage};
use crate::report::ResultsView;
use crate::session::{Contents, Export};
use crate::stats::Overview;

/// Bumped when a message changes shape; page and worker must agree.
pub const PROTOCOL_VERSION: u32 = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Analyse the bytes sent beside this message with `params`, the autoencoder on `backend`
    /// (CPU, WebGPU, or automatic). `job` is echoed in every answer.
    Analyze { job: u64, file_name: String, params: Box<Params>, backend: Preference },
    /// Flag again and regroup the incidents of `job`'s finished analysis (the default preset)
    /// at these thresholds, without training again; answered by `Results`.
    Recut { job: u64, threshold: f64, engines: EngineThresholds },
    /// Ground truth for `job`'s capture: a `NAME.labels.csv` and, optionally, its
    /// `NAME.stats.json` attack table. Every `Results` after it carries the evaluation.
    Labels { job: u64, labels: String, stats: Option<String> },
    /// A file made from `job`'s analysis at its current thresholds; answered by `Exported`
    /// (or `Rejected`: a pcapng of a CSV input).
    Export { job: u64, file: Export },
    /// From an analysing worker to its helper, with the same file's bytes beside it: run the
    /// preset's helper steps (`pipeline::help`); answered by `Helped` or `Failed`.
    Help { job: u64, file_name: String, params: Box<Params> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Ready {
        version: u32,
    },
    Progress {
        job: u64,
        stage: Stage,
        fraction: f64,
    },
    Overview {
        job: u64,
        overview: Box<Overview>,
        warnings: Vec<Warning>,
        warnings_total: usize,
        skipped_rows: usize,
    },
    /// Where the autoencoder trains, and why.
    Backend {
        job: u64,
        note: BackendNote,
    },
    /// The autoencoder finished an epoch.
    Epoch {
        job: u64,
        epoch: usize,
        epochs: usize,
        loss: f64,
    },
    /// The detectors' results, as the page shows them (after an analysis, a `Recut` or
    /// `Labels`). The downloads are made only when asked for (`Export`).
    Results {
        job: u64,
        view: Box<ResultsView>,
    },
    /// A helper's answer to `Help`: what its steps left.
    Helped {
        job: u64,
        part: Box<Part>,
    },
    /// The file asked for with `Export`.
    Exported {
        job: u64,
        file: Export,
        contents: Contents,
    },
    /// A `Recut` or `Labels` request could not be done (a bad labels file, say); the analysis
    /// stands as it was.
    Rejected {
        job: u64,
        error: ErrorReport,
    },
    /// `memory_bytes`: the worker's wasm linear memory at the end (its peak: it never shrinks).
    Done {
        job: u64,
        seconds: f64,
        memory_bytes: u64,
    },
    Failed {
        job: u64,
        error: ErrorReport,
    },
    /// The worker panicked: the page shows the error and starts a fresh worker for the next run.
    Crashed {
        job: u64,
        error: ErrorReport,
    },
}

impl FromWorker {
    /// The job a message answers (`None` for `Ready`).
    pub fn job(&self) -> Option<u64> {
        match self {
            FromWorker::Ready { .. } => None,
            FromWorker::Progress { job, .. }
            | FromWorker::Overview { job, .. }
            | FromWorker::Backend { job, .. }
            | FromWorker::Epoch { job, .. }
            | FromWorker::Results { job, .. }
            | FromWorker::Helped { job, .. }
            | FromWorker::Exported { job, .. }
            | FromWorker::Done { job, .. }
            | FromWorker::Rejected { job, .. }
            | FromWorker::Failed { job, .. }
            | FromWorker::Crashed { job, .. } => Some(*job),
        }
    }
}

/// An error as it crosses the worker boundary: its message, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    pub message: String,
}

impl<E: std::error::Error> From<E> for ErrorReport {
    fn from(e: E) -> Self {
        ErrorReport { message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::parse;
    use crate::stats::overview;

    #[test]
    fn messages_round_trip_through_json() {
        let c =
            parse(b"No.,Time,Source,Destination,Protocol,Length,Info\n1,0,a,b,TCP,60,x\n").expect("parses");
        let msgs = vec![
            FromWorker::Ready { version: PROTOCOL_VERSION },
            FromWorker::Progress { job: 3, stage: Stage::Parse, fraction: 0.5 },
            FromWorker::Overview {
                job: 3,
                overview: Box::new(overview(&c)),
                warnings: vec![Warning { line: 4, message: "m".into() }],
                warnings_total: 1,
                skipped_rows: 1,
            },
            FromWorker::Backend {
                job: 3,
                note: BackendNote {
                    backend: "CPU".into(),
                    reason: "chosen in the settings".into(),
                    trial: None,
                },
            },
            FromWorker::Epoch { job: 3, epoch: 2, epochs: 20, loss: 0.004 },
            FromWorker::Exported { job: 3, file: Export::Markdown, contents: Contents::Text("# x".into()) },
            FromWorker::Exported {
                job: 3,
                file: Export::Pcap { incident: Some(2) },
                contents: Contents::Bytes(vec![0x0a, 0x0d, 0x0d, 0x0a]),
            },
            FromWorker::Rejected {
                job: 3,
                error: ErrorReport { message: "labels of another capture".into() },
            },
            FromWorker::Done { job: 3, seconds: 0.25, memory_bytes: 1 << 20 },
            FromWorker::Failed { job: 3, error: ErrorReport { message: "empty file".into() } },
            FromWorker::Crashed { job: 3, error: ErrorReport { message: "panicked at x".into() } },
        ];
        for m in msgs {
            let json = serde_json::to_string(&m).expect("serialises");
            let back: FromWorker = serde_json::from_str(&json).expect("deserialises");
            assert_eq!(back, m);
        }
        let to = ToWorker::Analyze {
            job: 1,
            file_name: "a.csv".into(),
            params: Box::default(),
            backend: Preference::Accelerator,
        };
        let back: ToWorker = serde_json::from_str(&serde_json::to_string(&to).expect("ser")).expect("de");
        assert_eq!(back, to);
        for to in [
            ToWorker::Recut {
                job: 2,
                threshold: 2.5,
                engines: [(crate::detect::DetectorId::Iforest, 1.0)].into_iter().collect(),
            },
            ToWorker::Labels { job: 2, labels: "No.,label,attack\n".into(), stats: None },
            ToWorker::Export { job: 2, file: Export::Pcap { incident: None } },
            ToWorker::Export { job: 2, file: Export::FlaggedCsv },
            ToWorker::Help { job: 2, file_name: "a.csv".into(), params: Box::new(Params::context(7)) },
        ] {
            let back: ToWorker = serde_json::from_str(&serde_json::to_string(&to).expect("ser")).expect("de");
            assert_eq!(back, to);
        }
    }

    #[test]
    fn job_of_each_message() {
        assert_eq!(FromWorker::Ready { version: 1 }.job(), None);
        assert_eq!(FromWorker::Done { job: 7, seconds: 0.0, memory_bytes: 0 }.job(), Some(7));
    }
}
