//! The Leptos page: file input, drop zone and "try the sample", the parameters panel, status
//! with training progress, the capture overview (cards, canvas charts, conversations table),
//! parse warnings and the detectors' results. State comes from [`use_analysis`].

pub mod charts;
pub mod results;
pub mod use_analysis;

use std::sync::Arc;

use leptos::prelude::*;
use web_sys::File;

use crate::chart::{self, Chart};
use crate::detect::autoencoder::Preference;
use crate::format::{self, thousands};
use crate::pipeline::Params;
use crate::stats::Overview;
use charts::ChartCanvas;
use use_analysis::{Phase, UseAnalysis, use_analysis};

const CHART_W: f64 = 580.0;
const CHART_H: f64 = 280.0;

/// The bundled demo capture (`shared/data/sample-small.csv`, 5,224 packets).
const SAMPLE: &[u8] = include_bytes!("../../assets/sample-small.csv");
const SAMPLE_NAME: &str = "sample-small.csv";

/// What the last analysis read, so "Run" can read it again with new parameters.
#[derive(Clone)]
enum Source {
    File(File),
    Sample,
}

/// The page's shared state: the analysis hook, the parameters and the last source.
#[derive(Clone, Copy)]
struct Ctx {
    analysis: UseAnalysis,
    params: RwSignal<Params>,
    /// Where the autoencoder trains (automatic, CPU or WebGPU).
    backend: RwSignal<Preference>,
    source: StoredValue<Option<Source>, LocalStorage>,
    /// Why the last file chosen was not even read (too big for the page).
    refused: RwSignal<Option<String>>,
}

impl Ctx {
    /// Several files dropped or chosen at once: the capture, and a `NAME.labels.csv` (with
    /// its `NAME.stats.json`) to evaluate it against.
    fn analyse_files(self, files: Vec<File>) {
        let is_truth = |f: &File| {
            let n = f.name().to_ascii_lowercase();
            n.ends_with(".labels.csv") || n.ends_with(".stats.json")
        };
        let (truth, captures): (Vec<File>, Vec<File>) = files.into_iter().partition(is_truth);
        let Some(capture) = captures.into_iter().next() else { return };
        self.analyse(Source::File(capture));
        if !truth.is_empty() {
            let analysis = self.analysis;
            wasm_bindgen_futures::spawn_local(async move {
                match results::read_labels(truth).await {
                    Ok(Some((labels, stats))) => analysis.labels(labels, stats),
                    Ok(None) => {}
                    Err(m) => web_sys::console::error_1(&m.into()),
                }
            });
        }
    }

    /// Reads the source into an `ArrayBuffer` and starts the analysis with the current parameters.
    fn analyse(self, source: Source) {
        // Too big for the page: said beside the drop zone, before reading it; what is on screen
        // (and "Run" on the last file) stays.
        if let Source::File(file) = &source
            && let Some(message) = crate::browser::too_big(file.size())
        {
            self.refused.set(Some(format!("{}: {message}", file.name())));
            return;
        }
        self.refused.set(None);
        self.source.set_value(Some(source.clone()));
        let params = self.params.get_untracked();
        let backend = self.backend.get_untracked();
        match source {
            Source::Sample => {
                let buf = js_sys::Uint8Array::from(SAMPLE).buffer();
                self.analysis.run(SAMPLE_NAME.to_string(), buf, params, backend);
            }
            Source::File(file) => {
                let analysis = self.analysis;
                wasm_bindgen_futures::spawn_local(async move {
                    match crate::browser::read_bytes(&file).await {
                        Ok(buf) => analysis.run(file.name(), buf, params, backend),
                        // The browser could not read it (moved, unreadable): the page says so.
                        Err(message) => analysis.refuse(file.name(), message),
                    }
                });
            }
        }
    }

