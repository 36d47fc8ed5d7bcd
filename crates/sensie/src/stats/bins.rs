//! Groups of examples for property tests: a metadata column cut into bins.
//!
//! Equal-width bins split [min, max] into k equal parts, the maximum going to
//! the last bin (Sensie's off-by-one left the first bin empty). Quantile bins
//! put edges at the k-quantiles, so bins hold about equal numbers of examples.
//! Either way a bin that ends up empty (a gap in the data, or tied quantiles)
//! is merged into its neighbour, so every bin returned holds examples and the
//! bins still tile [min, max]. Discrete values (few distinct numbers, or text)
//! are one group each. Examples with a missing value are left out.

use std::collections::BTreeMap;

use super::bootstrap::quantile_sorted;
use crate::data::Column;
use crate::{Error, Result, limits};

/// How a metadata column becomes groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binning {
    /// This many bins of equal width between the smallest and largest value.
    EqualWidth(usize),
    /// This many bins holding about as many examples each.
    Quantile(usize),
    /// One group per distinct value (text or numbers).
    Discrete,
    /// Discrete when the column has at most 10 distinct values, else 10
    /// quantile bins: equal-sized groups give every bin the same precision.
    Auto,
}

impl Binning {
    /// `10` (equal width), `q10` (quantile), `discrete` or `auto`.
    pub fn parse(text: &str) -> Result<Self> {
        let count = |digits: &str| {
            limits::parse_count(digits, "bins", limits::MAX_BINS)
                .ok()
                .filter(|&k| k > 0)
        };
        match text {
            "auto" => Ok(Binning::Auto),
            "discrete" => Ok(Binning::Discrete),
            _ => {
                let parsed = match text.strip_prefix('q') {
                    Some(k) => count(k).map(Binning::Quantile),
                    None => count(text).map(Binning::EqualWidth),
                };
                parsed.ok_or_else(|| {
                    Error::invalid(format!("bins '{text}'"), format!("expected a number of equal-width bins (10), quantile bins (q10), from 1 to {}, discrete or auto", limits::MAX_BINS))
                })
            }
        }
    }
}

impl std::fmt::Display for Binning {
    /// The text [`Binning::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Binning::EqualWidth(k) => write!(f, "{k}"),
            Binning::Quantile(k) => write!(f, "q{k}"),
            Binning::Discrete => write!(f, "discrete"),
            Binning::Auto => write!(f, "auto"),
        }
    }
}

/// One group of examples and where it sits on the property's axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// The bin centre (midpoint of [lo, hi]); for text values, the group's index.
    pub value: f64,
    /// The bin's lower edge.
    pub lo: f64,
    /// The bin's upper edge.
    pub hi: f64,
    /// The text value of a discrete text group.
    pub label: Option<String>,
    /// Indices of the examples in the bin.
    pub members: Vec<usize>,
}

const AUTO_DISCRETE_MAX: usize = 10;

/// Groups the examples by a metadata column.
pub fn bin(column: &Column, binning: Binning) -> Result<Vec<Bin>> {
    let values = match column {
        Column::Text(text) => return text_bins(text, binning),
        Column::Numeric(values) => values,
    };
    let present: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    if present.is_empty() {
        return Err(Error::invalid(
            "property",
            "the column has no values to bin",
        ));
    }
    let mut sorted: Vec<f64> = present.iter().map(|p| p.1).collect();
    sorted.sort_by(f64::total_cmp);
    let distinct = sorted.windows(2).filter(|w| w[0] != w[1]).count() + 1;
    let edges = match binning {
        Binning::Discrete => return Ok(discrete(&present)),
        Binning::Auto if distinct <= AUTO_DISCRETE_MAX => return Ok(discrete(&present)),
        Binning::Auto => quantile_edges(&sorted, AUTO_DISCRETE_MAX),
        Binning::Quantile(k) => quantile_edges(&sorted, k),
        Binning::EqualWidth(k) => {
            let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
            (0..=k)
                .map(|j| {
                    let t = j as f64 / k as f64;
                    if j == k {
                        hi
                    } else if (hi - lo).is_finite() {
                        lo + (hi - lo) * t
                    } else {
                        // A range wider than the largest float (-1e308 to
                        // 1e308): weighted ends instead of an infinite width.
                        lo * (1.0 - t) + hi * t
                    }
                })
                .collect()
        }
    };
    Ok(fill(&edges, &present))
}

