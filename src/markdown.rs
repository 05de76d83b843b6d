//! The Markdown report: capture summary, the incidents with their explanations and filters,
//! what each detector flagged, the settings and the tool's version. Capture text (file name,
//! host names, explanations quoting DNS names) is attacker-controlled: every piece of it is
//! escaped so that it renders as the same plain text in any Markdown viewer — no HTML, no
//! links, no emphasis, no tables broken open — and filters sit in code fences longer than any
//! backtick run inside them.

use std::fmt::Write;

use crate::format::thousands;
use crate::report::Report;

/// Capture text as inert Markdown: HTML's `< > &` as entities, every Markdown punctuation mark
/// backslash-escaped, line breaks and other control characters, bidi and zero-width controls
/// written as `U+XXXX`.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.' | '!'
            | '|' | '~' | '"' | '\'' | ':' | '=' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c if crate::format::is_hidden(c) => {
                let _ = write!(out, "U+{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block that its content cannot close.
fn fenced(lang: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body: String =
        body.chars().map(|c| if crate::format::is_hidden(c) && c != '\n' { '\u{fffd}' } else { c }).collect();
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Netsieve report: {}\n", text(&r.input.name));
    let _ = writeln!(
        m,
        "{} · preset {} · {} packets · {} protocols · {} bytes read\n",
        text(&r.tool),
        r.preset.name(),
        thousands(r.rows as u64),
        r.protocols,
        thousands(r.input.bytes as u64)
    );
    if let Some(primary) = r.primary.as_ref().and_then(|p| r.detectors.get(p)) {
        let _ = writeln!(
            m,
            "## Incidents ({})\n\nFlagged: {} packets with a combined score of at least {}.\n",
            r.incidents.len(),
            thousands(primary.count as u64),
            primary.threshold
        );
        if r.incidents.is_empty() {
            let _ = writeln!(m, "No incident.\n");
        }
        for i in &r.incidents {
            let _ = writeln!(m, "### {}\\. {}: {}\n", i.rank, i.kind.label(), text(&i.actor));
            let peers: Vec<String> = i.peers.iter().map(|p| text(p)).collect();
            let by: Vec<String> =
                i.detectors.iter().map(|(d, n)| format!("{} {n}", text(d.name()))).collect();
            let _ = writeln!(
                m,
                "- time: {:.6} to {:.6} s\n- packets: {}\n- score: {:.2}\n- peers: {}\n- flagged by: {}\n",
                i.start,
                i.end,
                thousands(i.packets.len() as u64),
                i.score,
                if peers.is_empty() { "none".to_string() } else { peers.join(", ") },
                if by.is_empty() { "the combined score only".to_string() } else { by.join(", ") }
            );
            let _ = writeln!(m, "{}\n", text(&i.explanation));
            let _ = writeln!(m, "Wireshark display filter:\n\n{}", fenced("", &i.filter));
        }
    }
    let _ = writeln!(m, "## Detectors\n\n| detector | flagged | threshold |\n|---|---|---|");
    for (name, d) in &r.detectors {
        let _ = writeln!(m, "| {} | {} | {} |", text(name.name()), thousands(d.count as u64), d.threshold);
    }
    let _ = writeln!(
        m,
        "\n## Settings\n\n{}",
        fenced("json", &serde_json::to_string_pretty(&r.params).unwrap_or_default())
    );
    let versions: Vec<String> = r.versions.iter().map(|(k, v)| format!("{} {}", text(k), text(v))).collect();
    let _ = writeln!(m, "Versions: {}.", versions.join(", "));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        let t = text("<script>alert(1)</script> [x](javascript:alert(1)) **b** | =cmd \u{202e}\n# h");
        assert!(!t.contains('<') && !t.contains('>'), "{t}");
        assert!(t.contains("\\[x\\]\\(javascript\\:alert\\(1\\)\\)"), "{t}");
        assert!(t.contains("\\*\\*b\\*\\*") && t.contains("\\|") && t.contains("\\=cmd"), "{t}");
        assert!(t.contains("U+202E") && t.contains("U+000A\\# h"), "{t}");
    }

    #[test]
    fn a_fence_outlasts_backticks_inside() {
        let f = fenced("", "dns.qry.name contains \"a````b\"");
        assert!(f.starts_with("`````\n") && f.ends_with("\n`````\n"), "{f}");
    }
}