    /// Runs the last source again (with the current parameters).
    fn rerun(self) {
        if let Some(source) = self.source.get_value() {
            self.analyse(source);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let ctx = Ctx {
        analysis: use_analysis(),
        params: RwSignal::new(Params::context(42)),
        backend: RwSignal::new(Preference::Auto),
        source: StoredValue::new_local(None),
        refused: RwSignal::new(None),
    };
    let analysis = ctx.analysis;
    // The incident chosen in the list (by rank): its packets in the table, its span on the
    // traffic chart and the scatter, its actor's activity strip. Kept while the slider moves.
    let chosen = RwSignal::new(None::<usize>);
    Effect::new(move |_| {
        if analysis.phase.get() == Phase::Running {
            chosen.set(None);
        }
    });
    view! {
        <header class="top">
            <h1>"Netsieve"</h1>
            <p class="tagline">"Network-traffic anomaly analysis in your browser. Your capture never leaves this machine."</p>
        </header>
        <main>
            <DropZone ctx=ctx />
            <results::ParamsPanel params=ctx.params backend=ctx.backend running=Signal::derive(move || analysis.phase.get() == Phase::Running)
                on_run=move || ctx.rerun() has_source=Signal::derive(move || analysis.runs.get() > 0) />
            <Status analysis=analysis />
            <Warnings analysis=analysis />
            <OverviewPanel analysis=analysis chosen=chosen />
            <results::Training analysis=analysis />
            <results::ResultsPanel analysis=analysis params=ctx.params chosen=chosen />
        </main>
    }
}

fn files(list: Option<web_sys::FileList>) -> Vec<File> {
    list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default()
}

#[component]
fn DropZone(ctx: Ctx) -> impl IntoView {
    let (hover, set_hover) = signal(false);
    let on_change = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        ctx.analyse_files(files(input.files()));
        input.set_value(""); // choosing the same file again runs again
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        set_hover.set(false);
        ctx.analyse_files(files(ev.data_transfer().and_then(|d| d.files())));
    };
    view! {
        <section
            class="drop"
            class:hover=hover
            data-testid="drop-zone"
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); set_hover.set(true); }
            on:dragleave=move |_| set_hover.set(false)
            on:drop=on_drop
        >
            <p><strong>"Drop a capture here (pcapng, pcap or a Wireshark CSV export)"</strong>" or "</p>
            <label class="button">
                "Choose a file…"
                <input id="file" type="file" multiple accept=".csv,.tsv,.txt,.pcap,.pcapng,.cap,.json,text/csv" data-testid="file-input" on:change=on_change />
            </label>
            " "
            <button class="secondary" data-testid="try-sample" on:click=move |_| ctx.analyse(Source::Sample)>
                "Try the sample"
            </button>
            <p class="hint">"Drop its NAME.labels.csv (and NAME.stats.json) with it to see how well the analysis did. Nothing leaves this machine."</p>
            {move || ctx.refused.get().map(|m| view! { <p class="error" role="alert" data-testid="refused">{m}</p> })}
        </section>
    }
}

#[component]
fn Status(analysis: UseAnalysis) -> impl IntoView {
    let text = move || match analysis.phase.get() {
        Phase::Idle => "No capture loaded yet.".to_string(),
        Phase::Running => match analysis.progress.get() {
            Some((stage, f)) => format!("{} … {:.0} %", stage.label(), f * 100.0),
            None => "Starting…".to_string(),
        },
        Phase::Done => format!(
            "Analysed {} in {:.2} s.",
            analysis.file_name.get().unwrap_or_default(),
            analysis.seconds.get().unwrap_or(0.0)
        ),
        Phase::Failed => format!("Could not analyse {}.", analysis.file_name.get().unwrap_or_default()),
    };
    view! {
        <section class="status" data-testid="analysis" data-phase=move || analysis.phase.get().as_str() data-run=move || analysis.runs.get()
            data-stage=move || analysis.progress.get().map(|(s, _)| s.name())
            data-seconds=move || analysis.seconds.get().map(|s| s.to_string())
            data-memory=move || analysis.memory.get().map(|m| m.to_string()) aria-live="polite">
            <span class="spinner" class:on=move || analysis.phase.get() == Phase::Running></span>
            <span>{text}</span>
            <Show when=move || analysis.phase.get() == Phase::Running>
                <button class="secondary" data-testid="cancel" on:click=move |_| analysis.cancel()>"Cancel"</button>
            </Show>
        </section>
        <Show when=move || analysis.error.get().is_some()>
            <p class="error" role="alert" data-testid="error">{move || analysis.error.get().unwrap_or_default()}</p>
        </Show>
    }
}

#[component]
fn Warnings(analysis: UseAnalysis) -> impl IntoView {
    let w = analysis.warnings;
    view! {
        <Show when=move || w.with(|w| w.total > 0)>
            <details class="warnings" data-testid="warnings" open>
                <summary>
                    {move || w.with(|w| format!(
                        "{} warning{} while reading · {} row{} skipped",
                        w.total, if w.total == 1 { "" } else { "s" },
                        w.skipped_rows, if w.skipped_rows == 1 { "" } else { "s" }))}
                </summary>
                <ul>
                    {move || w.with(|w| w.kept.iter().map(|x| view! { <li>{x.message.clone()}</li> }).collect_view())}
                </ul>
                {move || w.with(|w| (w.total > w.kept.len()).then(|| format!("… and {} more", w.total - w.kept.len())))}
            </details>
        </Show>
    }
}

fn card(label: &'static str, value: String, testid: &'static str, raw: String) -> impl IntoView {
    view! {
        <div class="card">
            <div class="value" data-testid=testid data-value=raw>{value}</div>
            <div class="label">{label}</div>
        </div>
    }
}

fn top_items(list: &[crate::stats::HostTraffic]) -> Vec<(String, f64)> {
    list.iter().map(|h| (h.host.clone(), h.packets as f64)).collect()
}

