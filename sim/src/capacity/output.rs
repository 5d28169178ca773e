//! What a plan reports: `plan.parquet`, the printed table and the `--json` object.
//!
//! `plan.parquet`: one row per probe, in choice order then the order the probes ran:
//! `probe_id` (u64), `choice` (u64), one string column per list axis (the value as written),
//! `cluster.instances` (u32), `workload.rate_scale` (f64), `headroom` (bool: a probe of the
//! headroom search, appended after the choices' probes), `gpus` (u64: instances x tensor
//! parallelism), `cost` (f64: GPUs, or `--cost`'s value), `seeds` (u64 runs), `slo_attainment` (f64,
//! lowest over the seeds), `goodput_requests_per_s` and `goodput_per_gpu` (f64, mean over the
//! seeds), `meets_slo` (bool, every seed met it), `pareto` (bool: no other probe is as cheap
//! or cheaper with as high an attainment or higher, one of them strictly; over the choices'
//! probes at the scenario's load, so headroom probes are never in it; with a rate range, the
//! front is of cost against load instead: a probe meeting the SLO that no other meeting probe
//! matches with as low a cost and as high a `rate_scale`, one of them strictly).

use serde_json::{Map, Value, json};

use super::axes::{INSTANCES, RATE_SCALE};
use super::{Plan, Probe, Search};
use crate::output::{Column, Table};

/// Whether each of the first `searched` probes is on the Pareto front of those: lower cost
/// against higher attainment, or (`by_load`, a rate range) against higher load among the
/// probes that meet the SLO; the rest (headroom probes) are not.
fn pareto(probes: &[&Probe], searched: usize, by_load: bool) -> Vec<bool> {
    let front: Vec<&Probe> = probes[..searched]
        .iter()
        .copied()
        .filter(|p| !by_load || p.meets_slo)
        .collect();
    let merit = |p: &Probe| {
        if by_load {
            p.rate_scale
        } else {
            p.slo_attainment
        }
    };
    probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            i < searched
                && (!by_load || p.meets_slo)
                && !front.iter().any(|q| {
                    q.cost <= p.cost
                        && merit(q) >= merit(p)
                        && (q.cost < p.cost || merit(q) > merit(p))
                })
        })
        .collect()
}

/// The `plan.parquet` table.
pub fn plan_table(plan: &Plan) -> Table {
    let probes: Vec<&Probe> = plan.all_probes().collect();
    let searched: usize = plan.choices.iter().map(|c| c.probes.len()).sum();
    let mut t = Table::new()
        .with("probe_id", Column::U64((0..probes.len() as u64).collect()))
        .with(
            "choice",
            Column::U64(probes.iter().map(|p| p.choice as u64).collect()),
        );
    if let Some(first) = plan.choices.first() {
        for (k, (path, _)) in first.values.iter().enumerate() {
            let col = probes
                .iter()
                .map(|p| Some(plan.choices[p.choice].values[k].1.clone()))
                .collect();
            t = t.with(path, Column::Str(col));
        }
    }
    t.with(
        INSTANCES,
        Column::U32(probes.iter().map(|p| p.instances).collect()),
    )
    .with(
        "workload.rate_scale",
        Column::F64(probes.iter().map(|p| p.rate_scale).collect()),
    )
    .with(
        "headroom",
        Column::OptBool((0..probes.len()).map(|i| Some(i >= searched)).collect()),
    )
    .with("gpus", Column::U64(probes.iter().map(|p| p.gpus).collect()))
    .with("cost", Column::F64(probes.iter().map(|p| p.cost).collect()))
    .with(
        "seeds",
        Column::U64(probes.iter().map(|p| p.runs as u64).collect()),
    )
    .with(
        "slo_attainment",
        Column::F64(probes.iter().map(|p| p.slo_attainment).collect()),
    )
    .with(
        "goodput_requests_per_s",
        Column::F64(probes.iter().map(|p| p.goodput_requests_per_s).collect()),
    )
    .with(
        "goodput_per_gpu",
        Column::F64(probes.iter().map(|p| p.goodput_per_gpu).collect()),
    )
    .with(
        "meets_slo",
        Column::OptBool(probes.iter().map(|p| Some(p.meets_slo)).collect()),
    )
    .with(
        "pareto",
        Column::OptBool(
            pareto(
                &probes,
                searched,
                matches!(plan.search, Search::RateScale(_)),
            )
            .into_iter()
            .map(Some)
            .collect(),
        ),
    )
}

