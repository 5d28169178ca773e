//! `kvcsim bench gpu`: the modelled time of given iterations and where it goes.

use clap::Args;
use kvcsim_models::gpu::Batch;
use kvcsim_models::hardware::{default_gpu_model, load_gpu, load_gpu_model, load_llm};

use crate::error::input_error;

/// A prefill shape: `NEW` tokens computed after `CACHED` reused ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefillShape {
    new: u64,
    cached: u64,
}

/// A decode shape: `BATCH` sequences of `CONTEXT` tokens of KV each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeShape {
    batch: u64,
    context: u64,
}

/// Tokens and batches are bounded so that products stay exact in `u64` and `f64`.
const MAX_TOKENS: u64 = 1 << 31;

fn count(s: &str, what: &str, min: u64) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{what} `{s}` is not a whole number"))?;
    if v < min || v > MAX_TOKENS {
        return Err(format!("{what} {v} must be in {min}..={MAX_TOKENS}"));
    }
    Ok(v)
}

fn parse_prefill(s: &str) -> Result<PrefillShape, String> {
    let (new, cached) = s.split_once('+').unwrap_or((s, "0"));
    Ok(PrefillShape {
        new: count(new, "NEW", 1)?,
        cached: count(cached, "CACHED", 0)?,
    })
}

fn parse_decode(s: &str) -> Result<DecodeShape, String> {
    let (batch, context) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not BATCHxCONTEXT (e.g. 32x2048)"))?;
    Ok(DecodeShape {
        batch: count(batch, "BATCH", 1)?,
        context: count(context, "CONTEXT", 0)?,
    })
}

/// Arguments of `kvcsim bench gpu`.
#[derive(Debug, Args)]
pub struct GpuArgs {
    /// Model profile: a built-in name (llama-3.1-8b, ...) or a YAML path.
    #[arg(long)]
    model: String,
    /// GPU profile: a built-in name (h100-sxm, a100-80gb, h200, b200) or a YAML path.
    #[arg(long)]
    gpu: String,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    tp: u64,
    /// GPU model profile (`calibrate gpu` output, or a built-in name); default: the GPU's
    /// calibrated profile.
    #[arg(long)]
    gpu_model: Option<String>,
    /// A prefill iteration of one request: NEW tokens, optionally after CACHED ones
    /// (`2048`, `512+4096`). Repeatable.
    #[arg(long, value_parser = parse_prefill)]
    prefill: Vec<PrefillShape>,
    /// A decode iteration: BATCH sequences of CONTEXT tokens each (`32x2048`). Repeatable.
    #[arg(long, value_parser = parse_decode)]
    decode: Vec<DecodeShape>,
    /// Print `{"rows": [...]}` as JSON.
    #[arg(long)]
    json: bool,
}

/// The order of the `--prefill` (true) and `--decode` (false) flags on a command line: clap
/// keeps each flag's values apart, the rows follow the order the user gave.
fn flag_order(args: impl IntoIterator<Item = String>) -> Vec<bool> {
    args.into_iter()
        .take_while(|a| a != "--")
        .filter_map(|a| {
            if a == "--prefill" || a.starts_with("--prefill=") {
                Some(true)
            } else if a == "--decode" || a.starts_with("--decode=") {
                Some(false)
            } else {
                None
            }
        })
        .collect()
}

/// Runs `kvcsim bench gpu`: one row per shape, in the order given.
pub fn run(a: GpuArgs) -> crate::error::Result<()> {
    let llm = load_llm(&a.model).map_err(|e| input_error(format!("--model: {e}")))?;
    let gpu = load_gpu(&a.gpu).map_err(|e| input_error(format!("--gpu: {e}")))?;
    let config = match &a.gpu_model {
        Some(p) => load_gpu_model(p).map_err(|e| input_error(format!("--gpu-model: {e}")))?,
        None => default_gpu_model(&gpu),
    };
    if a.tp == 0 || a.tp > 1024 {
        return Err(input_error(format!("--tp {} must be in 1..=1024", a.tp)));
    }
    if a.prefill.is_empty() && a.decode.is_empty() {
        return Err(input_error("give at least one --prefill or --decode shape"));
    }
    let model = config
        .build(llm, gpu, a.tp)
        .map_err(|e| input_error(e.to_string()))?;
    let mut rows = Vec::new();
    let order = flag_order(std::env::args());
    let (mut prefills, mut decodes) = (a.prefill.iter(), a.decode.iter());
    let shapes = order.iter().filter_map(|is_prefill| {
        if *is_prefill {
            prefills.next().map(|p| {
                (
                    "prefill",
                    Batch::prefill(p.new, p.cached),
                    p.new,
                    p.cached,
                    1,
                    p.cached,
                )
            })
        } else {
            decodes.next().map(|d| {
                let mut b = Batch::new();
                b.push_decodes(d.batch, d.batch * d.context);
                ("decode", b, d.batch, d.context, d.batch, d.context)
            })
        }
    });
    for (kind, batch, new, cached, seqs, context) in shapes {
        let b = model.breakdown(&batch);
        let parts: serde_json::Map<String, serde_json::Value> = b
            .parts()
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v * 1e3)))
            .collect();
        rows.push(serde_json::json!({
            "kind": kind, "new_tokens": new, "cached_tokens": cached, "batch": seqs,
            "context": context, "time_ms": b.total_s() * 1e3, "breakdown_ms": parts,
        }));
    }
    if a.json {
        println!("{}", serde_json::json!({ "rows": rows }));
        return Ok(());
    }
    println!(
        "{:<8} {:>8} {:>8} {:>6} {:>8} {:>10}  breakdown (ms)",
        "kind", "new", "cached", "batch", "context", "time_ms"
    );
    for r in &rows {
        let parts = r["breakdown_ms"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
                    .map(|(k, v)| format!("{k} {:.3}", v.as_f64().unwrap_or(0.0)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        println!(
            "{:<8} {:>8} {:>8} {:>6} {:>8} {:>10.3}  {parts}",
            r["kind"].as_str().unwrap_or(""),
            r["new_tokens"],
            r["cached_tokens"],
            r["batch"],
            r["context"],
            r["time_ms"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_prefill("2048").unwrap(),
            PrefillShape {
                new: 2048,
                cached: 0
            }
        );
        assert_eq!(
            parse_prefill("512+4096").unwrap(),
            PrefillShape {
                new: 512,
                cached: 4096
            }
        );
        assert_eq!(
            parse_decode("32x2048").unwrap(),
            DecodeShape {
                batch: 32,
                context: 2048
            }
        );
        assert!(parse_prefill("0").unwrap_err().contains("NEW 0"));
        assert!(parse_prefill("a+1").unwrap_err().contains("`a`"));
        assert!(parse_decode("32").unwrap_err().contains("BATCHxCONTEXT"));
        assert!(parse_decode("0x10").unwrap_err().contains("BATCH 0"));
    }

    #[test]
    fn flags_keep_their_order() {
        let args = [
            "kvcsim",
            "bench",
            "gpu",
            "--decode",
            "1x1",
            "--prefill=8",
            "--prefill",
            "9",
        ];
        assert_eq!(
            flag_order(args.iter().map(|s| s.to_string())),
            vec![false, true, true]
        );
    }
}
