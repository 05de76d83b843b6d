//! `ChartCanvas`: a canvas that paints a [`Chart`] and shows the value under the pointer.

use leptos::html;
use leptos::prelude::*;

use crate::browser::canvas::paint;
use crate::chart::Chart;

#[component]
pub fn ChartCanvas(
    /// The chart to draw; redrawn whenever it changes.
    #[prop(into)]
    chart: Signal<Chart>,
    /// `data-testid` of the canvas, for tests.
    testid: &'static str,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let (tip, set_tip) = signal(None::<(f64, f64, String)>);
    // Each chart paints in a task of its own: a page of new results redraws several charts,
    // and painting them all in the task that received the results made it one long task.
    Effect::new(move |_| {
        chart.track();
        if canvas.get().is_some() {
            set_timeout(
                move || {
                    if let Some(el) = canvas.get_untracked() {
                        chart.try_with_untracked(|c| paint(&el, c));
                    }
                },
                std::time::Duration::ZERO,
            );
        }
    });
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        let label = chart.with(|c| c.hit(x, y).map(str::to_string));
        set_tip.set(label.map(|l| (x, y, l)));
    };
    view! {
        <div class="chart">
            <canvas node_ref=canvas data-testid=testid on:mousemove=on_move on:mouseleave=move |_| set_tip.set(None)></canvas>
            {move || tip.get().map(|(x, y, label)| view! {
                <div class="tip" role="tooltip" style=format!("left:{}px;top:{}px", x + 12.0, y + 12.0)>{label}</div>
            })}
        </div>
    }
}
