//! Every point's scenario, built and validated before anything runs.
//!
//! A point's scenario is the base (with `set`), then its parameters in column order, then its
//! replicate seed, typed and validated exactly as `kvcsim run` would. An error names the
//! parameter whose path it concerns and the value, or the point's values when no single
//! parameter is to blame.

use serde_norway::Value;

use super::SweepError;
use super::expand::{Point, expand, render_value};
use super::resolved::PointRecord;
use super::spec::{SweepSpec, trace_of};
use crate::scenario::{
    Override, Scenario, ScenarioError, WorkloadSource, load_value_with_limits, resolve_trace_path,
};

/// A point with its validated scenario.
#[derive(Debug, Clone)]
pub struct PlannedPoint {
    /// The point.
    pub point: Point,
    /// Its scenario.
    pub scenario: Scenario,
}

impl PlannedPoint {
    /// What `sweep.resolved.yaml` and `summary.parquet` say about this point.
    pub fn record(&self) -> PointRecord {
        PointRecord {
            point_id: self.point.id,
            seed: self.scenario.seed,
            parameters: self
                .point
                .parameters
                .iter()
                .map(|(p, v)| (Value::String(p.clone()), v.clone()))
                .collect(),
        }
    }
}

/// A validated sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The spec.
    pub spec: SweepSpec,
    /// Parameter paths in column order.
    pub parameters: Vec<String>,
    /// Every point, in id order.
    pub points: Vec<PlannedPoint>,
}

impl Plan {
    /// The points' records, in id order.
    pub fn records(&self) -> Vec<PointRecord> {
        self.points.iter().map(PlannedPoint::record).collect()
    }
}

/// Expands the spec and validates every point; the first invalid point is the error.
pub fn plan(spec: SweepSpec) -> Result<Plan, SweepError> {
    let points =
        expand(&spec.axes, spec.seeds.as_deref()).map_err(|m| SweepError::spec(&spec.source, m))?;
    let base_trace = trace_of(&spec.base);
    let mut planned = Vec::with_capacity(points.len());
    for point in points {
        let scenario = point_scenario(&spec, &point, &base_trace)
            .map_err(|e| blame(&spec.source, &point, e))?;
        planned.push(PlannedPoint { point, scenario });
    }
    Ok(Plan {
        parameters: spec.axes.iter().flat_map(|a| a.paths.clone()).collect(),
        spec,
        points: planned,
    })
}

fn point_scenario(
    spec: &SweepSpec,
    point: &Point,
    base_trace: &Option<Value>,
) -> Result<Scenario, ScenarioError> {
    let mut value = spec.base.clone();
    for (path, v) in &point.parameters {
        Override {
            path: path.clone(),
            value: v.clone(),
        }
        .apply(&mut value)?;
    }
    if let Some(seed) = point.seed {
        Override {
            path: "seed".into(),
            value: Value::from(seed),
        }
        .apply(&mut value)?;
    }
    // A trace named by a parameter is relative to the spec's folder.
    if trace_of(&value) != *base_trace {
        resolve_trace_path(&mut value, &spec.dir);
    }
    let origin = "its scenario".to_string();
    let scenario = load_value_with_limits(value, &origin, spec.limits)?;
    if let WorkloadSource::Trace { path, .. } = &scenario.workload.source
        && !path.is_file()
    {
        return Err(ScenarioError::Field {
            origin,
            path: "workload.trace".into(),
            message: format!("no such file: {}", path.display()),
        });
    }
    Ok(scenario)
}

/// Wraps a point's error, naming the parameter whose path it concerns (the longest match).
fn blame(spec: &str, point: &Point, err: ScenarioError) -> SweepError {
    let field = match &err {
        ScenarioError::Field { path, .. } => Some(path.replace('[', ".").replace(']', "")),
        ScenarioError::BadOverride { text, .. } => text.split('=').next().map(str::to_string),
        _ => None,
    };
    let related = |param: &str, field: &str| {
        param == field
            || param.starts_with(&format!("{field}."))
            || field.starts_with(&format!("{param}."))
    };
    let culprit = field.and_then(|f| {
        point
            .parameters
            .iter()
            .filter(|(p, _)| related(p, &f))
            .max_by_key(|(p, _)| p.len())
    });
    match culprit {
        Some((path, value)) => SweepError::Parameter {
            spec: spec.to_string(),
            path: path.clone(),
            value: render_value(value),
            point: point.id,
            hint: if value.is_f64() && err.to_string().contains("floating point") {
                " (a range gives floats: add `round: true` for an integer field)".into()
            } else {
                String::new()
            },
            source: Box::new(err),
        },
        None => SweepError::Point {
            spec: spec.to_string(),
            point: point.id,
            values: if point.parameters.is_empty() {
                "no parameters".into()
            } else {
                point
                    .parameters
                    .iter()
                    .map(|(p, v)| format!("{p}={}", render_value(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            source: Box::new(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::sweep::load_spec_str;

    fn plan_of(text: &str) -> Result<Plan, SweepError> {
        plan(load_spec_str(text, "s.yaml", Path::new("")).unwrap())
    }

    fn chain(e: SweepError) -> String {
        crate::error::chain_message(&e)
    }

    #[test]
    fn every_point_gets_its_values_and_seed() {
        let p = plan_of(
            "set: {workload.synthetic.limit.requests: 10}\nparameters:\n  - {path: cluster.instances, values: [1, 3]}\nseeds: [5, 6]\n",
        )
        .unwrap();
        assert_eq!(p.points.len(), 4);
        let got: Vec<(u32, u64)> = p
            .points
            .iter()
            .map(|pp| (pp.scenario.instances, pp.scenario.seed))
            .collect();
        assert_eq!(got, vec![(1, 5), (1, 6), (3, 5), (3, 6)]);
        assert_eq!(p.parameters, vec!["cluster.instances".to_string()]);
    }

    #[test]
    fn a_bad_value_names_the_parameter_and_value() {
        let err = plan_of("parameters:\n  - {path: cache.capacity_blocks, values: [10, -5]}\n")
            .unwrap_err();
        let text = chain(err);
        assert!(
            text.contains("parameter `cache.capacity_blocks` = -5 (point 1)"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_path_names_the_parameter_and_the_nearest_key() {
        let err = plan_of("parameters:\n  - {path: cluster.instancs, values: [2]}\n").unwrap_err();
        let text = chain(err);
        assert!(
            text.contains("parameter `cluster.instancs`")
                && text.contains("did you mean `instances`"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_trace_is_found_before_running() {
        let err = plan_of(
            "set: {workload.synthetic: null}\nparameters:\n  - {path: workload.trace, values: [/nonexistent/t.jsonl]}\n",
        )
        .unwrap_err();
        let text = chain(err);
        assert!(
            text.contains("no such file: /nonexistent/t.jsonl"),
            "{text}"
        );
    }
}
