//! Paints a [`Chart`] display list on a canvas, scaled for the device pixel ratio so lines and
//! text stay crisp on high-DPI screens.

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::chart::{Align, Chart, Shape};

/// Sizes the canvas backing store for the screen's pixel ratio and replays the chart on it.
pub fn paint(canvas: &HtmlCanvasElement, chart: &Chart) {
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    canvas.set_width((chart.width * ratio).round() as u32);
    canvas.set_height((chart.height * ratio).round() as u32);
    let style = canvas.style();
    let _ = style.set_property("width", &format!("{}px", chart.width));
    let _ = style.set_property("height", &format!("{}px", chart.height));
    let Some(ctx) =
        canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let _ = ctx.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, chart.width, chart.height);
    // Style changes cross into JS as strings, and a font is parsed each time it is set: set
    // each only when it changes (a scatter is thousands of same-coloured rectangles; an axis,
    // dozens of labels in one font).
    let mut fill_now = "";
    let mut font_now = None;
    let mut align_now = None;
    for shape in &chart.shapes {
        match shape {
            Shape::Rect { x, y, w, h, fill } => {
                if fill.0 != fill_now {
                    ctx.set_fill_style_str(fill.0);
                    fill_now = fill.0;
                }
                ctx.fill_rect(*x, *y, *w, *h);
            }
            Shape::Polyline { points, stroke, width } => {
                let Some(&(x0, y0)) = points.first() else { continue };
                ctx.begin_path();
                ctx.move_to(x0, y0);
                for &(x, y) in &points[1..] {
                    ctx.line_to(x, y);
                }
                ctx.set_stroke_style_str(stroke.0);
                ctx.set_line_width(*width);
                ctx.stroke();
            }
            Shape::Text { x, y, text, align, color, size, bold } => {
                if font_now != Some((*size, *bold)) {
                    let weight = if *bold { "600 " } else { "" };
                    ctx.set_font(&format!(
                        "{weight}{size}px system-ui, -apple-system, 'Segoe UI', sans-serif"
                    ));
                    font_now = Some((*size, *bold));
                }
                if align_now != Some(*align) {
                    ctx.set_text_align(match align {
                        Align::Left => "left",
                        Align::Center => "center",
                        Align::Right => "right",
                    });
                    align_now = Some(*align);
                }
                if color.0 != fill_now {
                    ctx.set_fill_style_str(color.0);
                    fill_now = color.0;
                }
                let _ = ctx.fill_text(text, *x, *y);
            }
        }
    }
}
