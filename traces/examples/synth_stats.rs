//! Generates a synthetic workload and prints its statistics; optionally writes it as JSONL.
//!
//! ```text
//! cargo run --release -p kvcsim-traces --example synth_stats -- [SPEC.yaml] [--seed N] [--out FILE.jsonl]
//! ```

use std::io::BufWriter;

use kvcsim_traces::stats::{self, StatsOptions};
use kvcsim_traces::synth::{self, SynthSpec};
use rand_pcg::Pcg64;

/// Stream `name` for `seed`: a stand-in for the simulator's (seed, name) derivation.
fn stream(seed: u64, name: &str) -> Pcg64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Pcg64::new(u128::from(seed) << 64 | 0x5eed, u128::from(hash))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut spec, mut seed, mut out) = (SynthSpec::default(), 1u64, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "--out" => out = Some(args.next().ok_or("--out needs a value")?),
            path => spec = serde_norway::from_str(&std::fs::read_to_string(path)?)?,
        }
    }
    let requests: Vec<_> = synth::generate(&spec, &|name| stream(seed, name))?.collect();
    if let Some(out) = out {
        synth::write_jsonl(&requests, BufWriter::new(std::fs::File::create(out)?))?;
    }
    let stats = stats::compute(requests.into_iter().map(Ok), &StatsOptions::default())?;
    print!("{}", stats.to_text());
    Ok(())
}
