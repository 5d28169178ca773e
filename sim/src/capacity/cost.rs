//! The cost of a configuration: GPUs by default, or `--cost EXPR`.
//!
//! The expression language is [`evalexpr`]'s (arithmetic, comparisons, `&&`/`||`, strings,
//! `if(cond, a, b)`, `min`, `max`, ...). Its variables are dotted field paths, the same as
//! `--set`'s, read from the probe's resolved scenario (`scenario.resolved.yaml`: defaults filled
//! in), e.g.
//!
//! ```text
//! cluster.instances * cluster.tensor_parallel * if(cluster.gpu == "h200", 3.7, 2.5)
//! ```
//!
//! A number field is an integer or a float, a string a string, a boolean a boolean. An unknown
//! field, a field that is a mapping, a list or unset, an expression that does not parse or does
//! not evaluate, and a result that is not a positive finite number are the user's errors
//! (exit 2), naming the expression and the field.

use evalexpr::{ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node};
use serde_norway::Value;

use crate::error::input_error;
use crate::scenario::Scenario;

/// GPUs of a scenario: instances x tensor parallelism, summed over pools.
pub fn gpus(s: &Scenario) -> u64 {
    s.gpus()
}

/// A parsed `--cost` expression.
#[derive(Debug, Clone)]
pub struct CostExpr {
    text: String,
    tree: Node<DefaultNumericTypes>,
}

impl CostExpr {
    /// Parses `text`.
    pub fn parse(text: &str) -> crate::error::Result<CostExpr> {
        let tree = evalexpr::build_operator_tree::<DefaultNumericTypes>(text)
            .map_err(|e| input_error(format!("bad --cost `{text}`: {e}")))?;
        Ok(CostExpr {
            text: text.to_string(),
            tree,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its value for scenario `s`.
    pub fn eval(&self, s: &Scenario) -> crate::error::Result<f64> {
        let root = serde_norway::to_value(&s.raw)?;
        let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
        for name in self.tree.iter_read_variable_identifiers() {
            let v = field(&root, name).map_err(|why| {
                input_error(format!("--cost `{}`: field `{name}` {why}", self.text))
            })?;
            ctx.set_value(name.to_string(), v)
                .map_err(|e| input_error(format!("--cost `{}`: field `{name}`: {e}", self.text)))?;
        }
        let value = self
            .tree
            .eval_with_context(&ctx)
            .map_err(|e| input_error(format!("--cost `{}`: {e}", self.text)))?;
        let x = match value {
            evalexpr::Value::Int(i) => i as f64,
            evalexpr::Value::Float(f) => f,
            other => {
                return Err(input_error(format!(
                    "--cost `{}` gives `{other}`, not a number",
                    self.text
                )));
            }
        };
        if !(x.is_finite() && x > 0.0) {
            return Err(input_error(format!(
                "--cost `{}` gives {x}: a cost must be a positive finite number",
                self.text
            )));
        }
        Ok(x)
    }
}

/// The cost of `s`: `expr`'s value, or its GPUs.
pub fn cost_of(s: &Scenario, expr: Option<&CostExpr>) -> crate::error::Result<f64> {
    match expr {
        Some(e) => e.eval(s),
        None => Ok(gpus(s) as f64),
    }
}

/// The value at dotted `path` of the resolved scenario, as an expression value; else why not.
fn field(root: &Value, path: &str) -> Result<evalexpr::Value<DefaultNumericTypes>, String> {
    let mut at = root;
    let mut walked = String::new();
    for seg in path.split('.') {
        let next = match at {
            Value::Mapping(m) => m.get(seg),
            Value::Sequence(v) => seg.parse::<usize>().ok().and_then(|i| v.get(i)),
            _ => None,
        };
        at = match next {
            Some(v) => v,
            None => {
                let keys = match at {
                    Value::Mapping(m) => m
                        .keys()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                let within = if walked.is_empty() {
                    "the scenario".to_string()
                } else {
                    format!("`{walked}`")
                };
                return Err(if keys.is_empty() {
                    format!("is not in the resolved scenario (`{seg}` is not a field of {within})")
                } else {
                    format!("is not in the resolved scenario ({within} has: {keys})")
                });
            }
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(seg);
    }
    match at {
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) => evalexpr::Value::Int(i),
            None => evalexpr::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => Ok(evalexpr::Value::String(s.clone())),
        Value::Bool(b) => Ok(evalexpr::Value::Boolean(*b)),
        Value::Null => Err("is not set in the resolved scenario".into()),
        Value::Mapping(_) => Err("is a mapping, not a number, string or boolean".into()),
        Value::Sequence(_) => Err("is a list, not a number, string or boolean".into()),
        Value::Tagged(_) => Err("is a tagged value, not a number, string or boolean".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load;

    fn scenario(sets: &[&str]) -> Scenario {
        let o: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        load(None, &o).unwrap()
    }

    #[test]
    fn price_per_gpu_type() {
        let e = CostExpr::parse(
            r#"cluster.instances * cluster.tensor_parallel * if(cluster.gpu == "h200", 3.7, 2.5)"#,
        )
        .unwrap();
        let h200 = scenario(&[
            "cluster.gpu=h200",
            "cluster.instances=3",
            "cluster.tensor_parallel=2",
        ]);
        assert_eq!(e.eval(&h200).unwrap(), 3.0 * 2.0 * 3.7);
        let h100 = scenario(&["cluster.instances=3"]);
        assert_eq!(e.eval(&h100).unwrap(), 3.0 * 2.5);
        assert_eq!(cost_of(&h200, None).unwrap(), 6.0);
    }

    #[test]
    fn bad_expressions_name_the_expression_and_field() {
        let s = scenario(&[]);
        for (text, says) in [
            (
                "cluster.instancs * 2",
                "field `cluster.instancs` is not in the resolved scenario (`cluster` has: instances",
            ),
            ("cluster * 2", "field `cluster` is a mapping"),
            ("cluster.gpu", "gives `\"h100-sxm\"`, not a number"),
            (
                "cluster.instances - 4",
                "gives 0: a cost must be a positive",
            ),
            ("cluster.gpu * 2", "--cost `cluster.gpu * 2`"),
        ] {
            let e = CostExpr::parse(text)
                .unwrap()
                .eval(&s)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        let e = CostExpr::parse("2 * (3").unwrap_err().to_string();
        assert!(e.contains("bad --cost `2 * (3`"), "{e}");
    }
}
