//! The detector side of the page: the parameters panel, training progress (epoch counter and
//! live loss curve), and the results (per-model counts and thresholds, agreement, score
//! histograms with their threshold, the flagged-packets table, downloads).

use std::sync::Arc;

use leptos::prelude::*;

use super::charts::ChartCanvas;
use super::use_analysis::{Phase, UseAnalysis};
use crate::browser::copy_text;
use crate::chart;
use crate::detect::autoencoder::Preference;
use crate::format::thousands;
use crate::incidents::Incident;
use crate::pipeline::{EngineThresholds, Params, Preset};
use crate::report::{Activity, DetectorId, DetectorSummary, ResultsView};
use crate::session::Export;

const W: f64 = 540.0;
const H: f64 = 240.0;
/// Flagged rows per page of the table.
const PAGE: usize = 50;

/// `data-testid` suffix of a detector (`iforest_rf` → `iforest-rf`).
fn testid(d: DetectorId) -> String {
    d.name().replace('_', "-")
}

/// A score for the table: scientific notation for tiny values (autoencoder errors are ~1e-7).
fn score_text(s: f64) -> String {
    if s == 0.0 {
        "0".into()
    } else if s.abs() < 1e-3 {
        format!("{s:.2e}")
    } else {
        format!("{s:.4}")
    }
}

/// A number input bound to one field of the parameters.
fn number_input(
    name: &'static str,
    step: &'static str,
    get: impl Fn(&Params) -> String + Send + Sync + 'static,
    set: impl Fn(&mut Params, f64) + Send + Sync + 'static,
    params: RwSignal<Params>,
) -> impl IntoView {
    view! {
        <label class="param">
            <span>{name}</span>
            <input type="number" step=step data-testid=format!("param-{}", name.replace(' ', "-"))
                prop:value=move || params.with(&get)
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() {
                        params.update(|p| set(p, v));
                    }
                } />
        </label>
    }
}

#[component]
pub fn ParamsPanel(
    params: RwSignal<Params>,
    backend: RwSignal<Preference>,
    #[prop(into)] running: Signal<bool>,
    #[prop(into)] has_source: Signal<bool>,
    #[prop(into)] on_run: Callback<()>,
) -> impl IntoView {
    view! {
        <details class="params" data-testid="params">
            <summary>"Parameters"</summary>
            <label class="param preset">
                <span>"analysis"</span>
                <select data-testid="preset"
                    prop:value=move || params.with(|p| p.preset.name())
                    on:change=move |ev| {
                        let seed = params.with(|p| p.seed);
                        params.set(if event_target_value(&ev) == "seed" { Params::seed(seed) } else { Params::context(seed) });
                    }>
                    <option value="context">"incidents: contextual features, combined score (default)"</option>
                    <option value="seed">"seed preset: the notebook's method (length and protocol only)"</option>
                </select>
            </label>
            <label class="check">
                <input type="checkbox" data-testid="param-detect"
                    prop:checked=move || !params.with(|p| p.detect)
                    on:change=move |ev| params.update(|p| p.detect = !event_target_checked(&ev)) />
                " Overview only (skip the detectors)"
            </label>
            <div class="param-grid">
                {number_input("epochs", "1", |p| ae(p).epochs.to_string(), |p, v| ae_mut(p).epochs = v.max(0.0) as usize, params)}
                {number_input("batch size", "1", |p| ae(p).batch_size.to_string(), |p, v| ae_mut(p).batch_size = v.max(0.0) as usize, params)}
                {number_input("threshold", "0.1", |p| p.context.threshold.to_string(), |p, v| p.context.threshold = v, params)}
                {number_input("percentile", "0.1", |p| p.autoencoder.percentile.to_string(), |p, v| { p.autoencoder.percentile = v; p.kmeans_percentile = v; }, params)}
                {number_input("contamination", "0.0005", |p| p.iforest.contamination.to_string(), |p, v| p.iforest.contamination = v, params)}
                {number_input("k", "1", |p| p.kmeans.k.to_string(), |p, v| p.kmeans.k = v.max(0.0) as usize, params)}
                {number_input("seed", "1", |p| p.seed.to_string(), |p, v| set_seed(p, v.max(0.0) as u64), params)}
            </div>
            <label class="param backend">
                <span>"autoencoder runs on"</span>
                <select data-testid="backend"
                    prop:value=move || backend_value(backend.get())
                    on:change=move |ev| backend.set(match event_target_value(&ev).as_str() {
                        "cpu" => Preference::Cpu,
                        "webgpu" => Preference::Accelerator,
                        _ => Preference::Auto,
                    })>
                    <option value="auto">"automatic (time both, take the faster)"</option>
                    <option value="cpu">"CPU"</option>
                    <option value="webgpu">"WebGPU"</option>
                </select>
            </label>
            <button data-testid="run" disabled=move || running.get() || !has_source.get() on:click=move |_| on_run.run(())>
                "Run again with these settings"
            </button>
            <button class="secondary" on:click=move |_| { params.set(Params::context(42)); backend.set(Preference::Auto); }>
                "Reset to the defaults"
            </button>
        </details>
    }
}

