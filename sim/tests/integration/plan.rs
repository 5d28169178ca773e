//! `kvcsim plan` against a full grid, its probe counts, and its bad input.

use kvcsim::capacity::{Axis, PlanRequest, plan};
use kvcsim::run::simulate;
use kvcsim::scenario::load;

use super::kvcsim;

/// The default scenario's synthetic workload (Poisson arrivals) cut to 300 requests at 20/s on
/// H100s, with an SLO that one instance misses and 32 meet.
fn request(seeds: Option<u64>) -> PlanRequest {
    PlanRequest {
        scenario: None,
        overrides: [
            "workload.synthetic.limit.requests=300",
            "workload.synthetic.arrivals.rate_per_s=20",
            "slo={ttft_ms: 5000, tpot_ms: 100, percentile: 90}",
        ]
        .map(String::from)
        .to_vec(),
        axes: vec![Axis::parse("cluster.instances=1..32").unwrap()],
        seeds,
        jobs: 2,
        out: None,
        headroom: None,
        limits: Default::default(),
    }
}

#[test]
fn plan_equals_the_smallest_count_of_a_full_grid_with_fewer_probes() {
    for seeds in [None, Some(2)] {
        let req = request(seeds);
        let p = plan(&req).unwrap();
        let (_, best) = p.best().expect("32 instances meet this SLO");
        // The full grid: every count, every seed; the smallest count where all seeds meet it.
        let seed_list: Vec<Option<u64>> = match seeds {
            Some(n) => (1..=n).map(Some).collect(),
            None => vec![None],
        };
        let grid = (1..=32u32)
            .find(|n| {
                seed_list.iter().all(|s| {
                    let mut o = req.overrides.clone();
                    o.push(format!("cluster.instances={n}"));
                    o.extend(s.map(|s| format!("seed={s}")));
                    let sc = load(None, &o).unwrap();
                    simulate(&sc, &mut ()).unwrap().1.slo_met == Some(true)
                })
            })
            .expect("the grid finds a count");
        assert!(grid > 1, "the SLO binds: one instance misses it");
        assert_eq!(best.instances, grid, "seeds {seeds:?}");
        assert_eq!(best.cost, u64::from(grid), "TP 1: one GPU per instance");
        // 32 counts: hi, then 5 halvings of [1, 32).
        assert!(p.probes() <= 6, "{} probes", p.probes());
        assert!(p.probes() < 32);
        assert_eq!(p.runs(), p.probes() * seed_list.len());
    }
}

#[test]
fn plan_is_the_same_whatever_the_thread_count() {
    let mut one = request(Some(2));
    one.jobs = 1;
    let a = kvcsim::capacity::plan_json(&plan(&one).unwrap());
    let b = kvcsim::capacity::plan_json(&plan(&request(Some(2))).unwrap());
    assert_eq!(a, b);
}

#[test]
fn plan_cli_json_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let args = [
        "plan",
        "--set",
        "workload.synthetic.limit.requests=200",
        "--slo",
        "ttft_ms=5000,tpot_ms=100,percentile=90",
        "--vary",
        "cluster.instances=1..1024",
        "--vary",
        "cluster.gpu=h100-sxm,h200",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, err) = kvcsim(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["met"], true);
    assert!(v["best"]["cluster.instances"].as_u64().unwrap() >= 1);
    for c in v["choices"].as_array().unwrap() {
        assert!(c["probes"].as_u64().unwrap() <= 12, "{c}");
    }
    assert!(out.join("plan.parquet").is_file() && out.join("plan.json").is_file());
    assert!(out.join("probes/choice=1").is_dir());

    // An SLO nothing in the range meets: a result (exit 0), with the closest configuration.
    let (code, stdout, err) = kvcsim(&[
        "plan",
        "--set",
        "workload.synthetic.limit.requests=100",
        "--slo",
        "ttft_ms=1",
        "--vary",
        "cluster.instances=1..4",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["met"], false);
    assert_eq!(
        v["probes"], 1,
        "the top of the range misses: nothing below can meet it"
    );
    assert_eq!(v["best"]["cluster.instances"], 4);
}

#[test]
fn plan_bad_input_exits_2() {
    for (args, says) in [
        (&["--vary", "cluster.instances=8..2"][..], "inverted"),
        (&["--vary", "cluster.instancs=1,2"][..], "instances"),
        (&["--vary", "cluster.tensor_parallel=1..4"][..], "monotone"),
        (
            &["--slo", "percentile=90", "--vary", "cluster.instances=1..2"][..],
            "at least one target",
        ),
        (&["--slo", "ttft=5"][..], "ttft_ms"),
        (&["--vary", "cluster.gpu=h100-sxm,nope"][..], "nope"),
        (&["--headroom", "0.5"][..], "--headroom 0.5 must be above"),
        (
            &["--vary", "cluster.instances=1..1000000"][..],
            "--allow-large",
        ),
        (&["--headroom", "nan"][..], "workload.rate_scale"),
    ] {
        let mut a = vec!["plan", "--set", "workload.synthetic.limit.requests=20"];
        if !args.contains(&"--slo") {
            a.extend(["--slo", "ttft_ms=1000"]);
        }
        a.extend(args);
        let (code, _, err) = kvcsim(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = kvcsim(&["plan", "--vary", "cluster.instances=1..2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no SLO"), "{err}");
}

#[test]
fn headroom_is_the_largest_rate_scale_that_meets_the_slo() {
    let mut req = request(None);
    req.headroom = Some(3.0);
    let p = plan(&req).unwrap();
    let (_, best) = p.best().unwrap();
    let h = p.headroom.as_ref().expect("asked and met");
    // Bisection over 1.00..=3.00 in steps of 0.01, 1.00 known: at most ceil(log2 200) = 8 runs.
    assert!(h.probes.len() <= 8, "{} probes", h.probes.len());
    let meets = |r: f64| {
        let mut o = req.overrides.clone();
        o.push(format!("cluster.instances={}", best.instances));
        o.push(format!("workload.rate_scale={r}"));
        let sc = load(None, &o).unwrap();
        simulate(&sc, &mut ()).unwrap().1.slo_met == Some(true)
    };
    assert!(meets(h.rate_scale));
    if !h.at_limit {
        assert!(!meets(((h.rate_scale + 0.01) * 100.0).round() / 100.0));
    }
    assert!(h.probes.iter().all(|q| q.instances == best.instances));
}

#[test]
fn plan_files_are_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |jobs: &str, out: &str| {
        let out = dir.path().join(out);
        let (code, _, err) = kvcsim(&[
            "plan",
            "--set",
            "workload.synthetic.limit.requests=100",
            "--slo",
            "ttft_ms=3000",
            "--vary",
            "cluster.instances=1..8",
            "--vary",
            "cluster.tensor_parallel=1,2",
            "--seeds",
            "2",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        out
    };
    let (a, b) = (run("1", "a"), run("3", "b"));
    for f in [
        "plan.parquet",
        "plan.json",
        "probes/choice=1/instances=8/seed=2/requests.parquet",
        "probes/choice=1/instances=8/seed=2/summary.json",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // A used folder is refused (an earlier plan's probe folders would mix in).
    let (code, _, err) = kvcsim(&[
        "plan",
        "--slo",
        "ttft_ms=3000",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty"), "{err}");
}
