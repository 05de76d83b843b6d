//! Number formatting shared by the report, the explanations, the CLI and the charts: compact
//! axis numbers, thousands separators, byte sizes; and which characters of capture text are
//! hidden ones that every output escapes.

/// Compact number for axes and labels: `950`, `1.2k`, `3.4M`, `0.25`.
/// Characters that change how text reads without showing themselves: control characters (C0,
/// DEL, C1), zero-width characters, line and paragraph separators, bidi embeddings, overrides and
/// isolates, invisible operators and the byte-order mark. Capture text holding them is escaped
/// wherever it leaves Netsieve (display filters, the Markdown report).
pub fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff)
}

/// A measured value to one decimal, without a trailing `.0`: `1412.5`, `90` (interpolated
/// percentiles are rarely whole).
pub fn tenths(v: f64) -> String {
    format!("{}", (v * 10.0).round() / 10.0)
}

pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if scaled.fract().abs() < 1e-9 || scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 1.0 {
        format!("{scaled:.1}")
    } else {
        // Small values keep two significant digits: 0.25, 0.002, 0.00086.
        let decimals = (1.0 - libm::log10(scaled.abs()).floor()).clamp(2.0, 12.0) as usize;
        format!("{scaled:.decimals$}")
    };
    format!("{s}{suffix}")
}

/// Whole number with thousands separators: `121,580`.
pub fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A byte count in KB/MB/GB (powers of 1000): `812 B`, `4.0 MB`.
pub fn bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1} GB", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} kB", v / 1e3)
    } else {
        format!("{v:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(tenths(1_412.549_999_999_999_5), "1412.5");
        assert_eq!(tenths(90.0), "90");
        assert_eq!(thousands(121_580), "121,580");
        assert_eq!(thousands(7), "7");
        assert_eq!(compact(1234.0), "1234");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(bytes(4_000_000.0), "4.0 MB");
        assert_eq!(bytes(812.0), "812 B");
    }
}
