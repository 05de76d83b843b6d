//! Detector inputs. `seed` builds the notebook's matrices exactly; `context` builds the
//! default preset's contextual features (per host, pair and time window, fields parsed from
//! Info) in one streaming pass, and `scale` fits the scaling on one capture and applies it to
//! any capture.
//!
//! Matrices are row-major `f32`/`f64` buffers ([`Matrix`]), so they pass to burn, linfa and
//! the hand-written kernels without conversion crates.

pub mod context;
pub mod scale;
mod seed;

use serde::{Deserialize, Serialize};

pub use seed::{MinMax, NUMERIC_COLUMNS, SeedFeatures, Standard};

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<T>,
}

impl<T: Copy> Matrix<T> {
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The matrix of the columns `cols`, in that order.
    pub fn columns(&self, cols: &[usize]) -> Matrix<T> {
        let mut data = Vec::with_capacity(self.rows * cols.len());
        for r in 0..self.rows {
            let row = self.row(r);
            data.extend(cols.iter().map(|&c| row[c]));
        }
        Matrix { rows: self.rows, cols: cols.len(), data }
    }

    /// The matrix of the rows `rows`, in that order.
    pub fn rows(&self, rows: &[usize]) -> Matrix<T> {
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Matrix { rows: rows.len(), cols: self.cols, data }
    }
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

    #[test]
    fn distinct_rows_map_back() {
        let m = Matrix { rows: 3, cols: 2, data: vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0] };
        let (u, of) = distinct_rows(&m);
        assert_eq!(u.rows, 2);
        assert_eq!(of, vec![0, 1, 0]);
        assert_eq!(u.row(1), &[3.0, 4.0]);
    }

    #[test]
    fn columns_and_rows_are_taken_in_the_order_asked() {
        let m = Matrix { rows: 3, cols: 2, data: vec![1, 2, 3, 4, 5, 6] };
        assert_eq!(m.columns(&[1, 0]).data, vec![2, 1, 4, 3, 6, 5]);
        assert_eq!(m.rows(&[2, 0]).data, vec![5, 6, 1, 2]);
    }
}
