//! Chart geometry: turns result data into a display list (rectangles, polylines, text in CSS
//! pixels) plus hover regions with exact values. Pure code, tested natively; the browser's
//! painter only replays the list on a canvas. Transforms are named `screen_from_data`.

use crate::format::{compact, thousands};
use crate::report::{Activity, Scatter};
use crate::stats::{Histogram, TrafficSeries, nice_step};

/// An RGB colour as CSS understands it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color(pub &'static str);

pub const INK: Color = Color("#1f2933");
pub const MUTED: Color = Color("#6b7785");
pub const GRID: Color = Color("#e3e8ee");
pub const ACCENT: Color = Color("#2f6fde");
pub const ACCENT_2: Color = Color("#14a37f");
pub const ALERT: Color = Color("#d92d20");
/// A translucent band over a chart (an incident's span).
pub const SPAN: Color = Color("rgba(217, 45, 32, 0.14)");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Rect { x: f64, y: f64, w: f64, h: f64, fill: Color },
    Polyline { points: Vec<(f64, f64)>, stroke: Color, width: f64 },
    Text { x: f64, y: f64, text: String, align: Align, color: Color, size: f64, bold: bool },
}

/// A rectangle of the chart that shows `label` when the pointer is over it.
#[derive(Debug, Clone, PartialEq)]
pub struct HoverRegion {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub label: String,
}

/// A chart ready to paint: size in CSS pixels, shapes in paint order, hover regions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
    pub hover: Vec<HoverRegion>,
    /// The data x axis of a chart over time or packet index, for [`mark_span`].
    pub x_axis: Option<XAxis>,
}

/// Where a chart's data x axis lies: its mapping and the plot's top and bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XAxis {
    pub x: Linear,
    pub top: f64,
    pub bottom: f64,
}

impl Chart {
    /// The label under a point, if any.
    pub fn hit(&self, x: f64, y: f64) -> Option<&str> {
        self.hover
            .iter()
            .find(|r| x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h)
            .map(|r| r.label.as_str())
    }

    fn text(&mut self, x: f64, y: f64, text: impl Into<String>, align: Align, color: Color, size: f64) {
        self.shapes.push(Shape::Text { x, y, text: text.into(), align, color, size, bold: false });
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Color) {
        self.shapes.push(Shape::Rect { x, y, w, h, fill });
    }

    fn line(&mut self, points: Vec<(f64, f64)>, stroke: Color, width: f64) {
        self.shapes.push(Shape::Polyline { points, stroke, width });
    }
}

/// Maps a data interval onto a screen interval (either direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub s0: f64,
    pub s1: f64,
}

impl Linear {
    pub fn screen_from_data(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 {
            return self.s0;
        }
        self.s0 + (v - self.d0) / span * (self.s1 - self.s0)
    }
}

/// Tick values covering `[0, max]` with a nice step, about `target` of them.
pub fn ticks(max: f64, target: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0];
    }
    let step = nice_step(max / target.max(1) as f64);
    let top = (max / step).ceil() * step;
    let n = (top / step).round() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 13.0;
const PAD: f64 = 10.0;

/// The chart's title, top left.
fn title_text(c: &mut Chart, title: &str) {
    c.shapes.push(Shape::Text {
        x: PAD,
        y: PAD + TITLE_FONT,
        text: title.to_string(),
        align: Align::Left,
        color: INK,
        size: TITLE_FONT,
        bold: true,
    });
}

