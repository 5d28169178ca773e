//! Axes of values and their expansion into points.
//!
//! The points are the cartesian product of the axes in spec order (the first axis varies
//! slowest), with the replicate seeds innermost. A point's id is its index in that order, so
//! the same spec always gives the same ids.

use serde::{Deserialize, Serialize};
use serde_norway::{Number, Value};

use super::spec::{RawAxis, RawParameter, RawRange};

/// Most points one sweep may expand to (every point's scenario is held in memory; a typo such
/// as `steps: 100000` fails fast).
pub const MAX_POINTS: usize = 100_000;

/// How a range spaces its values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeScale {
    /// Equal differences.
    #[default]
    Linear,
    /// Equal ratios.
    Log,
}

/// One axis of the grid: one path, or several zipped paths, and their values step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The paths (more than one for a zip).
    pub paths: Vec<String>,
    /// `steps[i][j]` is the value of `paths[j]` at step `i`.
    pub steps: Vec<Vec<Value>>,
}

/// One point of the sweep, before its scenario is built.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Index in expansion order.
    pub id: u64,
    /// `(path, value)` for every parameter, in column order.
    pub parameters: Vec<(String, Value)>,
    /// The replicate seed, when the spec gives `seeds`.
    pub seed: Option<u64>,
}

impl Axis {
    /// Checks and expands one `parameters[i]` entry; `at` names it in errors.
    pub fn from_raw(raw: &RawAxis, at: &str) -> Result<Axis, String> {
        match (&raw.zip, &raw.path) {
            (Some(_), Some(_)) => Err(format!("{at}: give `path` or `zip`, not both")),
            (None, None) => Err(format!(
                "{at}: give a `path` with `values` or `range`, or a `zip` of them"
            )),
            (Some(members), None) => {
                if raw.values.is_some() || raw.range.is_some() {
                    return Err(format!(
                        "{at}: `values` and `range` go inside each member of the zip"
                    ));
                }
                if members.is_empty() {
                    return Err(format!("{at}: the zip is empty"));
                }
                let mut columns = Vec::with_capacity(members.len());
                for m in members {
                    columns.push(parameter_values(m, at)?);
                }
                let len = columns[0].len();
                if let Some((m, c)) = members.iter().zip(&columns).find(|(_, c)| c.len() != len) {
                    return Err(format!(
                        "{at}: zipped lists differ in length: `{}` has {len} values, `{}` has {}",
                        members[0].path,
                        m.path,
                        c.len()
                    ));
                }
                let steps = (0..len)
                    .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                    .collect();
                Ok(Axis {
                    paths: members.iter().map(|m| m.path.clone()).collect(),
                    steps,
                })
            }
            (None, Some(path)) => {
                let p = RawParameter {
                    path: path.clone(),
                    values: raw.values.clone(),
                    range: raw.range.clone(),
                };
                let values = parameter_values(&p, at)?;
                Ok(Axis {
                    paths: vec![path.clone()],
                    steps: values.into_iter().map(|v| vec![v]).collect(),
                })
            }
        }
    }
}

fn parameter_values(p: &RawParameter, at: &str) -> Result<Vec<Value>, String> {
    let at = format!("{at} (`{}`)", p.path);
    match (&p.values, &p.range) {
        (Some(_), Some(_)) => Err(format!("{at}: give `values` or `range`, not both")),
        (None, None) => Err(format!("{at}: give `values` or `range`")),
        (Some(v), None) if v.is_empty() => Err(format!("{at}: `values` is empty")),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(r)) => range_values(r).map_err(|m| format!("{at}: range: {m}")),
    }
}

/// The values of a range, rounded to 12 significant digits (so that values print cleanly and do
/// not depend on the last bit of the platform's `powf`), or to integers with `round`.
pub fn range_values(r: &RawRange) -> Result<Vec<Value>, String> {
    if !(r.from.is_finite() && r.to.is_finite()) {
        return Err(format!(
            "`from` and `to` must be finite, got {} and {}",
            r.from, r.to
        ));
    }
    if r.steps == 0 {
        return Err("`steps` must be at least 1, got 0".into());
    }
    if r.steps as usize > MAX_POINTS {
        return Err(format!(
            "`steps` {} is above the {MAX_POINTS} points a sweep may have",
            r.steps
        ));
    }
    if r.steps == 1 && r.from != r.to {
        return Err(format!(
            "`steps: 1` cannot include both ends {} and {}; give `steps: 2` or more, or `values: [{}]`",
            r.from, r.to, r.from
        ));
    }
    if r.scale == RangeScale::Log && !(r.from > 0.0 && r.to > 0.0) {
        return Err(format!(
            "a log range needs positive `from` and `to`, got {} and {}",
            r.from, r.to
        ));
    }
    let last = f64::from(r.steps - 1);
    let xs: Vec<f64> = (0..r.steps)
        .map(|i| {
            let t = if last == 0.0 {
                0.0
            } else {
                f64::from(i) / last
            };
            let x = match r.scale {
                RangeScale::Linear => r.from + (r.to - r.from) * t,
                RangeScale::Log => r.from * (r.to / r.from).powf(t),
            };
            let x = if i == 0 {
                r.from
            } else if i + 1 == r.steps {
                r.to
            } else {
                x
            };
            format!("{x:.11e}")
                .parse::<f64>()
                .expect("a formatted float parses")
        })
        .collect();
    if !r.round {
        return Ok(xs
            .into_iter()
            .map(|x| Value::Number(Number::from(x)))
            .collect());
    }
    let ints: Vec<i64> = xs.iter().map(|x| x.round() as i64).collect();
    if let Some(w) = ints.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "rounding gives {} twice ({ints:?}); use fewer steps",
            w[0]
        ));
    }
    Ok(ints
        .into_iter()
        .map(|x| Value::Number(Number::from(x)))
        .collect())
}

