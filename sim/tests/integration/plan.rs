//! `kvcsim plan` against a full grid, its probe counts, and its bad input.

use kvcsim::capacity::{Axis, PlanRequest, plan};
use kvcsim::run::simulate;
use kvcsim::scenario::load;

use super::kvcsim;

/// The default scenario's synthetic workload (Poisson arrivals) cut to 300 requests at 20/s on
/// H100s, with an SLO that one instance misses and 32 meet.
fn request(seeds: Option<u64>) -> PlanRequest {
    let mut req = PlanRequest::new(
        [
            "workload.synthetic.limit.requests=300",
            "workload.synthetic.arrivals.rate_per_s=20",
            "slo={ttft_ms: 5000, tpot_ms: 100, percentile: 90}",
        ]
        .map(String::from)
        .to_vec(),
        vec![Axis::parse("cluster.instances=1..32").unwrap()],
    );
    req.seeds = seeds;
    req.jobs = 2;
    req
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
        assert_eq!(best.gpus, u64::from(grid), "TP 1: one GPU per instance");
        assert_eq!(best.cost, f64::from(grid), "the default cost is GPUs");
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
        (&["--vary", "workload.rate_scale=4..1"][..], "inverted"),
        (&["--vary", "workload.rate_scale=1..4:0"][..], "step `0`"),
        (
            &[
                "--vary",
                "workload.rate_scale=1..4",
                "--vary",
                "cluster.instances=1..4",
            ][..],
            "at most one range",
        ),
        (
            &["--vary", "workload.rate_scale=1..4", "--headroom", "8"][..],
            "--headroom with a workload.rate_scale range",
        ),
        (&["--shard", "0/2"][..], "need --out"),
        (&["--resume"][..], "need --out"),
        (&["--shard", "2/2", "--out", "x"][..], "K must be below N"),
        (
            &["--cost", "cluster.instancs * 2"][..],
            "--cost `cluster.instancs * 2`: field `cluster.instancs` is not in the resolved scenario",
        ),
        (
            &["--cost", "cluster.gpu"][..],
            "--cost `cluster.gpu` gives `\"h100-sxm\"`, not a number",
        ),
        (&["--cost", "(2 *"][..], "bad --cost `(2 *`"),
        (
            &[
                "--cost",
                "cluster.instances - 1",
                "--vary",
                "cluster.instances=1..3",
            ][..],
            "gives 0: a cost must be a positive",
        ),
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
    // Another plan's folder is refused (its probe folders would mix in), and so is a folder
    // that is not a plan's.
    let other = dir.path().join("d");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    for (folder, says) in [(&a, "holds another plan"), (&other, "is not empty")] {
        let out = folder.to_str().unwrap();
        let (code, _, err) = kvcsim(&["plan", "--slo", "ttft_ms=3000", "--out", out]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// The plan of `plan_files_are_identical_whatever_the_thread_count` over four choices (TP x
/// GPU), into `out`, with extra arguments.
fn four_choices(out: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut a = vec![
        "plan",
        "--set",
        "workload.synthetic.limit.requests=100",
        "--slo",
        "ttft_ms=3000",
        "--vary",
        "cluster.instances=1..8",
        "--vary",
        "cluster.tensor_parallel=1,2",
        "--vary",
        "cluster.gpu=h100-sxm,h200",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend(extra);
    kvcsim(&a)
}

/// `N runs: R run now, U reused from the output folder` of a plan's stderr: (R, U).
fn run_counts(err: &str) -> (u64, u64) {
    let line = err
        .lines()
        .find(|l| l.contains("reused from the output folder"))
        .unwrap_or_else(|| panic!("no run counts in {err}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[1], nums[2])
}

#[test]
fn sharded_then_assembled_plan_equals_the_unsharded_and_resume_reruns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let (code, _, err) = four_choices(&whole, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let (ran, reused) = run_counts(&err);
    assert!(ran > 4 && reused == 0, "{err}");

    // Two shards into one folder (as a Slurm array on a shared file system): shard 0 searches
    // choices 0 and 2, shard 1 choices 1 and 3, and neither writes the plan's files.
    let sharded = dir.path().join("sharded");
    let mut shard_runs = 0;
    for (k, mine) in [("0/2", "[0, 2]"), ("1/2", "[1, 3]")] {
        let (code, stdout, err) = four_choices(&sharded, &["--shard", k]);
        assert_eq!(code, 0, "{err}");
        assert!(
            stdout.contains(&format!("searched choices {mine} of 4")),
            "{stdout}"
        );
        shard_runs += run_counts(&err).0;
        assert!(!sharded.join("plan.parquet").exists());
    }
    assert!(sharded.join("probes/choice=3").is_dir() && sharded.join("probes/choice=0").is_dir());
    assert_eq!(
        shard_runs, ran,
        "the shards ran the unsharded plan's runs between them"
    );
    // Assembling: every search replayed from the shards' runs, none run again.
    let (code, stdout, err) = four_choices(&sharded, &["--resume", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_counts(&err), (0, ran), "{err}");
    let whole_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("plan.json")).unwrap()).unwrap();
    let merged: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(merged["best"], whole_json["best"]);
    for f in ["plan.parquet", "plan.json"] {
        assert_eq!(
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(sharded.join(f)).unwrap(),
            "{f}"
        );
    }

    // Resuming a finished plan reruns nothing and rewrites the same files.
    let before = std::fs::read(whole.join("plan.parquet")).unwrap();
    let (code, _, err) = four_choices(&whole, &["--resume"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_counts(&err), (0, ran), "{err}");
    assert_eq!(std::fs::read(whole.join("plan.parquet")).unwrap(), before);

    // A run whose folder does not hold the scenario it would run (here: edited) is run again,
    // and only that one; a half-written one (no _SUCCESS) too.
    let edited = whole.join("probes/choice=0/instances=8/seed=42");
    let resolved = edited.join("scenario.resolved.yaml");
    let text = std::fs::read_to_string(&resolved).unwrap();
    std::fs::write(&resolved, text.replace("seed: 42", "seed: 43")).unwrap();
    std::fs::remove_file(whole.join("probes/choice=1/instances=8/seed=42/_SUCCESS")).unwrap();
    let (code, _, err) = four_choices(&whole, &["--resume"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_counts(&err), (2, ran - 2), "{err}");
    assert_eq!(std::fs::read(whole.join("plan.parquet")).unwrap(), before);
    assert_eq!(std::fs::read_to_string(&resolved).unwrap(), text);

    // Without --resume every run is run again into the same folder.
    let (code, _, err) = four_choices(&whole, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_counts(&err), (ran, 0), "{err}");
}

#[test]
fn rate_scale_range_finds_the_largest_load_a_full_grid_finds_with_fewer_probes() {
    // Four H100s, the 300-request Poisson load of `request` scaled 0.25x..8x in steps of 0.25.
    let mut req = request(None);
    req.overrides.push("cluster.instances=4".into());
    req.axes = vec![Axis::parse("workload.rate_scale=0.25..8:0.25").unwrap()];
    let p = plan(&req).unwrap();
    let grid: Vec<bool> = (1..=32)
        .map(|k| {
            let mut o = req.overrides.clone();
            o.push(format!("workload.rate_scale={}", f64::from(k) * 0.25));
            simulate(&load(None, &o).unwrap(), &mut ())
                .unwrap()
                .1
                .slo_met
                == Some(true)
        })
        .collect();
    let largest = grid.iter().rposition(|&m| m).expect("0.25x meets the SLO");
    assert!(largest < 31, "the SLO binds inside the range: 8x misses it");
    let monotone = grid.iter().take_while(|&&m| m).count() == largest + 1;
    assert!(
        monotone,
        "on this load more load never meets the SLO better: {grid:?}"
    );
    let (_, best) = p.best().expect("met");
    assert_eq!(best.rate_scale, (largest + 1) as f64 * 0.25);
    // 32 rates: the lowest, then 5 halvings.
    assert!(p.probes() <= 6, "{} probes", p.probes());
    assert_eq!(best.instances, 4);
    let v = kvcsim::capacity::plan_json(&p);
    assert_eq!(v["search"], "workload.rate_scale");
    assert_eq!(v["best"]["workload.rate_scale"], best.rate_scale);
}

#[test]
fn cost_expression_prices_gpu_types_and_changes_the_answer() {
    let price = |h200: &str| {
        let mut req = request(None);
        req.axes
            .push(Axis::parse("cluster.gpu=h100-sxm,h200").unwrap());
        req.cost = Some(
            kvcsim::capacity::CostExpr::parse(&format!(
                "cluster.instances * cluster.tensor_parallel * if(cluster.gpu == \"h200\", {h200}, 2.5)"
            ))
            .unwrap(),
        );
        plan(&req).unwrap()
    };
    let cheap = price("0.01");
    let dear = price("1000");
    // Each probe's cost is its GPUs times its type's price.
    for (p, h200) in [(&cheap, 0.01), (&dear, 1000.0)] {
        for q in p.all_probes() {
            let unit = if q.choice == 1 { h200 } else { 2.5 };
            assert_eq!(q.cost, q.gpus as f64 * unit);
        }
    }
    let (i, _) = cheap.best().unwrap();
    assert_eq!(
        i, 1,
        "H200s at 0.01 a GPU are the cheapest that meet the SLO"
    );
    let (i, _) = dear.best().unwrap();
    assert_eq!(i, 0, "H100s when H200s cost 1000 a GPU");
}

#[test]
fn a_plan_over_pool_sizes_finds_the_cheapest_prefill_decode_split_of_a_full_grid() {
    // Disaggregated pools as enumerated axes: the plan's best is the split with the fewest
    // GPUs that a direct run of every split finds meeting the SLO (ties: first in order).
    let sets: Vec<String> = [
        "workload.synthetic.limit.requests=200",
        "workload.synthetic.arrivals.rate_per_s=6",
        "cluster.instances=",
        "cluster.pools=[{name: p, role: prefill, instances: 1}, {name: d, role: decode, instances: 1}]",
        "slo={ttft_ms: 2000, tpot_ms: 50, percentile: 90}",
    ]
    .map(String::from)
    .to_vec();
    let mut req = PlanRequest::new(
        sets.clone(),
        vec![
            Axis::parse("cluster.pools.0.instances=1,2,3").unwrap(),
            Axis::parse("cluster.pools.1.instances=1,2").unwrap(),
        ],
    );
    req.jobs = 2;
    let p = plan(&req).unwrap();
    let mut grid: Option<(u64, u32, u32)> = None;
    let mut met = 0;
    for pre in 1..=3u32 {
        for dec in 1..=2u32 {
            let mut o = sets.clone();
            o.push(format!("cluster.pools.0.instances={pre}"));
            o.push(format!("cluster.pools.1.instances={dec}"));
            let s = load(None, &o).unwrap();
            if simulate(&s, &mut ()).unwrap().1.slo_met == Some(true) {
                met += 1;
                let gpus = s.gpus();
                if grid.is_none_or(|(g, _, _)| gpus < g) {
                    grid = Some((gpus, pre, dec));
                }
            }
        }
    }
    assert!(
        met > 0 && met < 6,
        "the SLO binds on some splits: {met} of 6 meet it"
    );
    let (gpus, pre, dec) = grid.unwrap();
    let (_, best) = p.best().expect("a split meets the SLO");
    assert_eq!(best.gpus, gpus);
    assert_eq!(
        best.cost, gpus as f64,
        "the default cost is GPUs over pools"
    );
    assert_eq!(u64::from(pre + dec), gpus);
}