/// Horizontal bars, one per item, largest first as given. `unit` names the values.
pub fn bar_chart(title: &str, items: &[(String, f64)], unit: &str, width: f64, height: f64) -> Chart {
    let mut c = Chart { width, height, ..Chart::default() };
    title_text(&mut c, title);
    if items.is_empty() {
        c.text(width / 2.0, height / 2.0, "no data", Align::Center, MUTED, FONT);
        return c;
    }
    let longest = items.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let label_w = (longest.min(30) as f64 * 6.6 + 8.0).clamp(40.0, width * 0.45);
    let top = PAD + TITLE_FONT + 10.0;
    let bottom = height - PAD - FONT - 6.0;
    let left = PAD + label_w;
    let right = width - PAD - 36.0;
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let t = ticks(max, 4);
    let x = Linear { d0: 0.0, d1: *t.last().unwrap_or(&1.0), s0: left, s1: right };
    for &tv in &t {
        let sx = x.screen_from_data(tv);
        c.line(vec![(sx, top), (sx, bottom)], GRID, 1.0);
        c.text(sx, bottom + FONT + 4.0, compact(tv), Align::Center, MUTED, FONT - 1.0);
    }
    let slot = (bottom - top) / items.len() as f64;
    let bar_h = (slot * 0.7).min(22.0);
    for (i, (label, v)) in items.iter().enumerate() {
        let y = top + slot * i as f64 + (slot - bar_h) / 2.0;
        let w = (x.screen_from_data(*v) - left).max(1.0);
        c.rect(left, y, w, bar_h, ACCENT);
        let shown = truncate(label, 30);
        c.text(left - 6.0, y + bar_h / 2.0 + FONT / 2.0 - 2.0, shown, Align::Right, INK, FONT);
        c.text(
            left + w + 4.0,
            y + bar_h / 2.0 + FONT / 2.0 - 2.0,
            compact(*v),
            Align::Left,
            MUTED,
            FONT - 1.0,
        );
        c.hover.push(HoverRegion {
            x: PAD,
            y: top + slot * i as f64,
            w: width - 2.0 * PAD,
            h: slot,
            label: format!("{label}: {} {unit}", thousands(v.round() as u64)),
        });
    }
    c
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn frame(c: &mut Chart, title: &str, y_label: &str) -> (f64, f64, f64, f64) {
    title_text(c, title);
    c.text(c.width - PAD, PAD + TITLE_FONT, y_label, Align::Right, MUTED, FONT - 1.0);
    let left = PAD + 44.0;
    let right = c.width - PAD;
    let top = PAD + TITLE_FONT + 12.0;
    let bottom = c.height - PAD - 2.0 * FONT - 6.0;
    (left, right, top, bottom)
}

fn y_axis(c: &mut Chart, max: f64, left: f64, right: f64, top: f64, bottom: f64) -> Linear {
    let t = ticks(max, 4);
    let y = Linear { d0: 0.0, d1: *t.last().unwrap_or(&1.0), s0: bottom, s1: top };
    for &tv in &t {
        let sy = y.screen_from_data(tv);
        c.line(vec![(left, sy), (right, sy)], GRID, 1.0);
        c.text(left - 6.0, sy + 4.0, compact(tv), Align::Right, MUTED, FONT - 1.0);
    }
    y
}

/// Vertical bars over the histogram's bins (equal widths; the edges are printed under them).
pub fn histogram_chart(title: &str, h: &Histogram, x_label: &str, width: f64, height: f64) -> Chart {
    let mut c = Chart { width, height, ..Chart::default() };
    let (left, right, top, bottom) = frame(&mut c, title, "packets");
    if h.counts.is_empty() {
        c.text(width / 2.0, height / 2.0, "no data", Align::Center, MUTED, FONT);
        return c;
    }
    let max = h.counts.iter().copied().max().unwrap_or(0) as f64;
    let y = y_axis(&mut c, max, left, right, top, bottom);
    let slot = (right - left) / h.counts.len() as f64;
    let label_every = ((h.counts.len() as f64 * 34.0) / (right - left)).ceil().max(1.0) as usize;
    for (i, &count) in h.counts.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let sy = y.screen_from_data(count as f64);
        let (lo, hi) = (h.edges[i], h.edges[i + 1]);
        if count > 0 {
            c.rect(x0 + 1.0, sy, (slot - 2.0).max(1.0), (bottom - sy).max(1.0), ACCENT);
        }
        if i % label_every == 0 {
            c.text(x0, bottom + FONT + 3.0, compact(lo), Align::Center, MUTED, FONT - 1.0);
        }
        c.hover.push(HoverRegion {
            x: x0,
            y: top,
            w: slot,
            h: bottom - top,
            label: format!("{}–{} {x_label}: {} packets", compact(lo), compact(hi), thousands(count)),
        });
    }
    if let Some(last) = h.edges.last() {
        c.text(right, bottom + FONT + 3.0, compact(*last), Align::Right, MUTED, FONT - 1.0);
    }
    c.text((left + right) / 2.0, height - PAD + 2.0, x_label, Align::Center, MUTED, FONT - 1.0);
    c
}