/// The autoencoder settings of the preset that will run.
fn ae(p: &Params) -> &crate::detect::autoencoder::AutoencoderParams {
    if p.preset == Preset::Context { &p.context.autoencoder } else { &p.autoencoder }
}

fn ae_mut(p: &mut Params) -> &mut crate::detect::autoencoder::AutoencoderParams {
    if p.preset == Preset::Context { &mut p.context.autoencoder } else { &mut p.autoencoder }
}

/// One seed for every random choice of both presets.
fn set_seed(p: &mut Params, seed: u64) {
    p.seed = seed;
    p.autoencoder.seed = seed;
    p.iforest.seed = seed;
    p.random_forest.seed = seed;
    p.kmeans.seed = seed;
    p.context.autoencoder.seed = seed;
    p.context.iforest.seed = seed;
    p.context.kmeans.seed = seed;
}

fn backend_value(p: Preference) -> &'static str {
    match p {
        Preference::Auto => "auto",
        Preference::Cpu => "cpu",
        Preference::Accelerator => "webgpu",
    }
}

#[component]
pub fn Training(analysis: UseAnalysis) -> impl IntoView {
    let loss = Signal::derive(move || {
        analysis.losses.with(|l| chart::line_chart("Autoencoder training loss", l, "epoch", "MSE", W, 200.0))
    });
    view! {
        <Show when=move || analysis.epoch.get().is_some() || analysis.phase.get() == Phase::Running>
            <section class="training">
                <p data-testid="epoch">{move || match analysis.epoch.get() {
                    Some((e, n)) => format!(
                        "Autoencoder epoch {e}/{n} · loss {:.6}",
                        analysis.losses.with(|l| l.last().copied().unwrap_or(f64::NAN))
                    ),
                    None => "Autoencoder: waiting for the first epoch…".to_string(),
                }}</p>
                {move || analysis.backend.get().map(|b| view! {
                    <p class="backend-note" data-testid="backend-note" data-backend=b.backend.clone()
                        data-cpu-ms=b.trial.map(|t| t.cpu_ms.to_string())
                        data-accelerator-ms=b.trial.map(|t| t.accelerator_ms.to_string())>
                        <strong>{format!("Trains on {}", b.backend)}</strong>{format!(": {}.", b.reason)}
                    </p>
                })}
                <ChartCanvas chart=loss testid="chart-loss" />
            </section>
        </Show>
    }
}

/// The results, and above them the controls that stay put while the results change under
/// them: the threshold sliders and the labelled evaluation.
#[component]
pub fn ResultsPanel(
    analysis: UseAnalysis,
    params: RwSignal<Params>,
    chosen: RwSignal<Option<usize>>,
) -> impl IntoView {
    let context = move || analysis.results.with(|r| r.as_ref().is_some_and(|v| v.preset == Preset::Context));
    view! {
        <Show when=context>
            <Thresholds analysis=analysis params=params />
            <EvaluationPanel analysis=analysis />
        </Show>
        {move || analysis.results.get().map(|r| view! { <Results view=r analysis=analysis chosen=chosen /> })}
    }
}

