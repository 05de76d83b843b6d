//! The seed notebook's feature matrices: [`SeedFeatures`] is fitted on one capture
//! (vocabulary and scalers, scikit-learn's `LabelEncoder`, `MinMaxScaler` and `StandardScaler`
//! semantics) and builds the autoencoder's, the forests' and k-means's inputs for any capture.

use serde::{Deserialize, Serialize};

use super::Matrix;
use crate::capture::Capture;

/// scikit-learn's `MinMaxScaler` for one column: `(v − min) / (max − min)`, and `v − min` when
/// the fitted column is constant (its range counts as 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MinMax {
    pub min: f64,
    pub max: f64,
}

impl MinMax {
    fn fit(values: impl Iterator<Item = f64>) -> MinMax {
        let (min, max) =
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        MinMax { min, max }
    }

    pub fn apply(&self, v: f64) -> f64 {
        let range = self.max - self.min;
        if range > 0.0 { (v - self.min) / range } else { v - self.min }
    }
}

/// scikit-learn's `StandardScaler` for one column: `(v − mean) / sd` with the population
/// standard deviation; a constant column is centred and left unscaled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standard {
    pub mean: f64,
    pub scale: f64,
}

impl Standard {
    fn fit(values: &[f64]) -> Standard {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        Standard { mean, scale: if sd > 0.0 { sd } else { 1.0 } }
    }

    pub fn apply(&self, v: f64) -> f64 {
        (v - self.mean) / self.scale
    }
}

/// What the seed's three matrices learn from one capture, so that the same columns can be
/// built for any capture: the protocol vocabulary in sorted (code point) order, as
/// `pandas.get_dummies` and scikit-learn's `LabelEncoder` order it; the min-max scaling of
/// each one-hot column and of Length (the autoencoder); the standard scaling of No., Time and
/// Length (k-means). Plain data (serde). Fitted and applied to the same capture, it builds
/// exactly the notebook's matrices.
///
/// A protocol the fitted capture did not have gets no one-hot column (all its columns read
/// as absent, scikit-learn's `handle_unknown="ignore"`) and the label code one past the
/// vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedFeatures {
    pub protocols: Vec<String>,
    /// One per protocol: its 0/1 column's fitted range (constant when every packet has it).
    pub one_hot: Vec<MinMax>,
    pub length: MinMax,
    /// No., Time, Length.
    pub numeric: [Standard; 3],
}

/// The columns k-means sees, in order.
pub const NUMERIC_COLUMNS: [&str; 3] = ["No.", "Time", "Length"];

impl SeedFeatures {
    /// Fits on `capture`. It must have at least one packet.
    pub fn fit(capture: &Capture) -> SeedFeatures {
        let mut count = vec![0usize; capture.protocols.len()];
        for &p in &capture.protocol {
            count[p as usize] += 1;
        }
        let mut used: Vec<(&String, usize)> =
            capture.protocols.names().iter().zip(count).filter(|(_, c)| *c > 0).collect();
        used.sort();
        let n = capture.len();
        let one_hot =
            used.iter().map(|&(_, c)| MinMax { min: if c == n { 1.0 } else { 0.0 }, max: 1.0 }).collect();
        let column = |f: &dyn Fn(usize) -> f64| (0..n).map(f).collect::<Vec<f64>>();
        SeedFeatures {
            protocols: used.into_iter().map(|(name, _)| name.clone()).collect(),
            one_hot,
            length: MinMax::fit(capture.length.iter().map(|&l| f64::from(l))),
            numeric: [
                Standard::fit(&column(&|i| capture.no[i] as f64)),
                Standard::fit(&column(&|i| capture.time[i])),
                Standard::fit(&column(&|i| f64::from(capture.length[i]))),
            ],
        }
    }

    /// Each packet's protocol code: its index in [`SeedFeatures::protocols`], or one past it.
    pub fn codes(&self, capture: &Capture) -> Vec<u32> {
        let code_of: Vec<u32> = capture
            .protocols
            .names()
            .iter()
            .map(|name| self.protocols.binary_search(name).unwrap_or(self.protocols.len()) as u32)
            .collect();
        capture.protocol.iter().map(|&p| code_of[p as usize]).collect()
    }

