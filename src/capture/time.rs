//! The Time column: Wireshark's relative seconds (`14.285033`), seconds since the epoch, or a
//! "Date and Time of Day" (`2026-11-24 00:09:22.764214`) / "Time of Day" (`00:09:22.764214`)
//! column, which is turned into seconds since the first row.

use chrono::{NaiveDateTime, NaiveTime};

/// Decides the column's form on the first row, then holds every row to it.
#[derive(Debug, Default)]
pub struct TimeParser {
    mode: Mode,
    origin: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
enum Mode {
    #[default]
    Undecided,
    Seconds,
    DateTime(NaiveDateTime),
    TimeOfDay(NaiveTime),
}

const DATE_TIME_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"];

fn parse_date_time(text: &str) -> Option<NaiveDateTime> {
    DATE_TIME_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok()
}

fn seconds_between(later: NaiveDateTime, earlier: NaiveDateTime) -> f64 {
    let d = later - earlier;
    d.num_seconds() as f64 + f64::from(d.subsec_nanos()) * 1e-9
}

impl TimeParser {
    /// Seconds for one row, or what a valid value would have been.
    pub fn parse(&mut self, text: &str) -> Result<f64, &'static str> {
        match self.mode {
            Mode::Undecided => {
                if let Some(v) = parse_seconds(text) {
                    self.mode = Mode::Seconds;
                    Ok(v)
                } else if let Some(dt) = parse_date_time(text) {
                    self.mode = Mode::DateTime(dt);
                    self.origin = Some(text.to_string());
                    Ok(0.0)
                } else if let Some(t) = parse_time_of_day(text) {
                    self.mode = Mode::TimeOfDay(t);
                    self.origin = Some(text.to_string());
                    Ok(0.0)
                } else {
                    Err("a time (seconds, or a date and time such as 2026-11-24 00:09:22.764214)")
                }
            }
            Mode::Seconds => parse_seconds(text).ok_or("a time in seconds"),
            Mode::DateTime(origin) => parse_date_time(text)
                .map(|dt| seconds_between(dt, origin))
                .ok_or("a date and time like the first row's"),
            Mode::TimeOfDay(origin) => parse_time_of_day(text)
                .map(|t| {
                    let s = (t - origin).num_microseconds().unwrap_or(0) as f64 * 1e-6;
                    // A capture that runs past midnight wraps to the next day.
                    if s < -43_200.0 { s + 86_400.0 } else { s }
                })
                .ok_or("a time of day like the first row's"),
        }
    }

    pub fn is_absolute(&self) -> bool {
        matches!(self.mode, Mode::DateTime(_) | Mode::TimeOfDay(_))
    }

    /// The first row's date-time as written, for absolute columns.
    pub fn origin_text(&self) -> Option<String> {
        self.origin.clone()
    }
}

fn parse_seconds(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_seconds() {
        let mut p = TimeParser::default();
        assert_eq!(p.parse("14.285033"), Ok(14.285033));
        assert!(!p.is_absolute());
        assert!(p.parse("2026-11-24 00:00:00").is_err());
    }

    #[test]
    fn date_time_becomes_seconds_since_first_row() {
        let mut p = TimeParser::default();
        assert_eq!(p.parse("2026-11-24 00:09:22.764214"), Ok(0.0));
        let t = p.parse("2026-11-24 00:09:23.000000").expect("parses");
        assert!((t - 0.235786).abs() < 1e-9, "{t}");
        assert!(p.is_absolute());
        assert_eq!(p.origin_text().as_deref(), Some("2026-11-24 00:09:22.764214"));
        assert!(p.parse("12.5").is_err());
    }

    #[test]
    fn time_of_day_wraps_at_midnight() {
        let mut p = TimeParser::default();
        assert_eq!(p.parse("23:59:59.5"), Ok(0.0));
        let t = p.parse("00:00:00.5").expect("parses");
        assert!((t - 1.0).abs() < 1e-9, "{t}");
    }

    #[test]
    fn nan_is_not_a_time() {
        let mut p = TimeParser::default();
        assert!(p.parse("NaN").is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use chrono::{DateTime, Duration};
    use proptest::prelude::*;

    use super::TimeParser;

    proptest! {
        /// Relative seconds as Wireshark writes them (microseconds) read back to within half a
        /// microsecond.
        #[test]
        fn relative_seconds_read_back(s in 0.0f64..1e9) {
            let mut p = TimeParser::default();
            let text = format!("{s:.6}");
            let t = p.parse(&text).expect("seconds parse");
            prop_assert!((t - s).abs() <= 5e-7 + s * 1e-15, "{} read as {}", text, t);
        }

        /// Date-times become seconds since the first row, to the microsecond, whatever the
        /// order of the rows.
        #[test]
        fn date_times_become_offsets_from_the_first_row(
            origin in 0i64..4_000_000_000,
            offsets in prop::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 1..20),
        ) {
            let t0 = DateTime::from_timestamp(origin, 0).expect("in range").naive_utc();
            let mut p = TimeParser::default();
            prop_assert_eq!(p.parse(&t0.format("%Y-%m-%d %H:%M:%S%.6f").to_string()), Ok(0.0));
            for us in offsets {
                let t = t0 + Duration::microseconds(us);
                let got = p.parse(&t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()).expect("same form");
                prop_assert!((got - us as f64 * 1e-6).abs() < 1e-6, "{} µs read as {} s", us, got);
            }
        }

        /// A time-of-day column that passes midnight keeps counting up (captures shorter than
        /// half a day).
        #[test]
        fn time_of_day_counts_through_midnight(start_ms in 0u32..86_400_000, delta_ms in 0u32..43_200_000) {
            let text = |ms: u32| {
                let ms = ms % 86_400_000;
                format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
            };
            let mut p = TimeParser::default();
            prop_assert_eq!(p.parse(&text(start_ms)), Ok(0.0));
            let got = p.parse(&text(start_ms + delta_ms)).expect("same form");
            prop_assert!((got - f64::from(delta_ms) / 1000.0).abs() < 1e-6, "{} ms read as {} s", delta_ms, got);
        }

        /// Any text either fails with a reason or gives a finite time.
        #[test]
        fn any_text_is_a_finite_time_or_an_error(first in "\\PC{0,30}", second in "\\PC{0,30}") {
            let mut p = TimeParser::default();
            for text in [first, second] {
                if let Ok(t) = p.parse(&text) {
                    prop_assert!(t.is_finite(), "{:?} read as {}", text, t);
                }
            }
        }
    }
}
