//! Human-readable report of [`TraceStats`].

use std::fmt::Write as _;

use super::TraceStats;

fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

impl TraceStats {
    /// An aligned plain-text table of every statistic (ratios to 4 decimals, `-` where
    /// undefined).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "{name:<27} {value:>12}");
        };
        row("requests", self.requests.to_string());
        row("span_s", format!("{:.3}", self.span_s));
        row(
            "arrival_rate_per_s",
            self.arrival_rate_per_s
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}")),
        );
        row("blocks_referenced", self.blocks_referenced.to_string());
        row("unique_blocks", self.unique_blocks.to_string());
        row("ideal_hit_ratio", ratio_text(self.ideal_hit_ratio));
        row("first_block_shared", ratio_text(self.first_block_shared));
        row(
            "requests_hit_ratio_ge_0_5",
            ratio_text(self.requests_hit_ratio_ge_0_5),
        );
        row(
            "sequential_fraction_mean",
            ratio_text(self.sequential_fraction_mean),
        );

        let _ = writeln!(
            out,
            "\n{:<14} {:>10} {:>8} {:>8} {:>8} {:>8}",
            "tokens", "mean", "p50", "p90", "p99", "max"
        );
        for (name, s) in [
            ("input_tokens", &self.input_tokens),
            ("output_tokens", &self.output_tokens),
        ] {
            let _ = writeln!(
                out,
                "{name:<14} {:>10.1} {:>8} {:>8} {:>8} {:>8}",
                s.mean, s.p50, s.p90, s.p99, s.max
            );
        }

        if !self.request_hit_ratio_cdf.is_empty() {
            let _ = writeln!(
                out,
                "\nper-request hit ratio CDF (fraction of requests with ratio <= x)"
            );
            let _ = write!(out, "{:<9}", "x");
            for p in &self.request_hit_ratio_cdf {
                let _ = write!(out, " {:>6.1}", p.ratio);
            }
            let _ = write!(out, "\n{:<9}", "fraction");
            for p in &self.request_hit_ratio_cdf {
                let _ = write!(out, " {:>6.3}", p.fraction);
            }
            out.push('\n');
        }

        if !self.lru.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<10} {:>15} {:>15} {:>16}",
                "LRU", "capacity_blocks", "block_hit_ratio", "prefix_hit_ratio"
            );
            for l in &self.lru {
                let _ = writeln!(
                    out,
                    "{:<10} {:>15} {:>15} {:>16}",
                    l.capacity.to_string(),
                    l.capacity_blocks,
                    ratio_text(l.block_hit_ratio),
                    ratio_text(l.prefix_hit_ratio)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StatsOptions, compute};
    use crate::Request;

    #[test]
    fn report_is_aligned_and_complete() {
        let requests = [(0, vec![0u64, 1]), (2_000_000_000, vec![0, 2])].map(|(t, ids)| {
            Ok(Request {
                index: 0,
                arrival_ns: t,
                input_tokens: 1000,
                output_tokens: 10,
                block_ids: ids,
            })
        });
        let text = compute(requests.into_iter(), &StatsOptions::default())
            .unwrap()
            .to_text();
        assert!(
            text.contains("requests                               2\n"),
            "{text}"
        );
        assert!(
            text.contains("ideal_hit_ratio                   0.2500\n"),
            "{text}"
        );
        assert!(
            text.contains("1%                       1          0.0000           0.0000\n"),
            "{text}"
        );
        let table_widths: Vec<usize> = text.lines().take(9).map(str::len).collect();
        assert!(table_widths.iter().all(|&w| w == 40), "{table_widths:?}");
    }
}
