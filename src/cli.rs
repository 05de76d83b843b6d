//! The `netsieve` command line (behind the `cli` feature): argument parsing, progress on
//! stderr, tables on stdout. All analysis is the core's.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use web_time::Instant;

use crate::assess::{Evaluation, attack_windows, evaluate};
use crate::capture::Capture;
use crate::detect::DetectorId;
use crate::detect::autoencoder::Compute;
use crate::evaluate::Labels;
use crate::format::{tenths, thousands};
use crate::parity::{self, Reference};
use crate::pipeline::{self, Event, NoProgress, Params, Preset, ProgressSink, Stage};
use crate::report::Report;
use crate::session::Export;
use crate::stats::Overview;
use crate::timing::Lap;

#[derive(Debug, Parser)]
#[command(name = "netsieve", version, about = "Network-traffic anomaly analysis of Wireshark CSV exports")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TrainerArg {
    Cpu,
    Burn,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PresetArg {
    /// The seed notebook's method, exactly.
    Seed,
    /// Contextual features, a combined score and incidents (the default).
    Context,
}

#[derive(Debug, clap::Args)]
struct DetectArgs {
    /// Which analysis: the default contextual one, or the seed notebook's method.
    #[arg(long, value_enum, default_value_t = PresetArg::Context)]
    preset: PresetArg,
    /// Default preset: flag packets whose combined score (surprise) is at least this.
    #[arg(long)]
    threshold: Option<f64>,
    /// Default preset: the isolation forest flags scores above this (default: its top 0.1 %).
    #[arg(long)]
    iforest_threshold: Option<f64>,
    /// Default preset: k-means flags scores above this (default: its top 0.1 %).
    #[arg(long)]
    kmeans_threshold: Option<f64>,
    /// Default preset: the autoencoder flags scores above this (default: its top 0.1 %).
    #[arg(long)]
    autoencoder_threshold: Option<f64>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Autoencoder epochs (default: 20 for the seed preset, 10 for the default one).
    #[arg(long)]
    epochs: Option<usize>,
    /// Autoencoder batch size (default: 32 for the seed preset, 64 for the default one).
    #[arg(long)]
    batch: Option<usize>,
    /// Autoencoder trainer: the fast hand-written CPU trainer or burn (flex backend).
    #[arg(long, value_enum, default_value_t = TrainerArg::Cpu)]
    trainer: TrainerArg,
    /// Autoencoder and k-means threshold percentile.
    #[arg(long, default_value_t = 99.9)]
    percentile: f64,
    /// Isolation forest contamination.
    #[arg(long, default_value_t = 0.0045)]
    contamination: f64,
    /// k-means clusters.
    #[arg(long, default_value_t = 2)]
    k: usize,
    /// Run the detectors that do not need the autoencoder on a second thread while it trains
    /// (`--one-thread`: all on one; the results are the same bits either way).
    #[arg(long)]
    one_thread: bool,
}

impl DetectArgs {
    /// Where the autoencoder trains.
    fn compute(&self) -> Compute {
        match self.trainer {
            TrainerArg::Cpu => Compute::cpu(),
            TrainerArg::Burn => Compute::burn_flex(),
        }
    }