/// A detector's summary in the current results.
fn summary(analysis: UseAnalysis, name: DetectorId) -> Option<DetectorSummary> {
    analysis.results.with(|r| r.as_ref().and_then(|v| v.detectors.iter().find(|d| d.name == name).cloned()))
}

/// The end of a slider over scores up to `max`.
fn slider_end(max: f64) -> String {
    format!("{:.2}", (max * 10.0).ceil() / 10.0 + 0.1)
}

/// The live threshold: a slider on the combined score and, in an advanced section, one per
/// engine. Moving one flags again and regroups the incidents in the worker, without training.
#[component]
fn Thresholds(analysis: UseAnalysis, params: RwSignal<Params>) -> impl IntoView {
    let recut = move || {
        params.with_untracked(|p| analysis.recut(p.context.threshold, p.context.engine_thresholds.clone()))
    };
    let combined = move || summary(analysis, DetectorId::Combined);
    let status = move || {
        let (count, incidents) = analysis.results.with(|r| {
            r.as_ref().map_or((0, 0), |v| {
                (
                    v.detectors.iter().find(|d| d.name == DetectorId::Combined).map_or(0, |d| d.count),
                    v.incidents.len(),
                )
            })
        });
        let took = analysis.cut_ms.get().map_or_else(String::new, |ms| format!(" · updated in {ms:.0} ms"));
        format!("{} packets flagged, {} incidents{took}", thousands(count as u64), incidents)
    };
    view! {
        <section class="thresholds" data-testid="thresholds">
            <label class="slider">
                <span>"Combined-score threshold"</span>
                <input type="range" min="0" step="0.01" data-testid="threshold"
                    prop:max=move || slider_end(combined().map_or(6.0, |d| d.max))
                    prop:value=move || params.with(|p| format!("{:.2}", p.context.threshold))
                    on:input=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                            params.update(|p| p.context.threshold = v);
                            recut();
                        }
                    } />
                <output data-testid="threshold-value">{move || params.with(|p| format!("{:.2}", p.context.threshold))}</output>
            </label>
            <p class="cut-status" data-testid="cut-status">{status}</p>
            {move || analysis.rejected.get().map(|m| view! { <p class="rejected" data-testid="rejected">{m}</p> })}
            <details class="engine-cuts">
                <summary>"Each engine's own line"</summary>
                {Preset::Context.engines().into_iter().map(|name| {
                    view! {
                        <label class="slider">
                            <span>{name.label()}</span>
                            <input type="range" min="0" step="0.01" data-testid=format!("threshold-{}", testid(name))
                                prop:max=move || slider_end(summary(analysis, name).map_or(6.0, |d| d.max))
                                prop:value=move || {
                                    let own = params.with(|p| p.context.engine_thresholds.get(name));
                                    format!("{:.2}", own.or_else(|| summary(analysis, name).map(|d| d.threshold)).unwrap_or(0.0))
                                }
                                on:input=move |ev| {
                                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                        params.update(|p| p.context.engine_thresholds.set(name, Some(v)));
                                        recut();
                                    }
                                } />
                            <output>{move || summary(analysis, name).map_or_else(String::new, |d| format!("{:.2} · {} flagged", d.threshold, thousands(d.count as u64)))}</output>
                        </label>
                    }
                }).collect_view()}
                <button class="secondary" data-testid="engine-cuts-reset" on:click=move |_| {
                    params.update(|p| p.context.engine_thresholds = EngineThresholds::default());
                    recut();
                }>"Back to each engine's top 0.1 %"</button>
            </details>
        </section>
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() { format!("{v:.3}") } else { "–".to_string() }
}

