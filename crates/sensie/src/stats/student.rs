//! Student's t critical values, for the naive OLS slope intervals: the
//! textbook interval of a slope fitted to n points is b ± t(n - 2) se, and
//! with few points (5 examples at 3 levels: 13 degrees of freedom, t = 2.16)
//! the normal's 1.96 would make it too narrow by several percent or more.

/// Above this many degrees of freedom the Cornish-Fisher expansion is used:
/// its first omitted term is below 1e-12 there, while the exact series
/// below needs a term per two degrees of freedom.
const EXPANSION_FROM: u64 = 200;

/// The two-sided critical value: |T| <= t with probability `level` (0.95
/// gives scipy's `t.ppf(0.975, df)`). `z` is the standard normal's value
/// for the same level (1.96 for 0.95), which the expansion starts from.
pub(super) fn critical(level: f64, z: f64, df: u64) -> f64 {
    if df > EXPANSION_FROM {
        return cornish_fisher(z, df as f64);
    }
    // Bisection on the exact central probability, which rises with t.
    let (mut lo, mut hi) = (0.0, z);
    while central_probability(hi, df) < level {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if central_probability(mid, df) < level {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// P(|T| <= t) for Student's t with `df` (>= 1) degrees of freedom, the
/// finite series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even).
fn central_probability(t: f64, df: u64) -> f64 {
    let theta = (t / (df as f64).sqrt()).atan();
    let (sin, cos) = theta.sin_cos();
    let c2 = cos * cos;
    // 1 + a_1 cos^2 + a_2 cos^4 + ... up to cos^(df - 2) (odd df: times
    // cos, from cos^1), each coefficient the last times (k - 1) / k.
    let series = |first: u64| {
        let (mut term, mut sum) = (1.0, 1.0);
        for k in (first..df.saturating_sub(1)).step_by(2) {
            term *= (k - 1) as f64 / k as f64 * c2;
            sum += term;
        }
        sum
    };
    if df % 2 == 1 {
        let tail = if df > 1 { sin * cos * series(3) } else { 0.0 };
        2.0 / std::f64::consts::PI * (theta + tail)
    } else {
        sin * series(2)
    }
}

/// Student's t quantile from the normal's `z` (Cornish-Fisher, Abramowitz
/// & Stegun 26.7.5, to the fourth power of 1 / df).
fn cornish_fisher(z: f64, df: f64) -> f64 {
    let z2 = z * z;
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    z + g1 / df + g2 / df.powi(2) + g3 / df.powi(3) + g4 / df.powi(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z95: f64 = 1.959_963_984_540_054;
    const Z50: f64 = 0.674_489_750_196_081_7;

    #[test]
    fn critical_values_match_scipy() {
        // scipy.stats.t.ppf(0.975, df) and t.ppf(0.75, df), scipy 1.17.
        let cases = [
            (1, 12.706204736174694, 1.0000000000000002),
            (2, 4.302652729749462, 0.8164965809277261),
            (3, 3.1824463052837078, 0.7648923284043444),
            (13, 2.1603686564627913, 0.6938293042354406),
            (58, 2.0017174841452356, 0.6787432640207509),
            (200, 1.9718962236339088, 0.6757184114042201),
            (201, 1.971836506779859, 0.6757122888309558),
            (283, 1.968381923432295, 0.6753576503469605),
            (18998, 1.960088861885331, 0.674502664140195),
        ];
        for (df, t95, t50) in cases {
            let got95 = critical(0.95, Z95, df);
            let got50 = critical(0.5, Z50, df);
            assert!(
                (got95 - t95).abs() < 1e-9 * t95,
                "df {df}: {got95} vs {t95}"
            );
            assert!(
                (got50 - t50).abs() < 1e-9 * t50,
                "df {df}: {got50} vs {t50}"
            );
        }
    }
}
