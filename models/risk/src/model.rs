//! The design matrix (encoding and standardisation, frozen on the training
//! set), the two algorithms (linfa's L2 logistic regression and a linfa
//! classification tree with leaf frequencies) and the versioned artefact.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::{Kind, shapes};
use crate::spec::{Algorithm, Spec};

/// How one design column is made from a raw feature column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encode {
    /// The value; a missing value is replaced by `fill` (the training mean).
    Value { fill: f64 },
    /// 1 when the value is missing.
    Missing,
    /// 1 when the value is `level` (the reference level has no column).
    Level { level: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DesignColumn {
    /// Shown to users: `prior_cases`, `unit=bou_soder`, `school_attendance (missing)`.
    pub name: String,
    pub feature: String,
    /// The raw column it is computed from.
    pub source: String,
    pub encode: Encode,
    /// Standardisation: (x - mean) / sd over the training set (sd 1 for a constant column).
    pub mean: f64,
    pub sd: f64,
}

/// The encoding, fitted on the training rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encoding {
    pub columns: Vec<DesignColumn>,
    /// Per categorical feature, the reference level (the most frequent in training).
    pub reference: Vec<(String, String)>,
}

fn f64_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df.column(name)?.cast(&DataType::Float64)?.f64()?.iter().collect())
}

fn str_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df.column(name)?.cast(&DataType::String)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

impl Encoding {
    pub fn fit(spec: &Spec, train: &DataFrame) -> PolarsResult<Encoding> {
        let mut columns = Vec::new();
        let mut reference = Vec::new();
        for shape in shapes(&spec.features, &spec.defined_features) {
            let name = &shape.name;
            for source in &shape.columns {
                match shape.kind {
                    Kind::Categorical => {
                        let values = str_values(train, source)?;
                        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
                        for v in values.iter().flatten() {
                            *counts.entry(v.clone()).or_default() += 1;
                        }
                        // Most frequent level is the reference (ties: the first in order).
                        let Some(max) = counts.values().max().copied() else { continue };
                        let reference_level = counts.iter().find(|(_, n)| **n == max).map(|(l, _)| l.clone()).unwrap();
                        for level in counts.keys().filter(|l| **l != reference_level) {
                            columns.push(DesignColumn {
                                name: format!("{source}={level}"),
                                feature: name.clone(),
                                source: source.to_string(),
                                encode: Encode::Level { level: level.clone() },
                                mean: 0.0,
                                sd: 1.0,
                            });
                        }
                        reference.push((name.clone(), reference_level));
                    }
                    Kind::Numeric { nullable } => {
                        let values = f64_values(train, source)?;
                        let present: Vec<f64> = values.iter().flatten().copied().collect();
                        let fill =
                            if present.is_empty() { 0.0 } else { present.iter().sum::<f64>() / present.len() as f64 };
                        columns.push(DesignColumn {
                            name: source.to_string(),
                            feature: name.clone(),
                            source: source.to_string(),
                            encode: Encode::Value { fill },
                            mean: 0.0,
                            sd: 1.0,
                        });
                        if nullable {
                            columns.push(DesignColumn {
                                name: format!("{source} (missing)"),
                                feature: name.clone(),
                                source: source.to_string(),
                                encode: Encode::Missing,
                                mean: 0.0,
                                sd: 1.0,
                            });
                        }
                    }
                }
            }
        }
        let mut enc = Encoding { columns, reference };
        let raw = enc.raw(train)?;
        for (j, c) in enc.columns.iter_mut().enumerate() {
            let x = raw.column(j);
            let n = x.len() as f64;
            let mean = x.sum() / n;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            c.mean = mean;
            c.sd = if var > 1e-12 { var.sqrt() } else { 1.0 };
        }
        Ok(enc)
    }

    /// The unstandardised design matrix of `df` (rows in `df`'s order).
    pub fn raw(&self, df: &DataFrame) -> PolarsResult<Array2<f64>> {
        let mut x = Array2::zeros((df.height(), self.columns.len()));
        for (j, c) in self.columns.iter().enumerate() {
            match &c.encode {
                Encode::Value { fill } => {
                    for (i, v) in f64_values(df, &c.source)?.into_iter().enumerate() {
                        x[[i, j]] = v.unwrap_or(*fill);
                    }
                }
                Encode::Missing => {
                    for (i, v) in f64_values(df, &c.source)?.into_iter().enumerate() {
                        x[[i, j]] = if v.is_none() { 1.0 } else { 0.0 };
                    }
                }
                Encode::Level { level } => {
                    for (i, v) in str_values(df, &c.source)?.into_iter().enumerate() {
                        x[[i, j]] = if v.as_deref() == Some(level.as_str()) { 1.0 } else { 0.0 };
                    }
                }
            }
        }
        Ok(x)
    }

    /// The standardised design matrix.
    pub fn matrix(&self, df: &DataFrame) -> PolarsResult<Array2<f64>> {
        let mut x = self.raw(df)?;
        for (j, c) in self.columns.iter().enumerate() {
            x.column_mut(j).mapv_inplace(|v| (v - c.mean) / c.sd);
        }
        Ok(x)
    }
}

