//! The flagged packets as CSV, every text cell neutralised against formula injection.

use super::{DetectorId, FlaggedPacket};

/// A cell made safe for spreadsheets: text that a spreadsheet would run as a formula
/// (`= + - @`, tab, carriage return first) gets a leading apostrophe.
pub fn neutralise_formula(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Flagged packets as CSV (all seven Wireshark columns, the detectors that flagged each, the
/// scores of `detectors` in order), every text cell neutralised against formula injection.
pub fn flagged_csv(
    detectors: &[DetectorId],
    packets: impl IntoIterator<Item = FlaggedPacket>,
) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::NonNumeric).from_writer(Vec::new());
    let mut header: Vec<String> =
        ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Info", "Flagged by", "Incident"]
            .map(String::from)
            .into();
    header.extend(detectors.iter().map(|d| format!("{d} score")));
    w.write_record(&header)?;
    for p in packets {
        let mut row = vec![
            p.no.to_string(),
            format!("{:.6}", p.time),
            neutralise_formula(&p.source),
            neutralise_formula(&p.destination),
            neutralise_formula(&p.protocol),
            p.length.to_string(),
            neutralise_formula(&p.info),
            p.by.iter().map(|d| d.name()).collect::<Vec<_>>().join(" "),
            p.incident.map_or_else(String::new, |r| r.to_string()),
        ];
        row.extend(p.scores.iter().map(|s| format!("{s}")));
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise_formula("-1+2"), "'-1+2");
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("Standard query"), "Standard query");
        let packet = FlaggedPacket {
            no: 7,
            time: 1.5,
            source: "a".into(),
            destination: "b".into(),
            protocol: "DNS".into(),
            length: 80,
            info: "=cmd|' /C calc'!A0".into(),
            by: vec![DetectorId::Kmeans],
            scores: vec![0.25],
            incident: Some(3),
        };
        let csv = flagged_csv(&[DetectorId::Kmeans], [packet]).expect("writes");
        assert!(csv.contains("\"'=cmd|' /C calc'!A0\""), "{csv}");
        assert!(csv.starts_with("\"No.\",\"Time\""), "{csv}");
        assert!(csv.contains("\"kmeans\",3,0.25"), "the incident's rank, then the scores: {csv}");
        assert!(csv.lines().next().is_some_and(|h| h.ends_with("\"kmeans score\"")), "{csv}");
    }
}
