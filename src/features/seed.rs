//! The seed notebook's feature matrices, built from a [`Capture`], and the scalers it uses
//! (scikit-learn's `MinMaxScaler` and `StandardScaler` semantics).

use super::Matrix;
use crate::capture::Capture;

/// Protocol names in sorted (code point) order, as `pandas.get_dummies` and scikit-learn's
/// `LabelEncoder` order them, and each packet's index into that order.
pub fn protocol_codes(capture: &Capture) -> (Vec<String>, Vec<u32>) {
    let mut used = vec![false; capture.protocols.len()];
    for &p in &capture.protocol {
        used[p as usize] = true;
    }
    let mut names: Vec<(String, u32)> = capture
        .protocols
        .names()
        .iter()
        .enumerate()
        .filter(|(id, _)| used[*id])
        .map(|(id, n)| (n.clone(), id as u32))
        .collect();
    names.sort();
    let mut code_of = vec![0u32; capture.protocols.len()];
    for (code, (_, id)) in names.iter().enumerate() {
        code_of[*id as usize] = code as u32;
    }
    let codes = capture.protocol.iter().map(|&p| code_of[p as usize]).collect();
    (names.into_iter().map(|(n, _)| n).collect(), codes)
}

/// The autoencoder's input: one-hot Protocol (sorted names) followed by Length, min-max scaled
/// per column (a constant column becomes 0, as scikit-learn's `MinMaxScaler`). Returns the
/// matrix and the column names (`Protocol_<name>`…, `Length`).
pub fn one_hot_length_scaled(capture: &Capture) -> (Matrix<f32>, Vec<String>) {
    let (names, codes) = protocol_codes(capture);
    let n = capture.len();
    let d = names.len() + 1;
    let mut data = vec![0f32; n * d];
    // One-hot columns: min-max scaling leaves 0/1 as they are unless the column is constant
    // (every packet the same protocol), where it maps to 0.
    let constant_one_hot = names.len() == 1;
    let (lo, hi) = min_max(capture.length.iter().map(|&l| f64::from(l)));
    let range = hi - lo;
    for i in 0..n {
        let row = &mut data[i * d..(i + 1) * d];
        if !constant_one_hot {
            row[codes[i] as usize] = 1.0;
        }
        row[d - 1] = if range > 0.0 { ((f64::from(capture.length[i]) - lo) / range) as f32 } else { 0.0 };
    }
    let mut columns: Vec<String> = names.iter().map(|p| format!("Protocol_{p}")).collect();
    columns.push("Length".into());
    (Matrix { rows: n, cols: d, data }, columns)
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Standard-scales columns in place (population standard deviation; a constant column is
/// centred and left unscaled, as scikit-learn's `StandardScaler`).
pub fn standard_scale(m: &mut Matrix<f64>) {
    let n = m.rows as f64;
    if m.rows == 0 {
        return;
    }
    for c in 0..m.cols {
        let mean = (0..m.rows).map(|r| m.data[r * m.cols + c]).sum::<f64>() / n;
        let var = (0..m.rows).map(|r| (m.data[r * m.cols + c] - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        let scale = if sd > 0.0 { sd } else { 1.0 };
        for r in 0..m.rows {
            let v = &mut m.data[r * m.cols + c];
            *v = (*v - mean) / scale;
        }
    }
}

/// The seed's k-means input: every numeric column of the raw table (No., Time, Length),
/// standard-scaled.
pub fn numeric_columns_scaled(capture: &Capture) -> Matrix<f64> {
    let n = capture.len();
    let mut data = Vec::with_capacity(n * 3);
    for i in 0..n {
        data.extend_from_slice(&[capture.no[i] as f64, capture.time[i], f64::from(capture.length[i])]);
    }
    let mut m = Matrix { rows: n, cols: 3, data };
    standard_scale(&mut m);
    m
}

/// The forests' input: label-encoded Protocol and Length, as `f32` (scikit-learn's trees
/// work in `float32`).
pub fn protocol_code_and_length(capture: &Capture) -> Matrix<f32> {
    let (_, codes) = protocol_codes(capture);
    let mut data = Vec::with_capacity(capture.len() * 2);
    for (code, &len) in codes.iter().zip(&capture.length) {
        data.push(*code as f32);
        data.push(len as f32);
    }
    Matrix { rows: capture.len(), cols: 2, data }
}

/// Distinct rows of a matrix, with the index of each row's distinct value. Detectors whose
/// score depends only on the row's values score each distinct row once.
pub fn distinct_rows(m: &Matrix<f32>) -> (Matrix<f32>, Vec<u32>) {
    use std::collections::HashMap;
    let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut data = Vec::new();
    let mut of_row = Vec::with_capacity(m.rows);
    for r in 0..m.rows {
        let row = m.row(r);
        let key: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
        let next = index.len() as u32;
        let id = *index.entry(key).or_insert_with(|| {
            data.extend_from_slice(row);
            next
        });
        of_row.push(id);
    }
    (Matrix { rows: index.len(), cols: m.cols, data }, of_row)
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
        let (m, cols) = one_hot_length_scaled(&c);
        assert_eq!(cols, vec!["Protocol_ARP", "Protocol_DNS", "Protocol_TCP", "Length"]);
        assert_eq!(m.row(0), &[0.0, 0.0, 1.0, 1.0]);
        assert_eq!(m.row(1), &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(m.row(2), &[0.0, 1.0, 0.0, 0.5]);
    }

    #[test]
    fn one_protocol_and_constant_length_scale_to_zero() {
        let c = cap("1,0,a,b,TCP,60,x\n2,1,a,b,TCP,60,x\n");
        let (m, cols) = one_hot_length_scaled(&c);
        assert_eq!(cols.len(), 2);
        assert!(m.data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn label_codes_follow_sorted_names() {
        let c = cap("1,0,a,b,TCP,100,x\n2,1,a,b,ARP,60,x\n3,2,a,b,SSHv2,80,x\n4,2,a,b,SSH,80,x\n");
        let (names, codes) = protocol_codes(&c);
        assert_eq!(names, vec!["ARP", "SSH", "SSHv2", "TCP"]);
        assert_eq!(codes, vec![3, 0, 2, 1]);
        let m = protocol_code_and_length(&c);
        assert_eq!(m.row(0), &[3.0, 100.0]);
    }

    #[test]
    fn standard_scaler_uses_population_sd_and_keeps_constants_centred() {
        let mut m = Matrix { rows: 4, cols: 2, data: vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0] };
        standard_scale(&mut m);
        let sd = 1.25f64.sqrt();
        assert!((m.data[0] - (-1.5 / sd)).abs() < 1e-12);
        assert!(m.data.iter().skip(1).step_by(2).all(|&v| v == 0.0));
    }

    #[test]
    fn distinct_rows_map_back() {
        let m = Matrix { rows: 3, cols: 2, data: vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0] };
        let (u, of) = distinct_rows(&m);
        assert_eq!(u.rows, 2);
        assert_eq!(of, vec![0, 1, 0]);
        assert_eq!(u.row(1), &[3.0, 4.0]);
    }
}