/// Draws a vertical marker (e.g. a threshold) at data value `at` of the histogram's x axis.
pub fn mark_histogram(c: &mut Chart, h: &Histogram, at: f64, label: &str) {
    let (Some(&lo), Some(&hi)) = (h.edges.first(), h.edges.last()) else { return };
    let (left, right) = (PAD + 44.0, c.width - PAD);
    let top = PAD + TITLE_FONT + 12.0;
    let bottom = c.height - PAD - 2.0 * FONT - 6.0;
    let x = Linear { d0: lo, d1: hi, s0: left, s1: right }.screen_from_data(at.clamp(lo, hi));
    c.line(vec![(x, top), (x, bottom)], ALERT, 2.0);
    c.text(x - 4.0, top + FONT, label, Align::Right, ALERT, FONT - 1.0);
}

/// Length against packet index: every occupied raster cell as a 1-pixel grey rectangle, each
/// detector's flagged packets as coloured squares (hover: packet and detector), a legend.
pub fn scatter_chart(title: &str, s: &Scatter, height: f64) -> Chart {
    let left = PAD + 44.0;
    let width = left + f64::from(s.width) + PAD;
    let mut c = Chart { width, height, ..Chart::default() };
    let (_, right, top, bottom) = frame(&mut c, title, "length (bytes)");
    if s.rows == 0 {
        c.text(width / 2.0, height / 2.0, "no data", Align::Center, MUTED, FONT);
        return c;
    }
    let y = y_axis(&mut c, f64::from(s.max_length), left, right, top, bottom);
    let x = Linear { d0: 0.0, d1: s.rows as f64, s0: left, s1: right };
    c.x_axis = Some(XAxis { x, top, bottom });
    let step = nice_step(s.rows as f64 / 8.0);
    let mut tv = 0.0;
    while tv <= s.rows as f64 {
        c.text(x.screen_from_data(tv), bottom + FONT + 3.0, compact(tv), Align::Center, MUTED, FONT - 1.0);
        tv += step;
    }
    let cell_h = (bottom - top) / f64::from(s.height);
    let cell_w = (right - left) / f64::from(s.width);
    // Occupied cells side by side in a row are one rectangle (the same pixels as one per cell):
    // a dense capture's scatter is a few thousand runs instead of tens of thousands of cells,
    // each one canvas call.
    for (first, n) in runs(&s.occupied, s.width) {
        let (cx, cy) = (first % s.width, first / s.width);
        let px = left + f64::from(cx) * cell_w;
        let py = bottom - f64::from(cy + 1) * cell_h;
        let w = f64::from(n - 1) * cell_w + cell_w.max(1.0);
        c.rect(px, py, w, cell_h.max(1.0), Color("#9aa5b1"));
    }
    let mut legend_x = left + 430.0;
    for (name, points) in &s.flagged {
        let color = Color(name.colour());
        for &(i, len) in points {
            let (px, py) = (x.screen_from_data(f64::from(i)), y.screen_from_data(f64::from(len)));
            c.rect(px - 2.0, py - 2.0, 4.0, 4.0, color);
            c.hover.push(HoverRegion {
                x: px - 3.0,
                y: py - 3.0,
                w: 6.0,
                h: 6.0,
                label: format!(
                    "row {}, {} bytes: flagged by {}",
                    thousands(u64::from(i) + 1),
                    thousands(u64::from(len)),
                    name.label()
                ),
            });
        }
        c.rect(legend_x, PAD + 4.0, 8.0, 8.0, color);
        c.text(
            legend_x + 12.0,
            PAD + 12.0,
            format!("{} ({})", name.short(), points.len()),
            Align::Left,
            INK,
            FONT - 1.0,
        );
        legend_x += 150.0;
    }
    c.text((left + right) / 2.0, height - PAD + 2.0, "packet index", Align::Center, MUTED, FONT - 1.0);
    c
}

/// Runs of consecutive cells in one row of a grid `width` wide: (first cell, length), from
/// cells in ascending order.
fn runs(cells: &[u32], width: u32) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &cell in cells {
        match out.last_mut() {
            Some((first, n)) if *first + *n == cell && cell % width != 0 => *n += 1,
            _ => out.push((cell, 1)),
        }
    }
    out
}