/// A value as written on the command line, as JSON (a number or boolean if YAML reads it so).
fn json_value(text: &str) -> Value {
    serde_norway::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.into()))
}

fn config(plan: &Plan, choice: usize, p: &Probe) -> Value {
    let mut m = Map::new();
    for (path, v) in &plan.choices[choice].values {
        m.insert(path.clone(), json_value(v));
    }
    m.insert(INSTANCES.into(), json!(p.instances));
    if matches!(plan.search, Search::RateScale(_)) {
        m.insert(RATE_SCALE.into(), json!(p.rate_scale));
    }
    Value::Object(m)
}

/// The path searched within each choice, if any.
fn searched_path(plan: &Plan) -> Option<&'static str> {
    match plan.search {
        Search::Fixed => None,
        Search::Instances { .. } => Some(INSTANCES),
        Search::RateScale(_) => Some(RATE_SCALE),
    }
}

/// The `--json` object: `search` (the path searched within each choice, or null), `best` (the
/// best configuration meeting the SLO, or the closest when none does, with `met` false), its
/// `gpus`, `cost`, `slo_attainment`, `goodput_requests_per_s`, `probes` and `runs`, each
/// choice's answer in `choices`, and `non_monotone` pairs (`instances` or `rate_scale`).
pub fn plan_json(plan: &Plan) -> Value {
    let (met, pick) = match plan.best() {
        Some(b) => (true, Some(b)),
        None => (false, plan.closest()),
    };
    let per_choice: Vec<Value> = plan
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = c.chosen.map(|k| &c.probes[k]);
            json!({
                // A choice another shard searched has no probes: its list values only.
                "values": match p.or(c.probes.first()) {
                    Some(q) => config(plan, i, q),
                    None => Value::Object(
                        c.values.iter().map(|(k, v)| (k.clone(), json_value(v))).collect(),
                    ),
                },
                "met": p.is_some(),
                "gpus": p.map(|p| p.gpus),
                "cost": p.map(|p| p.cost),
                "slo_attainment": p.map(|p| p.slo_attainment),
                "goodput_requests_per_s": p.map(|p| p.goodput_requests_per_s),
                "probes": c.probes.len(),
            })
        })
        .collect();
    let non_monotone: Vec<Value> = plan
        .non_monotone()
        .into_iter()
        .map(|(i, a, b)| {
            let axis = match plan.search {
                Search::RateScale(_) => ("rate_scale", json!([a.rate_scale, b.rate_scale])),
                _ => ("instances", json!([a.instances, b.instances])),
            };
            let mut m = Map::new();
            m.insert("choice".into(), json!(i));
            m.insert(axis.0.into(), axis.1);
            m.insert(
                "slo_attainment".into(),
                json!([a.slo_attainment, b.slo_attainment]),
            );
            Value::Object(m)
        })
        .collect();
    json!({
        "search": searched_path(plan),
        "best": pick.map(|(i, p)| config(plan, i, p)),
        "met": met,
        "gpus": pick.map(|(_, p)| p.gpus),
        "cost": pick.map(|(_, p)| p.cost),
        "slo_attainment": pick.map(|(_, p)| p.slo_attainment),
        "goodput_requests_per_s": pick.map(|(_, p)| p.goodput_requests_per_s),
        "probes": plan.probes(),
        "runs": plan.runs(),
        "choices": per_choice,
        "non_monotone": non_monotone,
        "headroom": plan.headroom.as_ref().map(|h| json!({
            "rate_scale": h.rate_scale,
            "at_limit": h.at_limit,
            "probes": h.probes.len(),
        })),
    })
}

