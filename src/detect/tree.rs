//! The binary decision trees of the isolation forest and the random forest: nodes in one
//! vector, grown depth first (a split's place is taken before its children and filled in once
//! they are placed), walked from the root with `row[feature] <= threshold` going left, and a
//! forest's score as the mean of its trees' leaf values. The two detectors differ only in how
//! they choose splits and what a leaf holds (a path length, a class probability).

use super::Scores;
use crate::features::{Matrix, distinct_rows};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    Split { feature: usize, threshold: f64, left: usize, right: usize },
    Leaf(f64),
}

/// One tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Adds a leaf holding `value`; returns its index.
    pub(crate) fn leaf(&mut self, value: f64) -> usize {
        self.nodes.push(Node::Leaf(value));
        self.nodes.len() - 1
    }

    /// Takes the place of a split whose children are grown next; [`Tree::split`] fills it in.
    pub(crate) fn reserve(&mut self) -> usize {
        self.leaf(f64::NAN)
    }

    /// Fills in the split reserved at `at`.
    pub(crate) fn split(&mut self, at: usize, feature: usize, threshold: f64, left: usize, right: usize) {
        self.nodes[at] = Node::Split { feature, threshold, left, right };
    }

    /// The value of the leaf `row` falls in.
    pub(crate) fn value(&self, row: &[f32]) -> f64 {
        let mut n = 0;
        loop {
            match self.nodes[n] {
                Node::Leaf(v) => return v,
                Node::Split { feature, threshold, left, right } => {
                    n = if f64::from(row[feature]) <= threshold { left } else { right };
                }
            }
        }
    }
}

/// Per row, `then` of the mean leaf value over `trees` (summed in tree order). Rows with equal
/// values get equal scores: each distinct row is walked once.
pub(crate) fn mean_value(trees: &[Tree], data: &Matrix<f32>, then: impl Fn(f64) -> f64) -> Scores {
    let (distinct, of_row) = distinct_rows(data);
    let per: Vec<f64> = (0..distinct.rows)
        .map(|i| {
            let row = distinct.row(i);
            then(trees.iter().map(|t| t.value(row)).sum::<f64>() / trees.len() as f64)
        })
        .collect();
    of_row.iter().map(|&d| per[d as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_left_at_or_below_the_threshold() {
        // x0 <= 1.5 → 10; else x1 <= 0 → 20, else 30.
        let mut t = Tree::default();
        let root = t.reserve();
        let left = t.leaf(10.0);
        let inner = t.reserve();
        let a = t.leaf(20.0);
        let b = t.leaf(30.0);
        t.split(inner, 1, 0.0, a, b);
        t.split(root, 0, 1.5, left, inner);
        assert_eq!(t.value(&[1.5, 9.0]), 10.0);
        assert_eq!(t.value(&[2.0, 0.0]), 20.0);
        assert_eq!(t.value(&[2.0, 0.5]), 30.0);
        let m = Matrix { rows: 3, cols: 2, data: vec![1.0, 0.0, 2.0, 1.0, 1.0, 0.0] };
        let mut one = Tree::default();
        one.leaf(2.0);
        assert_eq!(mean_value(&[t, one], &m, |v| -v), vec![-6.0, -16.0, -6.0]);
    }
}