    fn params(&self) -> Params {
        let mut p = match self.preset {
            PresetArg::Seed => Params::seed(self.seed),
            PresetArg::Context => Params::context(self.seed),
        };
        if let Some(e) = self.epochs {
            p.autoencoder.epochs = e;
            p.context.autoencoder.epochs = e;
        }
        if let Some(b) = self.batch {
            p.autoencoder.batch_size = b;
            p.context.autoencoder.batch_size = b;
        }
        if let Some(t) = self.threshold {
            p.context.threshold = t;
        }
        p.context.engine_thresholds = [
            (DetectorId::Iforest, self.iforest_threshold),
            (DetectorId::Kmeans, self.kmeans_threshold),
            (DetectorId::Autoencoder, self.autoencoder_threshold),
        ]
        .into_iter()
        .filter_map(|(engine, v)| Some((engine, v?)))
        .collect();
        p.autoencoder.percentile = self.percentile;
        p.iforest.contamination = self.contamination;
        p.kmeans.k = self.k;
        p.kmeans_percentile = self.percentile;
        p
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the capture overview (packets, hosts, protocols, lengths, traffic, conversations).
    Summary {
        /// A Wireshark "Export Packet Dissections > As CSV" file.
        file: PathBuf,
        /// Print the overview as JSON (field names as in shared/data/*.stats.json).
        #[arg(long)]
        json: bool,
    },
    /// Analyse a capture: the default preset's incidents, or the seed method's three detectors.
    Analyze {
        file: PathBuf,
        /// Write the full report (per-packet scores included) as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Score the results against a `No.,label,attack` ground-truth file.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Write the Markdown report (incidents, filters, settings) here.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Write the flagged packets (of the primary verdict, or of one `--incident`) as a
        /// pcapng that Wireshark opens (pcap or pcapng input only).
        #[arg(long)]
        pcap_out: Option<PathBuf>,
        /// With `--pcap-out`: only this incident's packets (its rank).
        #[arg(long, requires = "pcap_out")]
        incident: Option<usize>,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Analyse a capture and score it against ground truth: ROC-AUC and average precision of
    /// each score, precision and recall, each attack instance, false incidents.
    Evaluate {
        file: PathBuf,
        /// The `No.,label,attack` ground truth.
        #[arg(long)]
        labels: PathBuf,
        /// The attack table (`attack_windows_rel`); default: `NAME.stats.json` beside the labels.
        #[arg(long)]
        stats: Option<PathBuf>,
        /// Write the evaluation as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write the report here.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Check the seed preset against the reference results (exit status 1 when out of bounds).
    Parity {
        /// The capture (default: ../shared/data/lab-120k.csv).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Reference result JSONs, seed 42 first (default: ../shared/reference/results/<name>.seed{42,1,2}.json).
        #[arg(long = "reference")]
        references: Vec<PathBuf>,
        /// Also write Netsieve's report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Instead: fit only the isolation forest over seeds 0..N−1 and print its spread as
        /// JSON (counts, Spearman vs the reference's seed 42 and pairwise).
        #[arg(long, value_name = "N")]
        iforest_seeds: Option<u64>,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Time parse + overview and the seed preset's stages; prints medians.
    Bench {
        /// Captures to time (default: ../shared/data/lab-120k.csv).
        files: Vec<PathBuf>,
        /// Repetitions (the median is printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also time the whole seed preset (autoencoder, forests, k-means) this many times.
        #[arg(long, default_value_t = 1)]
        detect_runs: usize,
    },
    /// Write the default preset's contextual features of every packet as CSV (No., actor,
    /// peer, then one column per feature).
    Features {
        file: PathBuf,
        /// Output CSV.
        out: PathBuf,
    },
    /// Write a large capture made of renumbered, time-shifted copies of a real one.
    Generate {
        /// Source capture.
        #[arg(long)]
        from: PathBuf,
        /// Packets to write.
        #[arg(long, default_value_t = 1_000_000)]
        packets: usize,
        /// Output CSV.
        out: PathBuf,
    },
}

/// Runs the CLI; errors are printed once, on stderr.
pub fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netsieve: error: {}", terminal_safe(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Capture text for a terminal: hidden characters ([`crate::format::is_hidden`]: ANSI escapes,
/// bidi overrides, zero-width characters) written as `\uXXXX`, so a capture can neither drive
/// the terminal nor reorder what it shows. Newlines and tabs pass.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| crate::format::is_hidden(c) && c != '\n' && c != '\t';
    if !s.chars().any(hidden) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Standard output through [`terminal_safe`]. JSON written through it stays the same JSON: a
/// `\uXXXX` escape inside a string is the character it replaces.
struct Terminal<W: Write> {
    inner: W,
    /// An incomplete UTF-8 sequence at the end of the last write.
    pending: Vec<u8>,
}

impl<W: Write> Terminal<W> {
    fn new(inner: W) -> Self {
        Terminal { inner, pending: Vec::new() }
    }
}

impl<W: Write> Write for Terminal<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let complete = match std::str::from_utf8(&self.pending) {
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            _ => self.pending.len(),
        };
        let text = String::from_utf8_lossy(&self.pending[..complete]).into_owned();
        self.inner.write_all(terminal_safe(&text).as_bytes())?;
        self.pending.drain(..complete);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            self.pending.clear();
            self.inner.write_all(rest.as_bytes())?;
        }
        self.inner.flush()
    }
}

fn shared() -> PathBuf {
    std::env::var_os("NETSIEVE_SHARED").map_or_else(|| PathBuf::from("../shared"), PathBuf::from)
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Summary { file, json } => summary(&file, json)?,
        Command::Analyze { file, json, labels, markdown, pcap_out, incident, detect } => {
            analyze_command(&file, &detect, json, labels, markdown, pcap_out, incident)?
        }
        Command::Evaluate { file, labels, stats, json, report, detect } => {
            evaluate_command(&file, &detect, &labels, stats, json, report)?
        }
        Command::Parity { file, references, json, iforest_seeds, detect } => {
            return parity_command(file, references, json, iforest_seeds, detect);
        }
        Command::Bench { files, runs, detect_runs } => {
            let files = if files.is_empty() { vec![shared().join("data/lab-120k.csv")] } else { files };
            bench(&files, runs.max(1), detect_runs)?;
        }
        Command::Features { file, out } => write_features(&file, &out)?,
        Command::Generate { from, packets, out } => generate(&from, packets, &out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `netsieve summary`: the overview, as a table or JSON.
fn summary(file: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let name = file.display().to_string();
    let analysis = pipeline::run(&bytes, &name, &Params::overview_only(), &mut NoProgress)
        .with_context(|| name.clone())?;
    print_warnings(file, &analysis.capture);
    let mut out = Terminal::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &analysis.overview)?;
        writeln!(out)?;
    } else {
        write_overview(&mut out, &analysis.overview)?;
    }
    Ok(())
}

/// `netsieve analyze`: the results, then each output asked for.
fn analyze_command(
    file: &Path,
    detect: &DetectArgs,
    json: Option<PathBuf>,
    labels: Option<PathBuf>,
    markdown: Option<PathBuf>,
    pcap_out: Option<PathBuf>,
    incident: Option<usize>,
) -> anyhow::Result<()> {
    let (report, capture) = analyze(file, detect)?;
    let mut out = Terminal::new(std::io::stdout().lock());
    write_results(&mut out, &report)?;
    if let Some(labels) = labels {
        let e = evaluation(&labels, None, &report, &capture)?;
        write_evaluation(&mut out, &e)?;
    }
    if let Some(path) = json {
        write_json(&path, &report)?;
        writeln!(out, "\nreport written to {}", path.display())?;
    }
    if let Some(path) = markdown {
        std::fs::write(&path, crate::markdown::markdown(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "Markdown report written to {}", path.display())?;
    }
    if let Some(path) = pcap_out {
        let keep = crate::session::Session::selection(&report, incident)?;
        let bytes = crate::capture::pcap::export_pcapng(&read(file)?, &keep)
            .with_context(|| format!("{}: cannot export", file.display()))?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "{} packets written to {} (pcapng)", keep.len(), path.display())?;
    }
    Ok(())
}

/// `netsieve evaluate`: the incidents and the evaluation against the labels.
fn evaluate_command(
    file: &Path,
    detect: &DetectArgs,
    labels: &Path,
    stats: Option<PathBuf>,
    json: Option<PathBuf>,
    report_out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (report, capture) = analyze(file, detect)?;
    let e = evaluation(labels, stats.as_deref(), &report, &capture)?;
    let mut out = Terminal::new(std::io::stdout().lock());
    write_incidents(&mut out, &report)?;
    write_evaluation(&mut out, &e)?;
    write_combinations(&mut out, &report, labels)?;
    if let Some(path) = json {
        let file =
            std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &e)?;
        writeln!(out, "\nevaluation written to {}", path.display())?;
    }
    if let Some(path) = report_out {
        write_json(&path, &report)?;
    }
    Ok(())
}