/// A node of a fitted tree. `feature` indexes the design columns; a row
/// goes left when its standardised value is below `threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub feature: Option<usize>,
    pub threshold: f64,
    pub left: Option<usize>,
    pub right: Option<usize>,
    /// Training rows reaching the node and the Laplace-smoothed share of positives.
    pub n: u64,
    pub p: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Fitted {
    /// P(y) = 1 / (1 + exp(-(intercept + sum coef_j x_j))) over standardised x.
    Logistic { intercept: f64, coefficients: Vec<f64> },
    /// Node 0 is the root.
    Tree { nodes: Vec<Node> },
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("the training set has only one outcome class ({0} rows): nothing to learn")]
    OneClass(usize),
    #[error("logistic regression: {0}")]
    Logistic(String),
    #[error("tree: {0}")]
    Tree(String),
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

impl Fitted {
    pub fn fit(spec: &Spec, x: &Array2<f64>, y: &[bool]) -> Result<Fitted, FitError> {
        let positives = y.iter().filter(|v| **v).count();
        if positives == 0 || positives == y.len() {
            return Err(FitError::OneClass(y.len()));
        }
        match spec.algorithm {
            Algorithm::Logistic => {
                let data = Dataset::new(x.clone(), Array1::from_vec(y.to_vec()));
                let fitted = LogisticRegression::default()
                    .alpha(spec.logistic.alpha)
                    .max_iterations(spec.logistic.max_iterations)
                    .gradient_tolerance(1e-6)
                    .fit(&data)
                    .map_err(|e| FitError::Logistic(e.to_string()))?;
                // linfa models the probability of the more frequent class:
                // turn it into the probability of `true`.
                let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
                Ok(Fitted::Logistic {
                    intercept: sign * fitted.intercept(),
                    coefficients: fitted.params().iter().map(|c| sign * c).collect(),
                })
            }
            Algorithm::Tree => {
                let labels: Array1<usize> = y.iter().map(|v| usize::from(*v)).collect();
                let data = Dataset::new(x.clone(), labels);
                let tree = DecisionTree::params()
                    .split_quality(SplitQuality::Gini)
                    .max_depth(Some(spec.tree.max_depth))
                    // linfa-trees 0.8.1 found no split at all on real data with
                    // min_weight_leaf in the hundreds (observed, issue 6), so the
                    // smallest leaf is enforced by pruning below instead.
                    .min_weight_split(2.0 * spec.tree.min_leaf as f32)
                    .fit(&data)
                    .map_err(|e| FitError::Tree(e.to_string()))?;
                let mut nodes = Vec::new();
                flatten(tree.root_node(), &mut nodes);
                // Leaf frequencies from the training rows.
                let mut counts = vec![(0u64, 0u64); nodes.len()];
                for (i, row) in x.rows().into_iter().enumerate() {
                    for k in path(&nodes, row) {
                        counts[k].0 += 1;
                        counts[k].1 += u64::from(y[i]);
                    }
                }
                for (node, (n, pos)) in nodes.iter_mut().zip(counts) {
                    node.n = n;
                    node.p = (pos as f64 + 1.0) / (n as f64 + 2.0);
                }
                Ok(Fitted::Tree { nodes: prune(&nodes, spec.tree.min_leaf as u64) })
            }
        }
    }

    /// Predicted probability for one standardised row.
    pub fn predict_row(&self, row: ndarray::ArrayView1<f64>) -> f64 {
        match self {
            Fitted::Logistic { intercept, coefficients } => {
                sigmoid(intercept + row.iter().zip(coefficients).map(|(x, c)| x * c).sum::<f64>())
            }
            Fitted::Tree { nodes } => nodes[self.path(row).last().copied().unwrap_or(0)].p,
        }
    }

    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        x.rows().into_iter().map(|r| self.predict_row(r)).collect()
    }

    /// The nodes a row passes through, root first (tree only).
    fn path(&self, row: ndarray::ArrayView1<f64>) -> Vec<usize> {
        match self {
            Fitted::Tree { nodes } => path(nodes, row),
            Fitted::Logistic { .. } => Vec::new(),
        }
    }

    /// Each design column's contribution to one row's score. Logistic: coef
    /// x standardised value, in log-odds against the training average.
    /// Tree: the change in probability at each split on the row's path
    /// (Saabas), summed per column, in probability points.
    pub fn contributions(&self, row: ndarray::ArrayView1<f64>) -> Vec<f64> {
        match self {
            Fitted::Logistic { coefficients, .. } => row.iter().zip(coefficients).map(|(x, c)| x * c).collect(),
            Fitted::Tree { nodes } => {
                let mut out = vec![0.0; row.len()];
                let path = self.path(row);
                for w in path.windows(2) {
                    let f = nodes[w[0]].feature.unwrap();
                    out[f] += nodes[w[1]].p - nodes[w[0]].p;
                }
                out
            }
        }
    }

    pub fn contribution_unit(&self) -> &'static str {
        match self {
            Fitted::Logistic { .. } => "log-odds",
            Fitted::Tree { .. } => "probability points",
        }
    }
}