/// Ground truth in the page: a labels file (`NAME.labels.csv`, with its `NAME.stats.json`
/// attack table if there is one) and what it says of the analysis at the current threshold.
#[component]
fn EvaluationPanel(analysis: UseAnalysis) -> impl IntoView {
    let on_change = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files: Vec<web_sys::File> =
            input.files().map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default();
        input.set_value("");
        wasm_bindgen_futures::spawn_local(async move {
            match read_labels(files).await {
                Ok(Some((labels, stats))) => analysis.labels(labels, stats),
                Ok(None) => {}
                Err(m) => web_sys::console::error_1(&m.into()),
            }
        });
    };
    view! {
        <section class="evaluation" data-testid="evaluation">
            <label class="button secondary">
                "Compare with labels…"
                <input type="file" multiple accept=".csv,.json" data-testid="labels-file" on:change=on_change />
            </label>
            <span class="hint">" a NAME.labels.csv (No.,label,attack), and its NAME.stats.json attack table if you have one"</span>
            {move || analysis.results.get().and_then(|r| r.evaluation.clone()).map(|e| {
                let combined = e.primary.and_then(|p| e.scores.get(&p)).cloned();
                view! {
                    <div class="evaluation-body" data-testid="evaluation-body">
                        <p data-testid="evaluation-summary" data-flagged=e.flagged.to_string()
                            data-found=e.instances_found.to_string() data-false=e.false_incidents.len().to_string()
                            data-auc=combined.as_ref().map_or(String::new(), |s| s.roc_auc.to_string())
                            data-threshold=e.threshold.to_string()>{format!(
                            "ROC-AUC {} · average precision {} · at threshold {:.2}: {} flagged, precision {}, recall {} · instances found {}/{} · incidents {}, false {}",
                            combined.as_ref().map_or("–".into(), |s| ratio(s.roc_auc)),
                            combined.as_ref().map_or("–".into(), |s| ratio(s.average_precision)),
                            e.threshold, thousands(e.flagged as u64), ratio(e.precision), ratio(e.recall),
                            e.instances_found, e.instances.len(), e.incidents, e.false_incidents.len(),
                        )}</p>
                        <table class="instances">
                            <thead><tr><th>"Attack"</th><th class="num">"Start"</th><th class="num">"Packets"</th><th class="num">"Flagged"</th><th>"Incident"</th></tr></thead>
                            <tbody>
                                {e.instances.iter().map(|i| view! {
                                    <tr data-testid="instance" data-found=i.incident.is_some().to_string()>
                                        <td>{i.instance.attack.clone()}</td>
                                        <td class="num">{format!("{:.1} s", i.instance.start)}</td>
                                        <td class="num">{i.instance.packets}</td>
                                        <td class="num">{i.flagged}</td>
                                        <td>{match (i.incident, i.any_incident) {
                                            (Some(r), _) => format!("#{r}"),
                                            (None, Some(r)) => format!("missed (its packets are in #{r}, another actor's)"),
                                            (None, None) => "missed".to_string(),
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <p data-testid="false-incidents">{if e.false_incidents.is_empty() {
                            "No false incident.".to_string()
                        } else {
                            format!("False incidents (no attack packet): {}", e.false_incidents.iter().map(|r| format!("#{r}")).collect::<Vec<_>>().join(", "))
                        }}</p>
                    </div>
                }
            })}
        </section>
    }
}

/// Reads the chosen labels files: the `.csv` is the labels, a `.json` the attack table.
pub async fn read_labels(files: Vec<web_sys::File>) -> Result<Option<(String, Option<String>)>, String> {
    let mut labels = None;
    let mut stats = None;
    for f in files {
        let text = crate::browser::read_text(&f).await?;
        if f.name().to_ascii_lowercase().ends_with(".json") {
            stats = Some(text)
        } else {
            labels = Some(text)
        }
    }
    Ok(labels.map(|l| (l, stats)))
}

#[component]
fn Results(view: Arc<ResultsView>, analysis: UseAnalysis, chosen: RwSignal<Option<usize>>) -> impl IntoView {
    let (set_chosen, chosen_r) = (chosen.write_only(), chosen.read_only());
    let page = RwSignal::new(0usize);
    // What a person reads first (the incidents, the models' counts) is built in this task; the
    // charts, the downloads and the flagged-packets table in the next one: building all of a
    // large capture's results at once was a 60–90 ms task (the 1M-packet capture,
    // `tests/e2e/longtask.mjs`), about half of it the table and the charts.
    let rest = RwSignal::new(false);
    set_timeout(
        move || {
            let _ = rest.try_set(true);
        },
        std::time::Duration::ZERO,
    );
    let later = view.clone();
    view! {
        <section class="results" data-testid="results" data-preset=view.preset.name()>
            {(view.preset == Preset::Context).then(|| view! {
                <Incidents incidents=view.incidents.clone() activity=view.activity.clone() chosen=chosen_r pcap=view.pcap_export
                    on_pcap=move |r: usize| analysis.export(Export::Pcap { incident: Some(r) })
                    on_choose=move |r: usize| { set_chosen.update(|c| *c = if *c == Some(r) { None } else { Some(r) }); page.set(0); } />
            })}
            <Models view=view.clone() />
            {move || rest.get().then(|| view! {
                <Details view=later.clone() analysis=analysis chosen=chosen page=page />
            })}
        </section>
    }
}

/// The results under the incidents: the scatter (with the chosen incident's span), the
/// downloads, each detector's score histogram, the flagged-packets table.
#[component]
fn Details(
    view: Arc<ResultsView>,
    analysis: UseAnalysis,
    chosen: RwSignal<Option<usize>>,
    page: RwSignal<usize>,
) -> impl IntoView {
    let (set_chosen, chosen_r) = (chosen.write_only(), chosen.read_only());
    let scatter = {
        let base =
            chart::scatter_chart("Length by packet index, flagged packets highlighted", &view.scatter, 320.0);
        let view = view.clone();
        Signal::derive(move || {
            let mut c = base.clone();
            if let Some(a) = chosen.get().and_then(|r| view.activity.iter().find(|a| a.rank == r)) {
                let label = format!("incident #{}", a.rank);
                chart::mark_span(&mut c, f64::from(a.rows.0), f64::from(a.rows.1) + 1.0, &label);
            }
            c
        })
    };
    view! {
        <div class="wide-chart"><ChartCanvas chart=scatter testid="chart-scatter" /></div>
        <Downloads analysis=analysis pcap=view.pcap_export />
        <div class="charts">
            {view.detectors.iter().map(|d| {
                let mut c = chart::histogram_chart(&format!("{} scores", d.name.label()), &d.histogram, "log10 score", W, H);
                if d.threshold > 0.0 {
                    chart::mark_histogram(&mut c, &d.histogram, libm::log10(d.threshold), "threshold");
                }
                let c = Signal::derive(move || c.clone());
                view! { <ChartCanvas chart=c testid="chart-scores" /> }
            }).collect_view()}
        </div>
        <FlaggedTable view=view.clone() chosen=chosen_r set_chosen=set_chosen page=page />
    }
}

/// The activity strip's width: it fits inside an incident of the list.
const STRIP_W: f64 = 1080.0;

/// The chosen incident's actor over the whole capture: every packet it sent or received, the
/// incident's own in red, so a person sees what is usual for that host.
#[component]
fn ActivityStrip(activity: Activity, actor: String) -> impl IntoView {
    let rank = activity.rank;
    let title = format!("Activity of {actor}: all its packets (grey), incident #{rank}'s (red)");
    let mut c = chart::activity_chart(&title, &activity, STRIP_W, 180.0);
    let t0 = activity.start;
    let first = activity.incident.iter().position(|&n| n > 0).unwrap_or(0);
    let last = activity.incident.iter().rposition(|&n| n > 0).unwrap_or(0);
    chart::mark_span(
        &mut c,
        t0 + activity.interval_s * first as f64,
        t0 + activity.interval_s * (last + 1) as f64,
        &format!("incident #{rank}"),
    );
    let c = Signal::derive(move || c.clone());
    let total = |bins: &[u32]| bins.iter().map(|&n| u64::from(n)).sum::<u64>().to_string();
    let (host, incident) = (total(&activity.host), total(&activity.incident));
    view! {
        // A click on the strip is not a click on its incident (which would close it).
        <div class="wide-chart activity" data-testid="activity" data-rank=rank.to_string() data-host=host data-incident=incident
            on:click=|ev| ev.stop_propagation()>
            <ChartCanvas chart=c testid="chart-activity" />
        </div>
    }
}

/// What each model flags, and how far the models agree.
#[component]
fn Models(view: Arc<ResultsView>) -> impl IntoView {
    let a = view.agreement.clone();
    view! {
        <h2>"What each model flags"</h2>
        <table class="models">
            <thead><tr><th>"Model"</th><th class="num">"Flagged packets"</th><th class="num">"Threshold"</th></tr></thead>
            <tbody>
                {view.detectors.iter().map(|d| view! {
                    <tr>
                        <td>{d.name.label()}</td>
                        <td class="num" data-testid=format!("count-{}", testid(d.name)) data-value=d.count.to_string()>{thousands(d.count as u64)}</td>
                        <td class="num">{format!("{:.6}", d.threshold)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p data-testid="agreement">{format!(
            "{} packets flagged by at least one model: {} by exactly one, {} by two, {} by all three.",
            thousands(a.union as u64),
            a.flagged_by.first().copied().unwrap_or(0),
            a.flagged_by.get(1).copied().unwrap_or(0),
            a.flagged_by.get(2).copied().unwrap_or(0),
        )}</p>
        <ul class="pairs">
            {a.pairs.iter().map(|p| view! {
                <li>{format!("{} and {}: {} in common (Jaccard {:.2})", p.a.label(), p.b.label(), p.both, p.jaccard)}</li>
            }).collect_view()}
        </ul>
    }
}

/// The exports: the report (JSON, Markdown), the flagged packets (CSV, and pcapng for a pcap).
#[component]
fn Downloads(analysis: UseAnalysis, pcap: bool) -> impl IntoView {
    view! {
        <div class="downloads">
            <button data-testid="download-report" on:click=move |_| analysis.export(Export::Report)>"Download the report (JSON)"</button>
            <button class="secondary" data-testid="download-csv" on:click=move |_| analysis.export(Export::FlaggedCsv)>"Download flagged packets (CSV)"</button>
            <button class="secondary" data-testid="download-markdown" on:click=move |_| analysis.export(Export::Markdown)>"Download the report (Markdown)"</button>
            {pcap.then(|| view! {
                <button class="secondary" data-testid="download-pcap" on:click=move |_| analysis.export(Export::Pcap { incident: None })>"Download flagged packets (pcapng)"</button>
            })}
        </div>
    }
}

/// The flagged packets, a page at a time: all of them, one model's, or the chosen incident's,
/// in packet order or by score.
#[component]
fn FlaggedTable(
    view: Arc<ResultsView>,
    chosen: ReadSignal<Option<usize>>,
    set_chosen: WriteSignal<Option<usize>>,
    page: RwSignal<usize>,
) -> impl IntoView {
    // The model chosen above the table (`None`: all).
    let (filter, set_filter) = signal(None::<DetectorId>);
    let (by_score, set_by_score) = signal(false);
    let names: Vec<DetectorId> = view.detectors.iter().map(|d| d.name).collect();
    let rows = {
        let view = view.clone();
        let names = names.clone();
        Memo::new(move |_| {
            let f = filter.get();
            let col = f.and_then(|f| names.iter().position(|n| *n == f));
            let inc = chosen.get();
            let mut rows: Vec<usize> = (0..view.flagged.len())
                .filter(|&i| f.is_none_or(|f| view.flagged[i].by.contains(&f)))
                .filter(|&i| inc.is_none() || view.flagged[i].incident == inc)
                .collect();
            if by_score.get() {
                let c = col.unwrap_or(0);
                rows.sort_by(|&a, &b| view.flagged[b].scores[c].total_cmp(&view.flagged[a].scores[c]));
            }
            rows
        })
    };
    let pages = move || rows.with(|r| r.len().div_ceil(PAGE).max(1));
    let table_view = view.clone();
    view! {
        <h2>{format!("Flagged packets ({} in all{})", thousands(view.flagged_total as u64),
            if view.flagged_total > view.flagged.len() {
                format!(", the first {} listed here; the CSV download has them all", thousands(view.flagged.len() as u64))
            } else { String::new() })}</h2>
        {move || chosen.get().map(|r| view! {
            <p class="chosen-note" data-testid="chosen-incident" data-rank=r.to_string()>
                {format!("Showing the packets of incident #{r}. ")}
                <button class="secondary" on:click=move |_| set_chosen.set(None)>"Show every flagged packet"</button>
            </p>
        })}
        <div class="table-tools">
            <label>"Model "
                <select data-testid="flagged-filter" on:change=move |ev| { set_filter.set(DetectorId::from_name(&event_target_value(&ev))); page.set(0); }>
                    <option value="all">"all"</option>
                    {names.iter().map(|n| view! { <option value=n.name()>{n.label()}</option> }).collect_view()}
                </select>
            </label>
            <label><input type="checkbox" on:change=move |ev| set_by_score.set(event_target_checked(&ev)) />" sort by score"</label>
            <button class="secondary" on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"‹"</button>
            <span>{move || format!("page {} of {}", page.get() + 1, pages())}</span>
            <button class="secondary" on:click=move |_| page.update(|p| if *p + 1 < pages() { *p += 1 })>"›"</button>
        </div>
        <div class="table-wrap">
        <table class="flagged" data-testid="flagged-table">
            <thead><tr>
                <th class="num">"No."</th><th class="num">"Time"</th><th>"Source"</th><th>"Destination"</th>
                <th>"Protocol"</th><th class="num">"Length"</th><th>"Info"</th><th>"Flagged by"</th><th class="num">"Incident"</th>
                {names.iter().map(|n| view! { <th class="num">{format!("{} score", n.short())}</th> }).collect_view()}
            </tr></thead>
            <tbody>
                {move || {
                    let v = table_view.clone();
                    rows.with(|r| r.iter().skip(page.get() * PAGE).take(PAGE).map(|&i| {
                        let p = &v.flagged[i];
                        view! {
                            <tr>
                                <td class="num">{p.no}</td><td class="num">{format!("{:.6}", p.time)}</td>
                                <td class="host">{p.source.clone()}</td><td class="host">{p.destination.clone()}</td>
                                <td>{p.protocol.clone()}</td><td class="num">{p.length}</td>
                                <td class="info">{p.info.clone()}</td>
                                <td>{p.by.iter().map(|b| b.short()).collect::<Vec<_>>().join(", ")}</td>
                                <td class="num">{p.incident.map_or_else(String::new, |r| format!("#{r}"))}</td>
                                {p.scores.iter().map(|s| view! { <td class="num">{score_text(*s)}</td> }).collect_view()}
                            </tr>
                        }
                    }).collect_view())
                }}
            </tbody>
        </table>
        </div>
    }
}

fn span_text(i: &Incident) -> String {
    if i.end - i.start < 0.001 {
        format!("at {:.3} s", i.start)
    } else {
        format!("{:.3}–{:.3} s", i.start, i.end)
    }
}

/// Incidents listed at first; the rest wait behind a button (a low threshold can make a hundred,
/// and drawing them all on every slider move is what made it slow).
const INCIDENTS_SHOWN: usize = 20;

/// The ranked incidents: kind, actor, peers, span, packets, detectors, the explanation and the
/// Wireshark filter with a copy button. Every string is capture text and goes in as text.
#[component]
fn Incidents(
    incidents: Vec<Incident>,
    /// Per incident, in rank order: its actor's activity strip, shown under it when chosen.
    activity: Vec<Activity>,
    chosen: ReadSignal<Option<usize>>,
    #[prop(into)] on_choose: Callback<usize>,
    /// The input was a capture file: each incident offers its packets as a pcapng.
    pcap: bool,
    #[prop(into)] on_pcap: Callback<usize>,
) -> impl IntoView {
    let total = incidents.len();
    let (all, set_all) = signal(false);
    let rest: Vec<Incident> = incidents.iter().skip(INCIDENTS_SHOWN).cloned().collect();
    let activity = Arc::new(activity);
    let item = move |i: Incident| {
        let strip = activity.iter().find(|a| a.rank == i.rank).cloned();
        incident_item(i, strip, chosen, on_choose, pcap, on_pcap)
    };
    view! {
        <section class="incidents" data-testid="incidents" data-count=total.to_string()>
            <h2>{format!("Incidents ({total})")}</h2>
            {(total == 0).then(|| view! {
                <p data-testid="no-incidents">"No incident: no packet stood out in every model at the threshold."</p>
            })}
            <ol class="incident-list">
                {incidents.into_iter().take(INCIDENTS_SHOWN).map(item.clone()).collect_view()}
                {move || all.get().then(|| rest.clone().into_iter().map(item.clone()).collect_view())}
            </ol>
            {move || (total > INCIDENTS_SHOWN && !all.get()).then(|| view! {
                <button class="secondary" data-testid="incidents-more" on:click=move |_| set_all.set(true)>
                    {format!("Show all {total} incidents")}
                </button>
            })}
        </section>
    }
}

/// One incident of the list; when chosen, its actor's activity strip under it.
fn incident_item(
    i: Incident,
    strip: Option<Activity>,
    chosen: ReadSignal<Option<usize>>,
    on_choose: Callback<usize>,
    pcap: bool,
    on_pcap: Callback<usize>,
) -> impl IntoView {
    let filter = i.filter.clone();
    let peers = if i.peers_total > i.peers.len() {
        format!("{} and {} more", i.peers.join(", "), i.peers_total - i.peers.len())
    } else {
        i.peers.join(", ")
    };
    let by = i.detectors.iter().map(|(d, n)| format!("{} {n}", d.short())).collect::<Vec<_>>().join(", ");
    let rank = i.rank;
    let actor = i.actor.clone();
    view! {
        <li class="incident" data-testid="incident" data-rank=i.rank.to_string() data-kind=format!("{:?}", i.kind)
            class:chosen=move || chosen.get() == Some(rank)
            on:click=move |_| on_choose.run(rank)>
            <div class="incident-head">
                <span class="rank">{format!("#{}", i.rank)}</span>
                <span class="kind" data-testid="incident-kind">{i.kind.label().to_string()}</span>
                <span class="actor host" data-testid="incident-actor">{i.actor.clone()}</span>
                <span class="peers host">{format!("→ {peers}")}</span>
            </div>
            <div class="incident-meta">
                {format!("{} · {} packets · score {:.2}{}", span_text(&i), thousands(i.packets.len() as u64), i.score,
                    if by.is_empty() { String::new() } else { format!(" · flagged by {by}") })}
            </div>
            <p class="explanation" data-testid="incident-explanation">{i.explanation.clone()}</p>
            <div class="filter">
                <code data-testid="incident-filter">{i.filter.clone()}</code>
                <button class="secondary" data-testid="copy-filter" on:click=move |ev| { ev.stop_propagation(); copy_text(&filter); }>"Copy filter"</button>
                {pcap.then(|| view! {
                    <button class="secondary" data-testid="incident-pcap" on:click=move |ev| { ev.stop_propagation(); on_pcap.run(rank); }>"Packets (pcapng)"</button>
                })}
            </div>
            {move || (chosen.get() == Some(rank)).then(|| strip.clone().map(|a| {
                let actor = actor.clone();
                view! { <ActivityStrip activity=a actor=actor /> }
            }))}
        </li>
    }
}