    /// The autoencoder's input column names: `Protocol_<name>`…, `Length`.
    pub fn one_hot_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self.protocols.iter().map(|p| format!("Protocol_{p}")).collect();
        columns.push("Length".into());
        columns
    }

    /// The autoencoder's input: one-hot Protocol followed by Length, min-max scaled per column.
    pub fn one_hot_length(&self, capture: &Capture) -> Matrix<f32> {
        let codes = self.codes(capture);
        let d = self.protocols.len() + 1;
        let off: Vec<f32> = self.one_hot.iter().map(|m| m.apply(0.0) as f32).collect();
        let on: Vec<f32> = self.one_hot.iter().map(|m| m.apply(1.0) as f32).collect();
        let mut data = Vec::with_capacity(capture.len() * d);
        for (&code, &len) in codes.iter().zip(&capture.length) {
            data.extend((0..d - 1).map(|c| if c == code as usize { on[c] } else { off[c] }));
            data.push(self.length.apply(f64::from(len)) as f32);
        }
        Matrix { rows: capture.len(), cols: d, data }
    }

    /// The forests' input: the protocol code and Length, as `f32` (scikit-learn's trees work in
    /// `float32`).
    pub fn code_and_length(&self, capture: &Capture) -> Matrix<f32> {
        let codes = self.codes(capture);
        let mut data = Vec::with_capacity(capture.len() * 2);
        for (code, &len) in codes.iter().zip(&capture.length) {
            data.push(*code as f32);
            data.push(len as f32);
        }
        Matrix { rows: capture.len(), cols: 2, data }
    }

    /// k-means's input: every numeric column of the raw table ([`NUMERIC_COLUMNS`]),
    /// standard-scaled.
    pub fn numeric(&self, capture: &Capture) -> Matrix<f64> {
        let [no, time, length] = &self.numeric;
        let mut data = Vec::with_capacity(capture.len() * 3);
        for i in 0..capture.len() {
            data.extend_from_slice(&[
                no.apply(capture.no[i] as f64),
                time.apply(capture.time[i]),
                length.apply(f64::from(capture.length[i])),
            ]);
        }
        Matrix { rows: capture.len(), cols: 3, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::parse;

    fn cap(rows: &str) -> Capture {
        parse(format!("No.,Time,Source,Destination,Protocol,Length,Info\n{rows}").as_bytes()).expect("parses")
    }

    #[test]
    fn one_hot_is_sorted_and_length_is_min_max_scaled() {
        let c = cap("1,0,a,b,TCP,100,x\n2,1,a,b,ARP,60,x\n3,2,a,b,DNS,80,x\n");
        let f = SeedFeatures::fit(&c);
        assert_eq!(f.one_hot_columns(), vec!["Protocol_ARP", "Protocol_DNS", "Protocol_TCP", "Length"]);
        let m = f.one_hot_length(&c);
        assert_eq!(m.row(0), &[0.0, 0.0, 1.0, 1.0]);
        assert_eq!(m.row(1), &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(m.row(2), &[0.0, 1.0, 0.0, 0.5]);
    }

    #[test]
    fn one_protocol_and_constant_length_scale_to_zero() {
        let c = cap("1,0,a,b,TCP,60,x\n2,1,a,b,TCP,60,x\n");
        let f = SeedFeatures::fit(&c);
        assert_eq!(f.one_hot_columns().len(), 2);
        assert!(f.one_hot_length(&c).data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn label_codes_follow_sorted_names() {
        let c = cap("1,0,a,b,TCP,100,x\n2,1,a,b,ARP,60,x\n3,2,a,b,SSHv2,80,x\n4,2,a,b,SSH,80,x\n");
        let f = SeedFeatures::fit(&c);
        assert_eq!(f.protocols, vec!["ARP", "SSH", "SSHv2", "TCP"]);
        assert_eq!(f.codes(&c), vec![3, 0, 2, 1]);
        assert_eq!(f.code_and_length(&c).row(0), &[3.0, 100.0]);
    }

    #[test]
    fn standard_scaler_uses_population_sd_and_keeps_constants_centred() {
        let c = cap("1,5,a,b,TCP,7,x\n2,5,a,b,TCP,7,x\n3,5,a,b,TCP,7,x\n4,5,a,b,TCP,7,x\n");
        let f = SeedFeatures::fit(&c);
        let m = f.numeric(&c);
        let sd = 1.25f64.sqrt();
        assert!((m.data[0] - (-1.5 / sd)).abs() < 1e-12);
        assert_eq!(f.numeric[1], Standard { mean: 5.0, scale: 1.0 });
        assert!(m.data.chunks(3).all(|r| r[1] == 0.0 && r[2] == 0.0));
    }

    #[test]
    fn fitted_on_one_capture_it_builds_another_s_columns() {
        let train = cap("1,0,a,b,TCP,100,x\n2,1,a,b,ARP,60,x\n3,2,a,b,DNS,80,x\n");
        let other = cap("1,0,a,b,QUIC,140,x\n2,4,a,b,DNS,60,x\n");
        let f = SeedFeatures::fit(&train);
        // An unknown protocol has no column and the code past the vocabulary; Length keeps
        // the fitted range, so 140 lies beyond 1.
        let m = f.one_hot_length(&other);
        assert_eq!(m.row(0), &[0.0, 0.0, 0.0, 2.0]);
        assert_eq!(m.row(1), &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(f.codes(&other), vec![3, 1]);
        assert_eq!(f.numeric(&other).row(1)[1], (4.0 - 1.0) / (2.0f64 / 3.0).sqrt());
        // The fitted state reads back from JSON as it was.
        let json = serde_json::to_string(&f).expect("json");
        assert_eq!(serde_json::from_str::<SeedFeatures>(&json).expect("reads"), f);
    }
}
