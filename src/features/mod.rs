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

pub use seed::*;

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
}