#[component]
fn OverviewPanel(analysis: UseAnalysis, chosen: RwSignal<Option<usize>>) -> impl IntoView {
    let ov = analysis.overview;
    let chart = move |f: fn(&Overview) -> Chart| {
        Signal::derive(move || ov.with(|o| o.as_deref().map(f).unwrap_or_default()))
    };
    let sources =
        chart(|o| chart::bar_chart("Top sources", &top_items(&o.top_sources), "packets", CHART_W, CHART_H));
    let destinations = chart(|o| {
        chart::bar_chart("Top destinations", &top_items(&o.top_destinations), "packets", CHART_W, CHART_H)
    });
    let protocols = chart(|o| {
        let items: Vec<(String, f64)> =
            o.protocols.iter().take(12).map(|(p, c)| (p.clone(), *c as f64)).collect();
        chart::bar_chart("Protocol mix", &items, "packets", CHART_W, CHART_H)
    });
    let lengths =
        chart(|o| chart::histogram_chart("Packet length", &o.length_histogram, "bytes", CHART_W, CHART_H));
    let traffic = Signal::derive(move || {
        let mut c = ov.with(|o| {
            o.as_deref().map(|o| chart::traffic_chart("Traffic over time", &o.traffic, CHART_W, CHART_H))
        });
        let span = chosen.get().and_then(|rank| {
            analysis.results.with(|r| {
                r.as_ref()?.incidents.iter().find(|i| i.rank == rank).map(|i| (rank, i.start, i.end))
            })
        });
        if let (Some(c), Some((rank, start, end))) = (c.as_mut(), span) {
            chart::mark_span(c, start, end, &format!("incident #{rank}"));
        }
        c.unwrap_or_default()
    });
    view! {
        <Show when=move || ov.with(Option::is_some)>
            {move || ov.get().map(|o: Arc<Overview>| view! {
                <section class="cards" data-testid="summary">
                    {card("packets", thousands(o.packets), "packet-count", o.packets.to_string())}
                    {card("bytes", format::compact(o.bytes as f64), "byte-count", o.bytes.to_string())}
                    {card("time span (s)", format!("{:.1}", o.duration_s), "duration", format!("{}", o.duration_s))}
                    {card("packets / s", format!("{:.1}", o.packets_per_s), "rate", format!("{}", o.packets_per_s))}
                    {card("sources", thousands(o.distinct_sources as u64), "distinct-sources", o.distinct_sources.to_string())}
                    {card("destinations", thousands(o.distinct_destinations as u64), "distinct-destinations", o.distinct_destinations.to_string())}
                    {card("protocols", thousands(o.distinct_protocols as u64), "distinct-protocols", o.distinct_protocols.to_string())}
                </section>
                <section class="top-protocols">
                    <h2>"Most frequent protocols"</h2>
                    <ol data-testid="top-protocols">
                        {o.protocols.iter().take(5).map(|(p, c)| view! {
                            <li><span class="name">{p.clone()}</span>" "<span class="num">{thousands(*c)}</span></li>
                        }).collect_view()}
                    </ol>
                    <p class="muted">{format!(
                        "Length min {} · median {} · p95 {} · max {} bytes",
                        o.length.min, format::tenths(o.length.median),
                        format::tenths(o.length.p95), o.length.max)}</p>
                </section>
            })}
            <section class="charts">
                <ChartCanvas chart=sources testid="chart-sources" />
                <ChartCanvas chart=destinations testid="chart-destinations" />
                <ChartCanvas chart=protocols testid="chart-protocols" />
                <ChartCanvas chart=lengths testid="chart-lengths" />
                <ChartCanvas chart=traffic testid="chart-traffic" />
            </section>
            <section class="conversations">
                <h2>"Top conversations"</h2>
                <table data-testid="conversations">
                    <thead><tr>
                        <th>"Host A"</th><th>"Host B"</th><th class="num">"Packets"</th><th class="num">"A→B"</th>
                        <th class="num">"B→A"</th><th class="num">"Bytes"</th><th class="num">"First (s)"</th><th class="num">"Last (s)"</th>
                    </tr></thead>
                    <tbody>
                        {move || ov.with(|o| o.as_ref().map(|o| o.top_conversations.iter().map(|c| view! {
                            <tr>
                                <td class="host">{c.a.clone()}</td><td class="host">{c.b.clone()}</td>
                                <td class="num">{thousands(c.packets)}</td><td class="num">{thousands(c.packets_a_to_b)}</td>
                                <td class="num">{thousands(c.packets_b_to_a)}</td><td class="num">{thousands(c.bytes)}</td>
                                <td class="num">{format!("{:.3}", c.first_seen)}</td><td class="num">{format!("{:.3}", c.last_seen)}</td>
                            </tr>
                        }).collect_view()))}
                    </tbody>
                </table>
            </section>
        </Show>
    }
}