/// The nodes a row passes through, root first.
fn path(nodes: &[Node], row: ndarray::ArrayView1<f64>) -> Vec<usize> {
    let mut k = 0;
    let mut out = vec![0];
    while let Some(f) = nodes[k].feature {
        k = if row[f] < nodes[k].threshold { nodes[k].left } else { nodes[k].right }.expect("a split has two children");
        out.push(k);
    }
    out
}

/// The tree from the root with every split that leaves a child with fewer
/// than `min_leaf` training rows undone (the node becomes a leaf).
fn prune(nodes: &[Node], min_leaf: u64) -> Vec<Node> {
    fn walk(nodes: &[Node], k: usize, min_leaf: u64, out: &mut Vec<Node>) -> usize {
        let at = out.len();
        let node = &nodes[k];
        out.push(Node { feature: None, threshold: 0.0, left: None, right: None, ..node.clone() });
        if let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right)
            && nodes[l].n >= min_leaf
            && nodes[r].n >= min_leaf
        {
            let left = walk(nodes, l, min_leaf, out);
            let right = walk(nodes, r, min_leaf, out);
            out[at] = Node {
                feature: Some(f),
                threshold: node.threshold,
                left: Some(left),
                right: Some(right),
                ..node.clone()
            };
        }
        at
    }
    let mut out = Vec::new();
    walk(nodes, 0, min_leaf, &mut out);
    out
}

fn flatten(node: &TreeNode<f64, usize>, out: &mut Vec<Node>) -> usize {
    let k = out.len();
    out.push(Node { feature: None, threshold: 0.0, left: None, right: None, n: 0, p: 0.0 });
    let children = node.children();
    if !node.is_leaf()
        && let (Some(l), Some(r)) = (children[0].as_deref(), children[1].as_deref())
    {
        let (f, threshold, _) = node.split();
        let left = flatten(l, out);
        let right = flatten(r, out);
        out[k] = Node { feature: Some(f), threshold, left: Some(left), right: Some(right), n: 0, p: 0.0 };
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Rows from a known logistic model, drawn with a fixed LCG.
    fn data(n: usize, intercept: f64, slope: f64) -> (Array2<f64>, Vec<bool>) {
        let mut state: u64 = 42;
        let mut u = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let a = u() * 4.0 - 2.0;
            let b = u() * 4.0 - 2.0;
            x[[i, 0]] = a;
            x[[i, 1]] = b;
            y.push(u() < sigmoid(intercept + slope * a));
        }
        (x, y)
    }

    fn spec(algorithm: &str) -> Spec {
        Spec::parse(
            &include_str!("../specs/rereferral_12m.toml")
                .replace("algorithm = \"logistic\"", &format!("algorithm = \"{algorithm}\""))
                .replace("alpha = 1.0", "alpha = 0.0")
                .replace("min_leaf = 200", "min_leaf = 50"),
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn logistic_gives_the_probability_of_true_whichever_class_is_larger() {
        // Mostly false (intercept -2) and mostly true (+2): linfa models the
        // larger class; the fitted model must be P(true) in both.
        for intercept in [-2.0, 2.0] {
            let (x, y) = data(20000, intercept, 1.5);
            let Fitted::Logistic { intercept: b0, coefficients } = Fitted::fit(&spec("logistic"), &x, &y).unwrap()
            else {
                panic!()
            };
            assert!((b0 - intercept).abs() < 0.1, "{b0} vs {intercept}");
            assert!((coefficients[0] - 1.5).abs() < 0.1 && coefficients[1].abs() < 0.06, "{coefficients:?}");
        }
    }

    #[test]
    fn tree_leaves_hold_training_frequencies_and_contributions_add_up() {
        let (x, y) = data(5000, 0.0, 2.0);
        let fitted = Fitted::fit(&spec("tree"), &x, &y).unwrap();
        let Fitted::Tree { nodes } = &fitted else { panic!() };
        assert!(nodes.len() > 3);
        // Each leaf's p is (positives + 1) / (n + 2) of the training rows reaching it.
        let mut reach = vec![(0u64, 0u64); nodes.len()];
        for (i, row) in x.rows().into_iter().enumerate() {
            let leaf = *fitted.path(row).last().unwrap();
            reach[leaf].0 += 1;
            reach[leaf].1 += u64::from(y[i]);
            // Saabas: the root's p plus the contributions is the row's p.
            let total: f64 = fitted.contributions(row).iter().sum();
            assert!((nodes[0].p + total - fitted.predict_row(row)).abs() < 1e-12);
        }
        for (k, node) in nodes.iter().enumerate().filter(|(_, n)| n.feature.is_none()) {
            assert_eq!(node.n, reach[k].0);
            assert!((node.p - (reach[k].1 as f64 + 1.0) / (reach[k].0 as f64 + 2.0)).abs() < 1e-12);
            assert!(node.n >= 50, "min_leaf");
        }
        // The splits follow the informative column.
        assert_eq!(nodes[0].feature, Some(0));
    }
}