/// `netsieve parity`: the seed preset against the reference results.
fn parity_command(
    file: Option<PathBuf>,
    references: Vec<PathBuf>,
    json: Option<PathBuf>,
    iforest_seeds: Option<u64>,
    mut detect: DetectArgs,
) -> anyhow::Result<ExitCode> {
    detect.preset = PresetArg::Seed;
    let file = file.unwrap_or_else(|| shared().join("data/lab-120k.csv"));
    let refs = parity_references(&file, references)?;
    if let Some(n) = iforest_seeds {
        return parity_iforest_seeds(&file, &detect, &refs[0], n);
    }
    let (report, _) = analyze(&file, &detect)?;
    if let Some(path) = json {
        write_json(&path, &report)?;
    }
    let mut out = Terminal::new(std::io::stdout().lock());
    write_results(&mut out, &report)?;
    parity_checks(&mut out, &file, &report, &refs)
}

/// `netsieve features`: every packet's contextual features as CSV.
fn write_features(file: &Path, out: &Path) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let capture = crate::capture::parse(&bytes).with_context(|| file.display().to_string())?;
    let ctx = crate::features::context::build(&capture);
    let f = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
    let mut header = vec!["No.".to_string(), "actor".into(), "peer".into()];
    header.extend(crate::features::context::COLUMNS.iter().map(|c| c.name.to_string()));
    w.write_record(&header)?;
    for i in 0..capture.len() {
        let mut rec = vec![
            capture.no[i].to_string(),
            crate::report::neutralise_formula(capture.hosts.name(ctx.actor[i])),
            crate::report::neutralise_formula(capture.hosts.name(ctx.peer[i])),
        ];
        rec.extend(ctx.values.row(i).iter().map(|v| format!("{v}")));
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// `netsieve generate`: a large capture of renumbered, time-shifted copies of a real one.
fn generate(from: &Path, packets: usize, out: &Path) -> anyhow::Result<()> {
    let bytes = read(from)?;
    let capture = crate::capture::parse(&bytes).with_context(|| from.display().to_string())?;
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    crate::capture::write_repeated(&capture, packets, &mut w)?;
    w.flush()?;
    eprintln!("wrote {} packets to {}", thousands(packets as u64), out.display());
    Ok(())
}

fn write_json(path: &Path, report: &Report) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), report)?;
    Ok(())
}