fn quantile_edges(sorted: &[f64], k: usize) -> Vec<f64> {
    (0..=k)
        .map(|j| quantile_sorted(sorted, j as f64 / k as f64))
        .collect()
}

/// Assigns each value to the bin [e_j, e_(j+1)) (the last bin closed), then
/// merges empty bins into the next non-empty one (or the last into the
/// previous).
fn fill(edges: &[f64], present: &[(usize, f64)]) -> Vec<Bin> {
    let k = edges.len() - 1;
    let interior = &edges[1..k];
    let mut members = vec![Vec::new(); k];
    for &(i, v) in present {
        members[interior.partition_point(|&e| e <= v)].push(i);
    }
    let mut bins: Vec<Bin> = Vec::new();
    let mut pending_lo: Option<f64> = None;
    for (j, m) in members.into_iter().enumerate() {
        if m.is_empty() {
            pending_lo.get_or_insert(edges[j]);
            continue;
        }
        let lo = pending_lo.take().unwrap_or(edges[j]);
        bins.push(Bin {
            value: 0.0,
            lo,
            hi: edges[j + 1],
            label: None,
            members: m,
        });
    }
    if pending_lo.is_some() {
        bins.last_mut().expect("some value is present").hi = edges[k];
    }
    bins.iter_mut().for_each(|b| b.value = (b.lo + b.hi) / 2.0);
    bins
}

fn discrete(present: &[(usize, f64)]) -> Vec<Bin> {
    let mut groups: BTreeMap<u64, (f64, Vec<usize>)> = BTreeMap::new();
    for &(i, v) in present {
        // Order by value: the sign-flipped bit pattern sorts like the float.
        let key = if v.is_sign_negative() {
            !v.to_bits()
        } else {
            v.to_bits() | (1 << 63)
        };
        groups.entry(key).or_insert((v, Vec::new())).1.push(i);
    }
    groups
        .into_values()
        .map(|(v, members)| Bin {
            value: v,
            lo: v,
            hi: v,
            label: None,
            members,
        })
        .collect()
}

/// A text column's groups, one per value: bins that need numbers (`qK`,
/// `K`) are refused, naming a value that is not one, rather than ignored.
fn text_bins(text: &[String], binning: Binning) -> Result<Vec<Bin>> {
    if matches!(binning, Binning::Quantile(_) | Binning::EqualWidth(_)) {
        let word = text
            .iter()
            .find(|t| !t.is_empty() && t.parse::<f64>().is_err())
            .map_or("", String::as_str);
        return Err(Error::invalid(
            "property",
            format!(
                "{binning} bins need numbers, but the column holds text ('{word}'); group it by its values (=discrete) or fix the column"
            ),
        ));
    }
    Ok(text_groups(text))
}

