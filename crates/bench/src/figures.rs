//! Scenario reports: named figures, the ceiling they are compared with, and the
//! performance targets with whether this run met them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One measured number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// A target and whether this run met it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: f64,
    pub limit: f64,
    pub met: bool,
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    /// What is measured, in one sentence.
    pub measures: String,
    /// What the figures are compared with, when anything.
    pub ceiling: Option<String>,
    pub parameters: Value,
    pub figures: Vec<Figure>,
    pub targets: Vec<TargetCheck>,
}

impl ScenarioResult {
    pub fn new(name: &str, measures: &str, parameters: Value) -> Self {
        Self {
            name: name.to_owned(),
            measures: measures.to_owned(),
            ceiling: None,
            parameters,
            figures: Vec::new(),
            targets: Vec::new(),
        }
    }

    pub fn with_ceiling(mut self, ceiling: &str) -> Self {
        self.ceiling = Some(ceiling.to_owned());
        self
    }

    pub fn figure(&mut self, name: &str, value: f64, unit: &str) {
        self.figures.push(Figure {
            name: name.to_owned(),
            value: round(value),
            unit: unit.to_owned(),
        });
    }

    /// Records a target that `measured` must not exceed.
    pub fn at_most(&mut self, target: &str, measured: f64, limit: f64) {
        self.targets.push(TargetCheck {
            target: target.to_owned(),
            measured: round(measured),
            limit,
            met: measured <= limit,
        });
    }

    /// Records a target that `measured` must reach.
    pub fn at_least(&mut self, target: &str, measured: f64, limit: f64) {
        self.targets.push(TargetCheck {
            target: target.to_owned(),
            measured: round(measured),
            limit,
            met: measured >= limit,
        });
    }
}

/// Four significant decimals are plenty for any figure here and keep the JSON readable.
fn round(value: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    (value * 10_000.0).round() / 10_000.0
}

/// `part / whole`, or 0 when `whole` is 0.
pub fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}