/// Draws the analysis's progress on stderr.
struct Bar {
    bar: ProgressBar,
}

impl ProgressSink for Bar {
    fn event(&mut self, event: Event<'_>) -> ControlFlow<()> {
        match event {
            Event::Progress { stage, fraction } => {
                self.bar.set_message(stage.label());
                self.bar.set_position((fraction * 1000.0) as u64);
            }
            Event::Epoch(e) => {
                self.bar.set_message(format!(
                    "{} · epoch {}/{} loss {:.6}",
                    Stage::Autoencoder.label(),
                    e.epoch,
                    e.epochs,
                    e.loss
                ));
            }
            Event::Backend(b) => self.bar.println(format!("  autoencoder on {}: {}", b.backend, b.reason)),
            Event::StageDone { stage, seconds } => {
                self.bar.println(format!("  {:<26} {seconds:>8.3} s", stage.label()))
            }
            Event::Overview { .. } => {}
        }
        ControlFlow::Continue(())
    }
}

fn analyze(file: &Path, detect: &DetectArgs) -> anyhow::Result<(Report, Capture)> {
    let (params, compute) = (&detect.params(), &detect.compute());
    let bytes = read(file)?;
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut sink = Bar { bar };
    let name = file.display().to_string();
    let helper =
        (!detect.one_thread).then(|| pipeline::thread_helper(bytes.clone(), name.clone(), params.clone()));
    let analysis =
        futures_lite::future::block_on(pipeline::run_with(&bytes, &name, params, compute, &mut sink, helper))
            .with_context(|| name.clone())?;
    sink.bar.finish_and_clear();
    print_warnings(file, &analysis.capture);
    let report =
        analysis.report.ok_or_else(|| anyhow::anyhow!("{name}: {}", pipeline::PipelineError::NoPackets))?;
    Ok((report, analysis.capture))
}

/// The reference runs: the given files, or `reference/results/<name>.seed{42,1,2}.json`, each
/// of which must exist.
fn parity_references(file: &Path, given: Vec<PathBuf>) -> anyhow::Result<Vec<Reference>> {
    let paths = if given.is_empty() {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("capture").to_string();
        ["42", "1", "2"]
            .iter()
            .map(|s| shared().join(format!("reference/results/{stem}.seed{s}.json")))
            .collect()
    } else {
        given
    };
    paths
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(
                &read(p).with_context(|| format!("reference result for {}", file.display()))?,
            )
            .with_context(|| p.display().to_string())?;
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("reference");
            Reference::from_json(name, &v).map_err(anyhow::Error::msg)
        })
        .collect()
}

/// `netsieve parity --iforest-seeds N`: Netsieve's isolation forest over seeds 0..N−1 as the
/// JSON that `src/parity/iforest_seeds.netsieve.json` holds.
fn parity_iforest_seeds(
    file: &Path,
    detect: &DetectArgs,
    reference: &Reference,
    n: u64,
) -> anyhow::Result<ExitCode> {
    let bytes = read(file)?;
    let capture = crate::capture::parse(&bytes).with_context(|| file.display().to_string())?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("capture");
    let seeds: Vec<u64> = (0..n).collect();
    let spread = parity::iforest_seed_spread(&capture, name, &detect.params().iforest, &seeds, reference)?;
    println!("{}", serde_json::to_string_pretty(&spread)?);
    Ok(ExitCode::SUCCESS)
}