/// A time axis from `start` to `end` seconds under the plot (`left, right, top, bottom`): about
/// six nice ticks with their labels; recorded as the chart's data x axis for [`mark_span`].
fn time_axis(
    c: &mut Chart,
    start: f64,
    end: f64,
    (left, right, top, bottom): (f64, f64, f64, f64),
) -> Linear {
    let x = Linear { d0: start, d1: end, s0: left, s1: right };
    c.x_axis = Some(XAxis { x, top, bottom });
    let step = nice_step((end - start) / 6.0);
    let mut tv = (start / step).ceil() * step;
    while tv <= end + 1e-9 {
        let sx = x.screen_from_data(tv);
        c.line(vec![(sx, bottom), (sx, bottom + 4.0)], MUTED, 1.0);
        c.text(sx, bottom + FONT + 3.0, compact(tv), Align::Center, MUTED, FONT - 1.0);
        tv += step;
    }
    x
}

/// Marks `from..=to` (in the data units of the chart's x axis: seconds, packet index) as a
/// translucent band at least 3 pixels wide, edged in red, with `label` above it and as its
/// hover text. A chart without a data x axis is left as it is.
pub fn mark_span(c: &mut Chart, from: f64, to: f64, label: &str) {
    let Some(XAxis { x, top, bottom }) = c.x_axis else { return };
    let (lo, hi) = (x.s0.min(x.s1), x.s0.max(x.s1));
    let a = x.screen_from_data(from).clamp(lo, hi);
    let b = x.screen_from_data(to).clamp(lo, hi);
    let (mut l, mut r) = (a.min(b), a.max(b));
    if r - l < 3.0 {
        let mid = ((l + r) / 2.0).clamp(lo + 1.5, hi - 1.5);
        (l, r) = (mid - 1.5, mid + 1.5);
    }
    c.rect(l, top, r - l, bottom - top, SPAN);
    c.line(vec![(l, top), (l, bottom)], ALERT, 1.0);
    c.line(vec![(r, top), (r, bottom)], ALERT, 1.0);
    let (align, at) = if r + 120.0 < hi { (Align::Left, r + 4.0) } else { (Align::Right, l - 4.0) };
    c.text(at, top + FONT, label, align, ALERT, FONT - 1.0);
    // First, so the band's text wins over the bins' own hover labels.
    c.hover.insert(0, HoverRegion { x: l, y: top, w: r - l, h: bottom - top, label: label.to_string() });
}

/// One host's packets over time as bars (grey), with an incident's packets in red over them:
/// what is usual for the actor around what was flagged.
pub fn activity_chart(title: &str, a: &Activity, width: f64, height: f64) -> Chart {
    let mut c = Chart { width, height, ..Chart::default() };
    let y_label = format!("packets per {} s", compact(a.interval_s));
    let (left, right, top, bottom) = frame(&mut c, title, &y_label);
    if a.host.is_empty() {
        c.text(width / 2.0, height / 2.0, "no data", Align::Center, MUTED, FONT);
        return c;
    }
    let max = a.host.iter().copied().max().unwrap_or(0) as f64;
    let y = y_axis(&mut c, max.max(1.0), left, right, top, bottom);
    let end = a.start + a.interval_s * a.host.len() as f64;
    time_axis(&mut c, a.start, end, (left, right, top, bottom));
    let slot = (right - left) / a.host.len() as f64;
    for (i, (&all, &flagged)) in a.host.iter().zip(&a.incident).enumerate() {
        let x0 = left + slot * i as f64;
        let w = (slot - 1.0).max(1.0);
        if all > 0 {
            let top_all = y.screen_from_data(all as f64);
            c.rect(x0, top_all, w, bottom - top_all, Color("#9aa5b1"));
        }
        if flagged > 0 {
            let top_f = y.screen_from_data(flagged as f64);
            c.rect(x0, top_f, w, bottom - top_f, ALERT);
        }
        let t0 = a.start + a.interval_s * i as f64;
        c.hover.push(HoverRegion {
            x: x0,
            y: top,
            w: slot,
            h: bottom - top,
            label: format!(
                "{}–{} s: {} packets of this host, {} in the incident",
                compact(t0),
                compact(t0 + a.interval_s),
                thousands(u64::from(all)),
                thousands(u64::from(flagged))
            ),
        });
    }
    c.text((left + right) / 2.0, height - PAD + 2.0, "time (s)", Align::Center, MUTED, FONT - 1.0);
    c
}

