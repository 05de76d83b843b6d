//! Browser component tests (wasm-bindgen-test in headless Chromium): the canvas painter on a
//! real canvas, worker-message encoding through real JS values, and the page mounting.
#![cfg(target_arch = "wasm32")]

use netsieve::browser::{
    Incoming, canvas::paint, decode_from_worker, encode_from_worker, from_js, receive_from_worker, to_js,
};
use netsieve::capture::parse;
use netsieve::chart::bar_chart;
use netsieve::pipeline::Stage;
use netsieve::protocol::{FromWorker, ToWorker};
use netsieve::stats::overview;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

#[wasm_bindgen_test]
fn painter_draws_the_bars_of_a_chart() {
    let canvas: HtmlCanvasElement = document().create_element("canvas").expect("canvas").unchecked_into();
    let items = vec![("QUIC".to_string(), 300.0), ("TCP".to_string(), 100.0)];
    let chart = bar_chart("Protocols", &items, "packets", 400.0, 200.0);
    paint(&canvas, &chart);
    let ratio = web_sys::window().expect("window").device_pixel_ratio().max(1.0);
    assert_eq!(canvas.width(), (400.0 * ratio).round() as u32);
    let ctx: CanvasRenderingContext2d = canvas.get_context("2d").expect("ok").expect("2d").unchecked_into();
    // The first bar's middle must be painted in the accent colour; a corner stays blank.
    let (x, y) = chart
        .shapes
        .iter()
        .find_map(|s| match s {
            netsieve::chart::Shape::Rect { x, y, w, h, .. } => Some((x + w / 2.0, y + h / 2.0)),
            _ => None,
        })
        .expect("a bar");
    let px = ctx.get_image_data(x * ratio, y * ratio, 1.0, 1.0).expect("pixel").data().0;
    assert_eq!(&px[..3], &[0x2f, 0x6f, 0xde], "bar pixel {px:?}");
    let corner = ctx.get_image_data(1.0, (200.0 * ratio) - 2.0, 1.0, 1.0).expect("pixel").data().0;
    assert_eq!(corner[3], 0, "corner is transparent");
}

#[wasm_bindgen_test]
fn worker_messages_survive_js_encoding() {
    let c = parse(b"No.,Time,Source,Destination,Protocol,Length,Info\n1,0.5,a,b,TCP,60,x\n").expect("parses");
    let msgs = [
        FromWorker::Progress { job: 9, stage: Stage::Parse, fraction: 0.25 },
        FromWorker::Overview {
            job: 9,
            overview: Box::new(overview(&c)),
            warnings: vec![],
            warnings_total: 0,
            skipped_rows: 0,
        },
    ];
    for m in msgs {
        let encoded = encode_from_worker(m.clone()).expect("encodes");
        assert!(encoded.as_string().is_none(), "a small message crosses as a JS value");
        let back: FromWorker = decode_from_worker(encoded).expect("decodes");
        assert_eq!(back, m);
    }
    let to = ToWorker::Analyze {
        job: 2,
        file_name: "x.csv".into(),
        params: Box::default(),
        backend: netsieve::detect::autoencoder::Preference::Auto,
    };
    let back: ToWorker = from_js(to_js(&to).expect("encodes")).expect("decodes");
    assert_eq!(back, to);
}

/// The largest message, from a real default-preset analysis, through the page's encoding (one
/// JSON string), and an export of each kind.
#[wasm_bindgen_test]
fn the_results_message_survives_js_encoding() {
    use netsieve::pipeline::{NoProgress, Params, run};
    use netsieve::session::{Export, Session};
    let mut csv = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
    for i in 0..300u32 {
        let (src, len) = if (150..170).contains(&i) { ("10.0.0.66", 60) } else { ("10.0.0.2", 154 + i % 7) };
        csv.push_str(&format!(
            "{},{:.3},{src},10.0.0.10,TCP,{len},\"{} > 443 [ACK] Len={}\"\n",
            i + 1,
            f64::from(i) * 0.05,
            50000 + i % 3,
            i % 9
        ));
    }
    let params = Params::context(42);
    let analysis = run(csv.as_bytes(), "t.csv", &params, &mut NoProgress).expect("runs");
    let session = Session::new(analysis, "t.csv", csv.len(), params).expect("detected");
    let mut view = session.results(5000);
    assert!(!view.flagged.is_empty());
    // 2,500 rows: the head, the scatter and three parts of rows (1,000, 1,000, 500).
    let rows: Vec<_> = view.flagged.iter().cycle().take(2_500).cloned().collect();
    view.flagged = rows;
    let m = FromWorker::Results { job: 5, view: Box::new(view) };
    let encoded = encode_from_worker(m.clone()).expect("encodes");
    assert_eq!(js_sys::Array::from(&encoded).length(), 5, "the head, the scatter, the rows a part at a time");
    let Incoming::Parts(mut parts) = receive_from_worker(encoded.clone()).expect("decodes") else {
        panic!("the results come in parts")
    };
    let mut steps = 1;
    while !parts.decode_next().expect("a part decodes") {
        steps += 1;
    }
    assert_eq!(steps, 4, "one part per step");
    let back = parts.finish();
    // Compared as JSON: an undefined figure (NaN) is not equal to itself.
    assert_eq!(serde_json::to_string(&back).expect("json"), serde_json::to_string(&m).expect("json"));
    let at_once = decode_from_worker(encoded).expect("decodes");
    assert_eq!(serde_json::to_string(&at_once).expect("json"), serde_json::to_string(&m).expect("json"));
    for file in [Export::Report, Export::FlaggedCsv, Export::Markdown] {
        let contents = session.export(file).expect("exports");
        let m = FromWorker::Exported { job: 5, file, contents };
        let back: FromWorker =
            decode_from_worker(encode_from_worker(m.clone()).expect("encodes")).expect("decodes");
        assert_eq!(back, m);
    }
}

/// The same draws as natively (`detect::rng` tests): a 32-bit target must not change them.
#[wasm_bindgen_test]
fn random_index_draws_match_the_native_build() {
    let mut r = netsieve::detect::rng::rng(42, 0);
    let got: Vec<usize> = (0..6).map(|_| netsieve::detect::rng::below(&mut r, 1000)).collect();
    assert_eq!(got, vec![814, 318, 983, 701, 793, 588]);
}

#[wasm_bindgen_test]
fn page_mounts_idle_with_a_file_input() {
    leptos::mount::mount_to_body(netsieve::ui::App);
    let doc = document();
    let status = doc.query_selector("[data-testid=analysis]").expect("query").expect("status element");
    assert_eq!(status.get_attribute("data-phase").as_deref(), Some("idle"));
    let input = doc.query_selector("input#file[type=file]").expect("query");
    assert!(input.is_some(), "file input present");
    assert!(doc.query_selector("[data-testid=error]").expect("query").is_none());
}