/// The parity table, the isolation forest's seed spreads, and the exit status.
fn parity_checks(
    out: &mut impl Write,
    file: &Path,
    report: &Report,
    refs: &[Reference],
) -> anyhow::Result<ExitCode> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (sklearn, ours) = (parity::SeedSpread::scikit_learn(), parity::SeedSpread::netsieve());
    let spread = (sklearn.capture == name).then_some(&sklearn);
    let checks = parity::measure(report, refs, spread);
    writeln!(out, "\nparity with {} reference run(s):", refs.len())?;
    for c in &checks {
        let verdict = match c.verdict {
            parity::Verdict::Pass => "ok",
            parity::Verdict::Fail => "FAIL",
            parity::Verdict::Reported => "--",
        };
        writeln!(out, "  {verdict:<4} {:<48} {:>9.4}   {}", c.name, c.value, c.bound)?;
    }
    if spread.is_some() {
        writeln!(
            out,
            "\nisolation forest over seeds on {name} (tools/sklearn_iforest_seeds.py, netsieve parity --iforest-seeds 20):"
        )?;
        writeln!(out, "  scikit-learn {}", sklearn.summary())?;
        writeln!(out, "  Netsieve     {}", ours.summary())?;
    }
    let failed = checks.iter().filter(|c| c.failed()).count();
    if failed == 0 {
        writeln!(out, "parity: all checks pass")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "parity: {failed} check(s) failed")?;
        Ok(ExitCode::FAILURE)
    }
}