/// A line over 1, 2, … n (e.g. a loss per epoch).
pub fn line_chart(title: &str, ys: &[f64], x_label: &str, y_label: &str, width: f64, height: f64) -> Chart {
    let mut c = Chart { width, height, ..Chart::default() };
    let (left, right, top, bottom) = frame(&mut c, title, y_label);
    if ys.is_empty() {
        c.text(width / 2.0, height / 2.0, "no data yet", Align::Center, MUTED, FONT);
        return c;
    }
    let max = ys.iter().copied().fold(0.0, f64::max);
    let y = y_axis(&mut c, max, left, right, top, bottom);
    let n = ys.len();
    let x = Linear { d0: 1.0, d1: n.max(2) as f64, s0: left, s1: right };
    let step = nice_step(n as f64 / 6.0).max(1.0);
    let mut tv = 1.0;
    while tv <= n as f64 + 1e-9 {
        let sx = x.screen_from_data(tv);
        c.text(sx, bottom + FONT + 3.0, compact(tv), Align::Center, MUTED, FONT - 1.0);
        tv += step;
    }
    let points: Vec<(f64, f64)> = ys
        .iter()
        .enumerate()
        .map(|(i, &v)| (x.screen_from_data((i + 1) as f64), y.screen_from_data(v)))
        .collect();
    for &(px, py) in &points {
        c.rect(px - 2.0, py - 2.0, 4.0, 4.0, ACCENT);
    }
    let w = (right - left) / n as f64;
    for (i, &v) in ys.iter().enumerate() {
        c.hover.push(HoverRegion {
            x: left + w * i as f64,
            y: top,
            w,
            h: bottom - top,
            label: format!("{x_label} {}: {v:.6}", i + 1),
        });
    }
    c.line(points, ACCENT, 2.0);
    c.text((left + right) / 2.0, height - PAD + 2.0, x_label, Align::Center, MUTED, FONT - 1.0);
    c
}