/// The cartesian product of the axes (first slowest) times the seeds (innermost).
pub fn expand(axes: &[Axis], seeds: Option<&[u64]>) -> Result<Vec<Point>, String> {
    let per_seed = seeds.map_or(1, <[u64]>::len);
    let total = axes
        .iter()
        .try_fold(per_seed, |n, a| n.checked_mul(a.steps.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| format!("the sweep expands to more than {MAX_POINTS} points"))?;
    let mut points = Vec::with_capacity(total);
    let mut index = vec![0usize; axes.len()];
    for id in 0..total {
        // Mixed-radix digits of id / per_seed, last axis fastest.
        let mut rest = id / per_seed;
        for (k, a) in axes.iter().enumerate().rev() {
            index[k] = rest % a.steps.len();
            rest /= a.steps.len();
        }
        let parameters = axes
            .iter()
            .zip(&index)
            .flat_map(|(a, &i)| a.paths.iter().cloned().zip(a.steps[i].iter().cloned()))
            .collect();
        points.push(Point {
            id: id as u64,
            parameters,
            seed: seeds.map(|s| s[id % per_seed]),
        });
    }
    Ok(points)
}

/// A value as one line of text: strings as they are, everything else as compact JSON
/// (`round-robin`, `16`, `0.5`, `null`, `{"kind":"kv-cost"}`).
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: f64, to: f64, steps: u32, scale: RangeScale, round: bool) -> RawRange {
        RawRange {
            from,
            to,
            steps,
            scale,
            round,
        }
    }

    fn floats(vs: &[Value]) -> Vec<f64> {
        vs.iter().map(|v| v.as_f64().unwrap()).collect()
    }

    #[test]
    fn linear_and_log_ranges_hit_both_ends() {
        let lin = range_values(&range(0.1, 0.7, 7, RangeScale::Linear, false)).unwrap();
        // 0.1 + 0.6 x 2/6 is 0.30000000000000004 in binary; 12 significant digits give 0.3.
        assert_eq!(floats(&lin), vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
        let log = range_values(&range(1.0, 1000.0, 4, RangeScale::Log, false)).unwrap();
        assert_eq!(floats(&log), vec![1.0, 10.0, 100.0, 1000.0]);
        let one = range_values(&range(3.0, 3.0, 1, RangeScale::Linear, false)).unwrap();
        assert_eq!(floats(&one), vec![3.0]);
    }

    #[test]
    fn one_step_between_two_ends_is_refused_not_silently_dropping_to() {
        let err = range_values(&range(1.0, 2.0, 1, RangeScale::Linear, false)).unwrap_err();
        assert!(err.contains("steps: 1") && err.contains('2'), "{err}");
    }

    #[test]
    fn a_billion_steps_is_refused_before_any_value_is_built() {
        let err =
            range_values(&range(1.0, 2.0, 1_000_000_000, RangeScale::Linear, false)).unwrap_err();
        assert!(
            err.contains("1000000000") && err.contains("100000"),
            "{err}"
        );
    }

    #[test]
    fn rounded_ranges_are_integers_without_repeats() {
        let v = range_values(&range(1.0, 16.0, 5, RangeScale::Log, true)).unwrap();
        assert_eq!(v, [1, 2, 4, 8, 16].map(|i: i64| Value::from(i)).to_vec());
        assert!(range_values(&range(1.0, 3.0, 5, RangeScale::Linear, true)).is_err());
        assert!(range_values(&range(0.0, 3.0, 3, RangeScale::Log, false)).is_err());
        assert!(range_values(&range(0.0, 3.0, 0, RangeScale::Linear, false)).is_err());
    }

    fn axis(paths: &[&str], steps: &[&[i64]]) -> Axis {
        Axis {
            paths: paths.iter().map(|p| (*p).to_string()).collect(),
            steps: steps
                .iter()
                .map(|s| s.iter().map(|&v| Value::from(v)).collect())
                .collect(),
        }
    }

    #[test]
    fn grid_order_is_first_axis_slowest_then_seeds() {
        let axes = [
            axis(&["a"], &[&[1], &[2]]),
            axis(&["b", "c"], &[&[10, 20], &[30, 40]]),
        ];
        let points = expand(&axes, Some(&[7, 8])).unwrap();
        assert_eq!(points.len(), 8);
        let row = |p: &Point| {
            (
                p.parameters
                    .iter()
                    .map(|(_, v)| v.as_i64().unwrap())
                    .collect::<Vec<_>>(),
                p.seed,
            )
        };
        assert_eq!(row(&points[0]), (vec![1, 10, 20], Some(7)));
        assert_eq!(row(&points[1]), (vec![1, 10, 20], Some(8)));
        assert_eq!(row(&points[2]), (vec![1, 30, 40], Some(7)));
        assert_eq!(row(&points[7]), (vec![2, 30, 40], Some(8)));
        assert!(points.iter().enumerate().all(|(i, p)| p.id == i as u64));
        assert_eq!(points[0].parameters[1].0, "b");
    }

    #[test]
    fn no_axes_is_one_point_per_seed() {
        assert_eq!(expand(&[], None).unwrap().len(), 1);
        assert_eq!(expand(&[], Some(&[1, 2, 3])).unwrap().len(), 3);
    }

    #[test]
    fn too_many_points_fail() {
        let big = Axis {
            paths: vec!["a".into()],
            steps: vec![vec![Value::Null]; 1001],
        };
        assert!(expand(&[big.clone(), big], None).is_err());
    }
}