/// Reads the labels (and the attack table: `stats`, or `NAME.stats.json` beside
/// `NAME.labels.csv`) and evaluates the report.
fn evaluation(
    labels: &Path,
    stats: Option<&Path>,
    report: &Report,
    capture: &Capture,
) -> anyhow::Result<Evaluation> {
    let l = Labels::from_csv(&read(labels)?).map_err(|e| anyhow::anyhow!("{}: {e}", labels.display()))?;
    let sibling = labels
        .to_str()
        .and_then(|s| s.strip_suffix(".labels.csv"))
        .map(|stem| PathBuf::from(format!("{stem}.stats.json")))
        .filter(|p| p.exists());
    let windows = match stats.map(Path::to_path_buf).or(sibling) {
        Some(p) => Some(attack_windows(&read(&p)?).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
        None => None,
    };
    Ok(evaluate(report, capture, &l, windows.as_deref()))
}

/// How each way of combining the detectors would rank the packets (the default preset).
fn write_combinations(out: &mut impl Write, r: &Report, labels: &Path) -> anyhow::Result<()> {
    use crate::detect::combine::{Combine, combine_surprises};
    let own: Vec<&[f64]> = Preset::Context
        .engines()
        .iter()
        .filter_map(|k| r.detectors.get(k))
        .map(|d| d.scores.as_slice())
        .collect();
    if own.len() < 3 {
        return Ok(());
    }
    let l = Labels::from_csv(&read(labels)?).map_err(anyhow::Error::msg)?;
    writeln!(out, "\ncombination      ROC-AUC  avg-prec")?;
    for how in Combine::ALL {
        let s = crate::evaluate::score_against(&l, &r.row_no, &combine_surprises(how, &own), &[]);
        writeln!(out, "{:<16}{:>8.3}{:>10.3}", how.name(), s.roc_auc, s.average_precision)?;
    }
    Ok(())
}

fn write_incidents(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    if r.incidents.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{} incidents", r.incidents.len())?;
    for i in r.incidents.iter().take(30) {
        writeln!(
            out,
            "\n#{:<3} {:<26} score {:.2}  {} packets  {:.3}–{:.3} s  by {}",
            i.rank,
            format!("{} · {}", i.kind.label(), i.actor),
            i.score,
            i.packets.len(),
            i.start,
            i.end,
            i.detectors.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        )?;
        writeln!(out, "     {}", i.explanation)?;
        writeln!(out, "     filter: {}", i.filter)?;
    }
    if r.incidents.len() > 30 {
        writeln!(out, "\n… and {} more (see --json)", r.incidents.len() - 30)?;
    }
    Ok(())
}

fn write_evaluation(out: &mut impl Write, e: &Evaluation) -> std::io::Result<()> {
    writeln!(out, "\nagainst labels   ROC-AUC  avg-prec  precision  recall  flagged")?;
    for (name, s) in &e.scores {
        writeln!(
            out,
            "{name:<16}{:>8.3}{:>10.3}{:>11.3}{:>8.3}{:>9}",
            s.roc_auc, s.average_precision, s.precision, s.recall, s.flagged
        )?;
    }
    writeln!(out, "\nattack instance          packets  flagged  in incident (actor = attacker)")?;
    for i in &e.instances {
        let at = match (i.incident, i.any_incident) {
            (Some(k), _) => format!("#{k}"),
            (None, Some(k)) => format!("no (its packets are in #{k}, another actor)"),
            (None, None) => "no".to_string(),
        };
        writeln!(
            out,
            "  {:<14} {:>8.1}s {:>8} {:>8}  {at}",
            i.instance.attack, i.instance.start, i.instance.packets, i.flagged
        )?;
    }
    writeln!(
        out,
        "\n{} ({}): {} flagged, precision {:.3}, recall {:.3}; instances found {}/{}; incidents {}, false {} {:?}",
        e.primary.map_or("no detector", |p| p.name()),
        e.threshold,
        e.flagged,
        e.precision,
        e.recall,
        e.instances_found,
        e.instances.len(),
        e.incidents,
        e.false_incidents.len(),
        e.false_incidents
    )?;
    Ok(())
}

fn print_warnings(file: &Path, capture: &Capture) {
    for w in &capture.warnings {
        eprintln!("{}: warning: {}", file.display(), terminal_safe(&w.message));
    }
    let more = capture.warnings_total - capture.warnings.len();
    if more > 0 {
        eprintln!("{}: … and {more} more warnings", file.display());
    }
    if capture.skipped_rows > 0 {
        eprintln!("{}: {} row(s) skipped", file.display(), capture.skipped_rows);
    }
}

/// The detectors' results as a table.
fn write_results(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "{} packets, {} protocols, preset {}",
        thousands(r.rows as u64),
        r.protocols,
        r.preset.name()
    )?;
    writeln!(out, "\ndetector        flagged    threshold   flagged packets (first 10)")?;
    for (name, d) in &r.detectors {
        let first: Vec<String> = d.flagged.iter().take(10).map(u64::to_string).collect();
        writeln!(out, "{name:<14}{:>9}  {:>11.6}   {}", d.count, d.threshold, first.join(" "))?;
        if let Some(c) = d.details.forest.if_count {
            writeln!(
                out,
                "  (isolation forest alone: {c} flagged, threshold {:.6})",
                d.details.forest.if_threshold.unwrap_or(f64::NAN)
            )?;
        }
    }
    let a = &r.agreement;
    writeln!(
        out,
        "\nagreement: {} packets flagged by any detector; by exactly 1/2/3: {:?}",
        a.union, a.flagged_by
    )?;
    for p in &a.pairs {
        writeln!(out, "  {} ∩ {}: {} (Jaccard {:.3})", p.a, p.b, p.both, p.jaccard)?;
    }
    write_incidents(out, r)?;
    writeln!(
        out,
        "\ntimings (s): {}",
        r.timings_s.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join(", ")
    )?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn bench(files: &[PathBuf], runs: usize, detect_runs: usize) -> anyhow::Result<()> {
    println!("parse + overview, median of {runs} runs (release build, one thread)");
    println!("{:<48}{:>10}{:>12}{:>10}{:>12}{:>14}", "capture", "MB", "packets", "ms", "MB/s", "packets/s");
    for file in files {
        let bytes = read(file)?;
        let mut times = Vec::new();
        let mut packets = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let a = pipeline::run(&bytes, "bench", &Params::overview_only(), &mut NoProgress)?;
            times.push(t.elapsed().as_secs_f64());
            packets = a.capture.len();
        }
        let s = median(times);
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "{:<48}{:>10.1}{:>12}{:>10.0}{:>12.0}{:>14}",
            file.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            mb,
            thousands(packets as u64),
            s * 1e3,
            mb / s,
            thousands((packets as f64 / s) as u64)
        );
    }
    if detect_runs > 0 {
        let file = &files[0];
        let bytes = read(file)?;
        for (preset, params) in [("seed", Params::seed(42)), ("default (context)", Params::context(42))] {
            let mut per_stage: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
            let mut wall = Vec::new();
            let mut recut = Vec::new();
            let mut alone = Vec::new();
            for _ in 0..detect_runs {
                if pipeline::helper_pays(&params, bytes.len()) {
                    let t = Instant::now();
                    let (cpu, mut quiet) = (Compute::cpu(), NoProgress);
                    let one = pipeline::run_with(&bytes, "bench", &params, &cpu, &mut quiet, None);
                    futures_lite::future::block_on(one)?;
                    alone.push(t.elapsed().as_secs_f64());
                }
                let t = Instant::now();
                let a = pipeline::run(&bytes, "bench", &params, &mut NoProgress)?;
                wall.push(t.elapsed().as_secs_f64());
                if let Some(r) = &a.report {
                    for (k, v) in &r.timings_s {
                        per_stage.entry(k.clone()).or_default().push(*v);
                    }
                }
                // What the page's slider costs in the worker: flag again, regroup, and build
                // every answer (view, JSON, CSV, Markdown).
                if let Some(mut s) = crate::session::Session::new(a, "bench", bytes.len(), params.clone())
                    && s.recut(params.context.threshold - 0.5, Default::default()).is_ok()
                {
                    let mut lap = Lap::start();
                    s.recut(params.context.threshold, Default::default())?;
                    let flags = lap.lap();
                    s.results(5_000);
                    let view = lap.lap();
                    // The downloads, built when asked for.
                    s.export(Export::FlaggedCsv)?;
                    let csv = lap.lap();
                    s.export(Export::Markdown)?;
                    let markdown = lap.lap();
                    s.export(Export::Report)?;
                    recut.push([flags, view, csv, markdown, lap.lap()]);
                }
            }
            if preset == "seed" {
                let total = median(wall.clone());
                println!(
                    "\nseed preset, median of {detect_runs}: {:.3} s natively = 1/{:.0} of the Python reference's \
                     {PYTHON_SEED_S:.0} s (recorded on the same machine kind; target 1/30: {:.1} s)",
                    total,
                    PYTHON_SEED_S / total,
                    PYTHON_SEED_S / 30.0
                );
                kernels(&bytes, &params, detect_runs)?;
            }
            let helper = if alone.is_empty() {
                "no helper".to_string()
            } else {
                format!("with a helper thread; {:.3} s on one thread", median(alone))
            };
            println!(
                "\n{preset} preset on {}, median of {detect_runs} run(s): {:.3} s in all ({helper}); seconds per stage",
                file.display(),
                median(wall)
            );
            for (k, v) in per_stage {
                println!("  {k:<10}{:>9.3}", median(v));
            }
            if !recut.is_empty() {
                let part = |k: usize| median(recut.iter().map(|r| r[k]).collect()) * 1e3;
                println!(
                    "  threshold moved: flags + incidents {:.0} ms, the page's view {:.0} ms; \
                     downloads when asked: CSV {:.0} ms, Markdown {:.0} ms, JSON report {:.0} ms",
                    part(0),
                    part(1),
                    part(2),
                    part(3),
                    part(4)
                );
            }
        }
    }
    Ok(())
}

