//! Writing a run's results: `results.json` with every figure and the facts needed to repeat
//! it, `results.md` as Markdown tables, and the check that a results file holds every
//! scenario.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::figures::ScenarioResult;
use crate::machine::Machine;
use crate::scale::Scale;
use crate::scenarios::Scenario;

/// Everything one run wrote.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub machine: Machine,
    pub scale: Value,
    pub data_set: Value,
    pub server_binary: String,
    pub scenarios: Vec<ScenarioResult>,
}

impl Report {
    pub fn new(machine: Machine, scale: &Scale, data_set: Value, binary: &Path) -> Self {
        Self {
            machine,
            scale: serde_json::to_value(scale).unwrap_or(Value::Null),
            data_set,
            server_binary: binary.display().to_string(),
            scenarios: Vec::new(),
        }
    }

    /// Writes `results.json` and `results.md` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let machine = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "# Spiritus benchmark results\n");
        let _ = writeln!(
            out,
            "{} on {} ({} cores, {} MiB), commit {}{}; load average {:.2} at the start, \
             {:.2} at the end. Scale: {}.\n",
            machine.date,
            machine.cpu_model,
            machine.cores,
            machine.memory_mib,
            machine.git_commit,
            if machine.git_dirty {
                " with local changes"
            } else {
                ""
            },
            machine.load_average_at_start,
            machine.load_average_at_end,
            self.scale,
        );
        let _ = writeln!(out, "| scenario | figure | value | unit |");
        let _ = writeln!(out, "|---|---|---:|---|");
        for scenario in &self.scenarios {
            for figure in &scenario.figures {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    scenario.name, figure.name, figure.value, figure.unit
                );
            }
        }
        let _ = writeln!(out, "\n| target | measured | limit | met |");
        let _ = writeln!(out, "|---|---:|---:|---|");
        for scenario in &self.scenarios {
            for target in &scenario.targets {
                let _ = writeln!(
                    out,
                    "| {}: {} | {} | {} | {} |",
                    scenario.name,
                    target.target,
                    target.measured,
                    target.limit,
                    if target.met { "yes" } else { "**no**" }
                );
            }
        }
        out
    }
}

/// Scenarios of `all` that a results document lacks or contains without any figure.
pub fn missing_scenarios(results: &Value) -> Vec<&'static str> {
    let present: Vec<&str> = results
        .get("scenarios")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|scenario| {
            scenario
                .get("figures")
                .and_then(Value::as_array)
                .is_some_and(|figures| !figures.is_empty())
        })
        .filter_map(|scenario| scenario.get("name").and_then(Value::as_str))
        .collect();
    Scenario::ALL
        .iter()
        .map(|scenario| scenario.name())
        .filter(|name| !present.contains(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scenario(name: &str, figures: Value) -> Value {
        json!({ "name": name, "figures": figures })
    }

    #[test]
    fn a_complete_document_misses_nothing() {
        let all: Vec<Value> = Scenario::ALL
            .iter()
            .map(|s| {
                scenario(
                    s.name(),
                    json!([{ "name": "x", "value": 1.0, "unit": "ms" }]),
                )
            })
            .collect();

        assert!(missing_scenarios(&json!({ "scenarios": all })).is_empty());
    }

    #[test]
    fn absent_and_empty_scenarios_are_reported() {
        let document = json!({ "scenarios": [
            scenario("login", json!([{ "name": "login median", "value": 1.0, "unit": "ms" }])),
            scenario("audit", json!([])),
        ]});

        let missing = missing_scenarios(&document);

        assert!(missing.contains(&"audit"));
        assert!(missing.contains(&"footprint"));
        assert!(!missing.contains(&"login"));
        assert_eq!(missing.len(), Scenario::ALL.len() - 1);
        assert_eq!(missing_scenarios(&json!({})).len(), Scenario::ALL.len());
    }
}