/// The printed table: each choice's answer (the cheapest count meeting the SLO, or the largest
/// rate scale), then the verdict.
pub fn plan_text(plan: &Plan) -> String {
    let paths: Vec<&str> = plan
        .choices
        .first()
        .map(|c| c.values.iter().map(|(p, _)| p.as_str()).collect())
        .unwrap_or_default();
    let mut s = String::new();
    for p in &paths {
        s += &format!("{p:<24} ");
    }
    s += &format!(
        "{:>9} {:>10} {:>6} {:>10} {:>11} {:>14} {:>7}\n",
        "instances", "rate_scale", "GPUs", "cost", "attainment", "goodput req/s", "probes"
    );
    for c in &plan.choices {
        for (_, v) in &c.values {
            s += &format!("{v:<24} ");
        }
        match c.chosen.map(|k| &c.probes[k]) {
            Some(p) => {
                s += &format!(
                    "{:>9} {:>10} {:>6} {:>10} {:>11.4} {:>14.3} {:>7}\n",
                    p.instances,
                    p.rate_scale,
                    p.gpus,
                    p.cost,
                    p.slo_attainment,
                    p.goodput_requests_per_s,
                    c.probes.len()
                )
            }
            None => {
                s += &format!(
                    "{:>9} {:>10} {:>6} {:>10} {:>11} {:>14} {:>7}\n",
                    "none",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    c.probes.len()
                )
            }
        }
    }
    let what = match plan.search {
        Search::RateScale(_) => "most load per unit of cost meeting the SLO",
        _ => "cheapest meeting the SLO",
    };
    match (plan.best(), plan.closest()) {
        (Some((i, p)), _) => {
            s += &format!(
                "{what} ({}% of requests, every seed): {}, {} GPUs, cost {}\n",
                plan.percentile,
                config(plan, i, p),
                p.gpus,
                p.cost
            )
        }
        (None, Some((i, p))) => {
            s += &format!(
                "no configuration in the ranges meets the SLO; closest: {} (attainment {:.4}, {} GPUs, cost {})\n",
                config(plan, i, p),
                p.slo_attainment,
                p.gpus,
                p.cost
            )
        }
        (None, None) => {}
    }
    for (i, a, b) in plan.non_monotone() {
        s += &match plan.search {
            Search::RateScale(_) => format!(
                "non-monotone: choice {i}: rate_scale {} attained {:.4} but {} attained {:.4}\n",
                a.rate_scale, a.slo_attainment, b.rate_scale, b.slo_attainment
            ),
            _ => format!(
                "non-monotone: choice {i}: {} instances attained {:.4} but {} attained {:.4}\n",
                a.instances, a.slo_attainment, b.instances, b.slo_attainment
            ),
        };
    }
    if let Some(h) = &plan.headroom {
        s += &format!(
            "headroom: meets the SLO up to rate_scale {}{} ({} probes)\n",
            if h.at_limit { ">= " } else { "" },
            h.rate_scale,
            h.probes.len()
        );
    }
    s += &format!("{} probes, {} runs\n", plan.probes(), plan.runs());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(cost: f64, rate_scale: f64, slo_attainment: f64, meets_slo: bool) -> Probe {
        Probe {
            choice: 0,
            instances: 1,
            rate_scale,
            gpus: 1,
            cost,
            slo_attainment,
            goodput_requests_per_s: 0.0,
            goodput_per_gpu: 0.0,
            meets_slo,
            runs: 1,
            reused: 0,
        }
    }

    #[test]
    fn pareto_fronts_of_attainment_and_of_load() {
        let p = [
            probe(2.0, 1.0, 0.95, true),
            probe(2.0, 2.0, 0.80, false),
            probe(3.0, 1.5, 0.92, true),
            probe(4.0, 1.25, 0.99, true),
            probe(1.0, 3.0, 0.99, true),
        ];
        let refs: Vec<&Probe> = p.iter().collect();
        // Cost vs attainment over the first four (the fifth is a headroom probe): 0 and 3.
        assert_eq!(
            pareto(&refs, 4, false),
            vec![true, false, false, true, false]
        );
        // Cost vs load among those meeting the SLO: 0 (cheapest) and 2 (more load); 3 is
        // dominated by 2, 1 misses the SLO.
        assert_eq!(
            pareto(&refs, 4, true),
            vec![true, false, true, false, false]
        );
    }
}
