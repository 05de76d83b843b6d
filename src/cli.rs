//! The `netsieve` command line (behind the `cli` feature): argument parsing, progress on
//! stderr, tables on stdout. All analysis is the core's.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use web_time::Instant;

use crate::capture::Capture;
use crate::chart::thousands;
use crate::detect::autoencoder::Compute;
use crate::evaluate::{Labels, score_against};
use crate::parity::{self, Reference};
use crate::pipeline::{self, Event, NoProgress, Params, ProgressSink, Stage};
use crate::report::Report;
use crate::stats::Overview;

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

#[derive(Debug, clap::Args)]
struct DetectArgs {
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Autoencoder epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Autoencoder batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
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
        let mut p = Params::seed(self.seed);
        p.autoencoder.epochs = self.epochs;
        p.autoencoder.batch_size = self.batch;
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
    /// Run the three detectors of the seed method and print what each flags.
    Analyze {
        file: PathBuf,
        /// Write the full report (per-packet scores included) as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Score the results against a `No.,label,attack` ground-truth file.
        #[arg(long)]
        labels: Option<PathBuf>,
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
            eprintln!("netsieve: error: {e:#}");
            ExitCode::FAILURE
        }
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
        Command::Summary { file, json } => {
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let analysis = pipeline::run(&bytes, &name, &Params::overview_only(), &mut NoProgress)
                .with_context(|| name.clone())?;
            print_warnings(&file, &analysis.capture);
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &analysis.overview)?;
                writeln!(out)?;
            } else {
                write_overview(&mut out, &analysis.overview)?;
            }
        }
        Command::Analyze { file, json, labels, detect } => {
            let report = analyze(&file, &detect.params(), &detect.compute())?;
            let mut out = std::io::stdout().lock();
            write_results(&mut out, &report)?;
            if let Some(labels) = labels {
                let labels = Labels::from_csv(&read(&labels)?).map_err(anyhow::Error::msg)?;
                write_label_scores(&mut out, &report, &labels)?;
            }
            if let Some(path) = json {
                write_json(&path, &report)?;
                writeln!(out, "\nreport written to {}", path.display())?;
            }
        }
        Command::Parity { file, references, json, detect } => {
            let file = file.unwrap_or_else(|| shared().join("data/lab-120k.csv"));
            let references = if references.is_empty() {
                let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("capture").to_string();
                ["42", "1", "2"]
                    .iter()
                    .map(|s| shared().join(format!("reference/results/{stem}.seed{s}.json")))
                    .filter(|p| p.exists())
                    .collect()
            } else {
                references
            };
            if references.is_empty() {
                bail!("no reference results found for {}", file.display());
            }
            let refs = references
                .iter()
                .map(|p| {
                    let v: serde_json::Value =
                        serde_json::from_slice(&read(p)?).with_context(|| p.display().to_string())?;
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("reference");
                    Reference::from_json(name, &v).map_err(anyhow::Error::msg)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let report = analyze(&file, &detect.params(), &detect.compute())?;
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            let checks = parity::measure(&report, &refs);
            let mut out = std::io::stdout().lock();
            write_results(&mut out, &report)?;
            writeln!(out, "\nparity with {} reference run(s):", refs.len())?;
            for c in &checks {
                writeln!(
                    out,
                    "  {:<4} {:<62} {:>9.4}   {}",
                    if c.pass { "ok" } else { "FAIL" },
                    c.name,
                    c.value,
                    c.bound
                )?;
            }
            let failed = checks.iter().filter(|c| !c.pass).count();
            writeln!(
                out,
                "{}",
                if failed == 0 {
                    "parity: all checks pass".to_string()
                } else {
                    format!("parity: {failed} check(s) failed")
                }
            )?;
            return Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Command::Bench { files, runs, detect_runs } => {
            let files = if files.is_empty() { vec![shared().join("data/lab-120k.csv")] } else { files };
            bench(&files, runs.max(1), detect_runs)?;
        }
        Command::Generate { from, packets, out } => {
            let bytes = read(&from)?;
            let capture = crate::capture::parse(&bytes).with_context(|| from.display().to_string())?;
            let file =
                std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            crate::capture::write_repeated(&capture, packets, &mut w)?;
            w.flush()?;
            eprintln!("wrote {} packets to {}", thousands(packets as u64), out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn analyze(file: &Path, params: &Params, compute: &Compute) -> anyhow::Result<Report> {
    let bytes = read(file)?;
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut sink = Bar { bar };
    let name = file.display().to_string();
    let analysis =
        futures_lite::future::block_on(pipeline::run_with(&bytes, &name, params, compute, &mut sink))
            .with_context(|| name.clone())?;
    sink.bar.finish_and_clear();
    print_warnings(file, &analysis.capture);
    analysis.report.ok_or_else(|| anyhow::anyhow!("{name}: {}", pipeline::PipelineError::NoPackets))
}

fn print_warnings(file: &Path, capture: &Capture) {
    for w in &capture.warnings {
        eprintln!("{}: warning: {}", file.display(), w.message);
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
    writeln!(out, "{} packets, {} protocols", thousands(r.rows as u64), r.protocols)?;
    writeln!(out, "\ndetector        flagged    threshold   flagged packets (first 10)")?;
    for (name, d) in &r.detectors {
        let first: Vec<String> = d.flagged.iter().take(10).map(u64::to_string).collect();
        writeln!(out, "{name:<14}{:>9}  {:>11.6}   {}", d.count, d.threshold, first.join(" "))?;
        if let Some(c) = d.details.get("if_count") {
            writeln!(
                out,
                "  (isolation forest alone: {c} flagged, threshold {:.6})",
                d.details.get("if_threshold").and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
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
    writeln!(
        out,
        "\ntimings (s): {}",
        r.timings_s.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join(", ")
    )?;
    Ok(())
}

fn write_label_scores(out: &mut impl Write, r: &Report, labels: &Labels) -> std::io::Result<()> {
    writeln!(out, "\nagainst labels   ROC-AUC  avg-prec  precision  recall  attacks detected")?;
    for (name, d) in &r.detectors {
        let s = score_against(labels, &r.row_no, &d.scores, &d.flagged);
        writeln!(
            out,
            "{name:<16}{:>8.3}{:>10.3}{:>11.3}{:>8.3}  {}/{}",
            s.roc_auc, s.average_precision, s.precision, s.recall, s.attacks_detected, s.attacks_total
        )?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn bench(files: &[PathBuf], runs: usize, detect_runs: usize) -> anyhow::Result<()> {
    println!("parse + overview, median of {runs} runs (release build, one thread)");
    println!("{:<40}{:>10}{:>12}{:>10}{:>12}{:>14}", "capture", "MB", "packets", "ms", "MB/s", "packets/s");
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
            "{:<40}{:>10.1}{:>12}{:>10.0}{:>12.0}{:>14}",
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
        let mut per_stage: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for _ in 0..detect_runs {
            let a = pipeline::run(&bytes, "bench", &Params::seed(42), &mut NoProgress)?;
            if let Some(r) = a.report {
                for (k, v) in r.timings_s {
                    per_stage.entry(k).or_default().push(v);
                }
            }
        }
        println!("\nseed preset on {}, median of {detect_runs} run(s), seconds per stage", file.display());
        for (k, v) in per_stage {
            println!("  {k:<10}{:>9.3}", median(v));
        }
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
        l.min, l.p25, l.median, l.p75, l.p95, l.p99, l.max, l.mean
    )?;
    writeln!(out, "\nprotocol              packets")?;
    for (p, c) in &o.protocols {
        writeln!(out, "  {p:<20}{:>9}", thousands(*c))?;
    }
    for (title, list) in [("top sources", &o.top_sources), ("top destinations", &o.top_destinations)] {
        writeln!(out, "\n{title:<42}  packets        bytes")?;
        for h in list {
            writeln!(out, "  {:<40}{:>9}{:>13}", h.host, thousands(h.packets), thousands(h.bytes))?;
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