/// The Python reference's seed preset on `lab-120k` on the 2-core machine (README).
const PYTHON_SEED_S: f64 = 155.0;

/// The seed preset with each matrix-product kernel this processor has: the autoencoder's
/// training time, where a step's time goes, and whether its scores are the narrowest kernel's
/// bit for bit.
fn kernels(bytes: &[u8], params: &Params, runs: usize) -> anyhow::Result<()> {
    use crate::detect::autoencoder::{Kernel, StepProfile};
    println!(
        "  autoencoder training per kernel (median of {runs}): fit s, µs per step, then µs per step in \
         load / forward / dropout draws / loss / backward / Adam; same scores as 4-lane"
    );
    let mut first: Option<Vec<u64>> = None;
    for kernel in Kernel::available() {
        let mut fits = Vec::new();
        let mut parts: Vec<Vec<f64>> = vec![Vec::new(); 6];
        let mut steps = 1.0;
        let mut bits = Vec::new();
        for _ in 0..runs.max(1) {
            let a = kernel.with(|| pipeline::run(bytes, "bench", params, &mut NoProgress))?;
            let Some(ae) = a.report.as_ref().and_then(|r| r.detectors.get(&DetectorId::Autoencoder)) else {
                anyhow::bail!("the seed preset gave no autoencoder report");
            };
            let t = &ae.timings_s;
            fits.push(t.get("fit").copied().unwrap_or(f64::NAN));
            steps = ae.details.training.loss_history.as_ref().map_or(1.0, |h| h.len() as f64)
                * (a.capture.len() as f64 / params.autoencoder.batch_size as f64).ceil();
            for (k, name) in StepProfile::PARTS.iter().enumerate() {
                parts[k].push(t.get(&format!("fit_step_{name}")).copied().unwrap_or(f64::NAN));
            }
            bits = ae.scores.iter().map(|s| s.to_bits()).collect();
        }
        let same = match &first {
            None => {
                first = Some(bits);
                "(reference)".to_string()
            }
            Some(f) => {
                if *f == bits {
                    "yes".into()
                } else {
                    "NO: the kernels differ".into()
                }
            }
        };
        let us = |s: f64| s / steps * 1e6;
        let fit = median(fits);
        let each: Vec<String> = parts.into_iter().map(|p| format!("{:.1}", us(median(p)))).collect();
        println!("  {:<9}{:>8.3} s{:>8.1} µs   {}   {same}", kernel.name(), fit, us(fit), each.join(" / "));
    }
    Ok(())
}