/// A line of packets per interval over time (seconds on the x axis).
pub fn traffic_chart(title: &str, s: &TrafficSeries, width: f64, height: f64) -> Chart {
    let mut c = Chart { width, height, ..Chart::default() };
    let y_label = format!("packets per {} s", compact(s.interval_s));
    let (left, right, top, bottom) = frame(&mut c, title, &y_label);
    if s.packets.is_empty() {
        c.text(width / 2.0, height / 2.0, "no data", Align::Center, MUTED, FONT);
        return c;
    }
    let max = s.packets.iter().copied().max().unwrap_or(0) as f64;
    let y = y_axis(&mut c, max, left, right, top, bottom);
    let end = s.start + s.interval_s * s.packets.len() as f64;
    let x = time_axis(&mut c, s.start, end, (left, right, top, bottom));
    let points: Vec<(f64, f64)> = s
        .packets
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mid = s.start + s.interval_s * (i as f64 + 0.5);
            (x.screen_from_data(mid), y.screen_from_data(p as f64))
        })
        .collect();
    c.line(points, ACCENT_2, 2.0);
    let w = (right - left) / s.packets.len() as f64;
    for (i, (&p, &b)) in s.packets.iter().zip(&s.bytes).enumerate() {
        let t0 = s.start + s.interval_s * i as f64;
        c.hover.push(HoverRegion {
            x: left + w * i as f64,
            y: top,
            w,
            h: bottom - top,
            label: format!(
                "{}–{} s: {} packets, {} bytes",
                compact(t0),
                compact(t0 + s.interval_s),
                thousands(p),
                thousands(b)
            ),
        });
    }
    c.text((left + right) / 2.0, height - PAD + 2.0, "time (s)", Align::Center, MUTED, FONT - 1.0);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_both_ways() {
        let l = Linear { d0: 0.0, d1: 10.0, s0: 100.0, s1: 0.0 };
        assert!((l.screen_from_data(0.0) - 100.0).abs() < 1e-9);
        assert!((l.screen_from_data(2.5) - 75.0).abs() < 1e-9);
        let flat = Linear { d0: 3.0, d1: 3.0, s0: 5.0, s1: 9.0 };
        assert!((flat.screen_from_data(3.0) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn ticks_cover_the_maximum() {
        assert_eq!(ticks(49_621.0, 4), vec![0.0, 20_000.0, 40_000.0, 60_000.0]);
        assert_eq!(ticks(0.0, 4), vec![0.0]);
        assert_eq!(ticks(3.0, 4), vec![0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn number_formats() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(49_621.0), "49.6k");
        assert_eq!(compact(2_500_000.0), "2.5M");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(0.002), "0.0020");
        assert_eq!(compact(0.0086), "0.0086");
        assert_eq!(thousands(121_580), "121,580");
        assert_eq!(thousands(5), "5");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn bar_chart_has_a_bar_and_a_hover_per_item() {
        let items = vec![("QUIC".to_string(), 200.0), ("TCP".to_string(), 100.0)];
        let c = bar_chart("Protocols", &items, "packets", 400.0, 200.0);
        let bars: Vec<(f64, f64)> = c
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Rect { w, y, .. } => Some((*w, *y)),
                _ => None,
            })
            .collect();
        assert_eq!(bars.len(), 2);
        assert!(bars[0].0 > bars[1].0 * 1.9 && bars[0].0 < bars[1].0 * 2.1, "{bars:?}");
        assert!(bars[0].1 < bars[1].1);
        let y1 = c.hover[1].y + 1.0;
        assert_eq!(c.hit(200.0, y1), Some("TCP: 100 packets"));
        assert_eq!(c.hit(-5.0, y1), None);
        for s in &c.shapes {
            if let Shape::Rect { x, y, w, h, .. } = s {
                assert!(*x >= 0.0 && *y >= 0.0 && x + w <= 400.0 && y + h <= 200.0);
            }
        }
    }

    #[test]
    fn histogram_bars_scale_with_counts() {
        let h = Histogram { edges: vec![0.0, 64.0, 128.0, 256.0], counts: vec![10, 0, 5] };
        let c = histogram_chart("Lengths", &h, "bytes", 300.0, 200.0);
        let heights: Vec<f64> = c
            .shapes
            .iter()
            .filter_map(|s| if let Shape::Rect { h, .. } = s { Some(*h) } else { None })
            .collect();
        assert_eq!(heights.len(), 2, "empty bins draw no bar");
        assert!((heights[0] / heights[1] - 2.0).abs() < 0.05, "{heights:?}");
        assert_eq!(c.hover.len(), 3);
        assert!(c.hover[2].label.contains("128–256 bytes: 5 packets"), "{}", c.hover[2].label);
    }

    #[test]
    fn traffic_chart_draws_one_point_per_interval() {
        let s =
            TrafficSeries { start: 0.0, interval_s: 10.0, packets: vec![1, 5, 2], bytes: vec![60, 300, 120] };
        let c = traffic_chart("Traffic", &s, 500.0, 200.0);
        let line = c.shapes.iter().find_map(|sh| match sh {
            Shape::Polyline { points, stroke, .. } if *stroke == ACCENT_2 => Some(points.clone()),
            _ => None,
        });
        let points = line.unwrap_or_default();
        assert_eq!(points.len(), 3);
        assert!(points[1].1 < points[0].1 && points[1].1 < points[2].1, "peak is highest on screen");
        assert!(c.hover[1].label.starts_with("10–20 s: 5 packets, 300 bytes"), "{}", c.hover[1].label);
    }

    #[test]
    fn line_chart_and_marker() {
        let c = line_chart("Loss", &[0.4, 0.2, 0.1], "epoch", "MSE", 300.0, 200.0);
        let dots: Vec<f64> = c
            .shapes
            .iter()
            .filter_map(|s| if let Shape::Rect { y, .. } = s { Some(*y) } else { None })
            .collect();
        assert_eq!(dots.len(), 3);
        assert!(dots[0] < dots[1] && dots[1] < dots[2], "falling loss goes down the screen: {dots:?}");
        assert_eq!(c.hover[1].label, "epoch 2: 0.200000");
        let h = Histogram { edges: vec![-6.0, -4.0, -2.0], counts: vec![3, 1] };
        let mut c = histogram_chart("Scores", &h, "log10 score", 300.0, 200.0);
        let before = c.shapes.len();
        mark_histogram(&mut c, &h, -3.0, "threshold");
        let marker = c.shapes[before..].iter().find_map(|s| match s {
            Shape::Polyline { points, stroke, .. } if *stroke == ALERT => Some(points[0].0),
            _ => None,
        });
        let mid = (PAD + 44.0 + 300.0 - PAD) / 2.0 + (300.0 - 2.0 * PAD - 44.0) / 4.0;
        assert!((marker.unwrap_or(0.0) - mid).abs() < 1e-9);
    }

    #[test]
    fn scatter_draws_cells_and_flagged_points() {
        let s = Scatter {
            rows: 100,
            max_length: 1000,
            width: 50,
            height: 20,
            // Two cells side by side, the last of row 0 and the first of row 1 (not one run),
            // the last cell of the grid.
            occupied: vec![0, 1, 49, 50, 20 * 50 - 1],
            flagged: vec![(crate::detect::DetectorId::Kmeans, vec![(99, 1000)])],
        };
        let c = scatter_chart("Length", &s, 200.0);
        let greys: Vec<(f64, f64, f64)> = c
            .shapes
            .iter()
            .filter_map(|sh| match sh {
                Shape::Rect { x, y, w, fill, .. } if fill.0 == "#9aa5b1" => Some((*x, *y, *w)),
                _ => None,
            })
            .collect();
        let left = PAD + 44.0;
        assert_eq!(greys.len(), 4, "{greys:?}");
        assert!(
            (greys[0].0 - left).abs() < 1e-9 && (greys[0].2 - 2.0).abs() < 1e-9,
            "cells 0 and 1 are one run"
        );
        assert!((greys[1].0 - (left + 49.0)).abs() < 1e-9 && (greys[1].2 - 1.0).abs() < 1e-9);
        assert!((greys[2].0 - left).abs() < 1e-9 && greys[2].1 < greys[1].1, "cell 50 starts row 1, above");
        assert_eq!(c.hover.len(), 1);
        assert!(c.hover[0].label.contains("flagged by k-means distance"));
        assert!((c.width - (PAD + 44.0 + 50.0 + PAD)).abs() < 1e-9);
    }

    #[test]
    fn empty_data_says_so() {
        let c = bar_chart("x", &[], "packets", 100.0, 100.0);
        assert!(c.shapes.iter().any(|s| matches!(s, Shape::Text { text, .. } if text == "no data")));
    }

    fn span_bands(c: &Chart) -> Vec<(f64, f64)> {
        c.shapes
            .iter()
            .filter_map(|sh| match sh {
                Shape::Rect { x, w, fill, .. } if *fill == SPAN => Some((*x, *w)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_span_marks_its_data_range_on_the_time_axis() {
        let s = TrafficSeries { start: 0.0, interval_s: 10.0, packets: vec![1, 5, 2, 4], bytes: vec![0; 4] };
        let mut c = traffic_chart("Traffic", &s, 440.0, 200.0);
        let x = c.x_axis.expect("a time axis").x;
        mark_span(&mut c, 10.0, 20.0, "incident #1");
        let bands = span_bands(&c);
        assert_eq!(bands.len(), 1);
        let (l, w) = bands[0];
        assert!(
            (l - x.screen_from_data(10.0)).abs() < 1e-9 && (l + w - x.screen_from_data(20.0)).abs() < 1e-9
        );
        // Its label wins the hover over the interval under it.
        let mid = l + w / 2.0;
        assert_eq!(c.hit(mid, 100.0), Some("incident #1"));
        // An instant is still visible; a span past the axis is clipped to it.
        mark_span(&mut c, 15.0, 15.0, "x");
        mark_span(&mut c, -50.0, 500.0, "y");
        let bands = span_bands(&c);
        assert!((bands[1].1 - 3.0).abs() < 1e-9);
        assert!((bands[2].0 - x.s0).abs() < 1e-9 && (bands[2].0 + bands[2].1 - x.s1).abs() < 1e-9);
        // A chart without a data x axis is left alone.
        let mut bars = bar_chart("x", &[("a".into(), 1.0)], "packets", 100.0, 100.0);
        let before = bars.clone();
        mark_span(&mut bars, 0.0, 1.0, "z");
        assert_eq!(bars, before);
    }

    #[test]
    fn activity_draws_the_host_and_the_incident_in_each_bin() {
        let a = Activity {
            rank: 2,
            rows: (5, 9),
            start: 0.0,
            interval_s: 1.0,
            host: vec![4, 0, 6],
            incident: vec![0, 0, 3],
        };
        let c = activity_chart("Activity", &a, 400.0, 180.0);
        let fills = |f: Color| {
            c.shapes.iter().filter(|sh| matches!(sh, Shape::Rect { fill, .. } if *fill == f)).count()
        };
        assert_eq!(fills(Color("#9aa5b1")), 2, "a grey bar for each bin with packets");
        assert_eq!(fills(ALERT), 1, "a red bar for the bin with the incident's packets");
        assert_eq!(c.hover.len(), 3);
        assert!(
            c.hover[2].label.contains("6 packets of this host, 3 in the incident"),
            "{}",
            c.hover[2].label
        );
        assert!(c.x_axis.is_some());
    }
}