fn text_groups(text: &[String]) -> Vec<Bin> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, t) in text.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
        groups.entry(t).or_default().push(i);
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(j, (label, members))| Bin {
            value: j as f64,
            lo: j as f64,
            hi: j as f64,
            label: Some(label.to_string()),
            members,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(values: &[f64]) -> Column {
        Column::Numeric(values.iter().map(|&v| Some(v)).collect())
    }

    #[test]
    fn bins_that_need_numbers_refuse_text_and_span_the_whole_float_range() {
        let text = Column::Text(vec!["lens".into(), "3.5".into(), "ring".into()]);
        for binning in [Binning::Quantile(4), Binning::EqualWidth(5)] {
            let err = bin(&text, binning).unwrap_err().to_string();
            assert!(
                err.contains("need numbers") && err.contains("'lens'"),
                "{err}"
            );
        }
        assert_eq!(bin(&text, Binning::Discrete).unwrap().len(), 3);
        // -1e308 to 1e308 is wider than the largest float: two halves, not
        // every example in one group.
        let bins = bin(
            &numeric(&[-1e308, -1e307, 1e307, 1e308]),
            Binning::EqualWidth(2),
        )
        .unwrap();
        assert_eq!(sizes(&bins), [2, 2]);
        assert_eq!(bins[0].hi, 0.0);
    }

    fn sizes(bins: &[Bin]) -> Vec<usize> {
        bins.iter().map(|b| b.members.len()).collect()
    }

    #[test]
    fn equal_width_bins_put_the_minimum_in_the_first_and_the_maximum_in_the_last() {
        // Sensie's off-by-one left the first bin empty; here 0 is in bin 0.
        let bins = bin(
            &numeric(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]),
            Binning::EqualWidth(5),
        )
        .unwrap();
        assert_eq!(sizes(&bins), vec![2, 2, 2, 2, 3]);
        assert_eq!(bins[0].members, vec![0, 1]);
        assert_eq!((bins[0].lo, bins[0].hi, bins[0].value), (0.0, 2.0, 1.0));
        assert_eq!(bins[4].hi, 10.0);
    }

    #[test]
    fn empty_bins_are_merged_so_every_bin_has_members() {
        // A gap between 1 and 9: the middle bins would be empty.
        let bins = bin(
            &numeric(&[0.0, 0.5, 1.0, 9.0, 10.0]),
            Binning::EqualWidth(5),
        )
        .unwrap();
        assert!(bins.iter().all(|b| !b.members.is_empty()));
        assert_eq!(sizes(&bins), vec![3, 2]);
        // The bins still tile [0, 10] without gaps: the empty [2, 8) joined [8, 10].
        assert_eq!((bins[0].lo, bins[1].lo, bins[1].hi), (0.0, 2.0, 10.0));
        assert!(bins.windows(2).all(|w| w[0].hi == w[1].lo));
        let tied = bin(
            &numeric(&[1.0, 1.0, 1.0, 1.0, 2.0, 3.0]),
            Binning::Quantile(4),
        )
        .unwrap();
        assert!(tied.iter().all(|b| !b.members.is_empty()));
        assert_eq!(tied.iter().map(|b| b.members.len()).sum::<usize>(), 6);
    }

    #[test]
    fn quantile_bins_hold_equal_counts_and_missing_values_are_left_out() {
        let mut values: Vec<Option<f64>> = (0..12).map(|i| Some((i * i) as f64)).collect();
        values.push(None);
        let bins = bin(&Column::Numeric(values), Binning::Quantile(3)).unwrap();
        assert_eq!(sizes(&bins), vec![4, 4, 4]);
        let constant = bin(&numeric(&[2.0, 2.0]), Binning::EqualWidth(4)).unwrap();
        assert_eq!(sizes(&constant), vec![2]);
    }

    #[test]
    fn discrete_and_text_values_are_one_group_each() {
        let bins = bin(&numeric(&[3.0, -1.0, 3.0, 0.5]), Binning::Auto).unwrap();
        assert_eq!(
            bins.iter().map(|b| b.value).collect::<Vec<_>>(),
            vec![-1.0, 0.5, 3.0]
        );
        assert_eq!(bins[2].members, vec![0, 2]);
        let text = bin(
            &Column::Text(vec!["b".into(), "a".into(), "b".into()]),
            Binning::Auto,
        )
        .unwrap();
        assert_eq!(text[0].label.as_deref(), Some("a"));
        assert_eq!(text[1].members, vec![0, 2]);
        assert_eq!(Binning::parse("q5").unwrap(), Binning::Quantile(5));
        assert!(Binning::parse("q0").is_err() && Binning::parse("five").is_err());
        for text in ["7", "q3", "discrete", "auto"] {
            assert_eq!(Binning::parse(text).unwrap().to_string(), text);
        }
    }
}