/// The overview as text tables.
pub fn write_overview(out: &mut impl Write, o: &Overview) -> std::io::Result<()> {
    writeln!(out, "packets        {}", thousands(o.packets))?;
    writeln!(out, "bytes          {}", thousands(o.bytes))?;
    writeln!(out, "time span      {:.3} s ({:.3} – {:.3})", o.duration_s, o.first_time, o.last_time)?;
    writeln!(out, "packets/s      {:.1}", o.packets_per_s)?;
    writeln!(out, "sources        {}", o.distinct_sources)?;
    writeln!(out, "destinations   {}", o.distinct_destinations)?;
    writeln!(out, "protocols      {}", o.distinct_protocols)?;
    let l = &o.length;
    writeln!(
        out,
        "length         min {} · p25 {} · median {} · p75 {} · p95 {} · p99 {} · max {} · mean {:.1}",
        l.min,
        tenths(l.p25),
        tenths(l.median),
        tenths(l.p75),
        tenths(l.p95),
        tenths(l.p99),
        l.max,
        l.mean
    )?;
    writeln!(out, "\nprotocol              packets")?;
    for (p, c) in &o.protocols {
        writeln!(out, "  {p:<20}{:>9}", thousands(*c))?;
    }
    for (title, list) in [("top sources", &o.top_sources), ("top destinations", &o.top_destinations)] {
        writeln!(out, "\n{title:<42}  packets        bytes")?;
        for h in list {
            writeln!(out, "  {:<48}{:>9}{:>13}", h.host, thousands(h.packets), thousands(h.bytes))?;
        }
    }
    writeln!(out, "\npacket length (bytes)       packets")?;
    let h = &o.length_histogram;
    for (i, c) in h.counts.iter().enumerate() {
        writeln!(out, "  {:>7} – {:<7}{:>16}", h.edges[i], h.edges[i + 1], thousands(*c))?;
    }
    writeln!(
        out,
        "\ntraffic: {} intervals of {} s (see --json)",
        o.traffic.packets.len(),
        o.traffic.interval_s
    )?;
    writeln!(
        out,
        "\ntop conversations                                                 packets     a→b     b→a        bytes   first (s)    last (s)"
    )?;
    for c in &o.top_conversations {
        writeln!(
            out,
            "  {:<32}{:<32}{:>9}{:>8}{:>8}{:>13}{:>12.3}{:>12.3}",
            c.a,
            c.b,
            thousands(c.packets),
            c.packets_a_to_b,
            c.packets_b_to_a,
            thousands(c.bytes),
            c.first_seen,
            c.last_seen
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod terminal_tests {
    use std::io::Write;

    use super::Terminal;

    #[test]
    fn terminal_output_escapes_what_would_drive_or_reorder_the_terminal() {
        let text = "a\x1b[31mred\u{202e}gnp.exe\u{200b}\n\tok é";
        let bytes = text.as_bytes();
        let mut out = Terminal::new(Vec::new());
        // Two writes that split the 'é' in the middle.
        out.write_all(&bytes[..bytes.len() - 1]).expect("writes");
        out.write_all(&bytes[bytes.len() - 1..]).expect("writes");
        assert_eq!(
            String::from_utf8(out.inner).expect("utf-8"),
            "a\\u001b[31mred\\u202egnp.exe\\u200b\n\tok é"
        );
        // JSON written through it reads back as the same value.
        let mut json = Terminal::new(Vec::new());
        serde_json::to_writer(&mut json, &"x\u{202e}\u{1b}y").expect("writes");
        assert_eq!(serde_json::from_slice::<String>(&json.inner).expect("JSON"), "x\u{202e}\u{1b}y");
    }
}
