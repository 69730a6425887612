//! Business metrics — documents processed and failed, questions answered and
//! not found — as CloudWatch embedded metric format (EMF) log lines: in
//! Lambda, CloudWatch Logs turns each line into a metric, with no API call
//! and no added latency. Elsewhere nothing is written.

use std::sync::OnceLock;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    DocumentsProcessed,
    DocumentsFailed,
    QuestionsAnswered,
    AnswersNotFound,
    /// A streamed answer that failed after its 200 was sent: API Gateway
    /// counts no 5xx for it, so it is counted here.
    AnswersFailed,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::DocumentsProcessed => "DocumentsProcessed",
            Metric::DocumentsFailed => "DocumentsFailed",
            Metric::QuestionsAnswered => "QuestionsAnswered",
            Metric::AnswersNotFound => "AnswersNotFound",
            Metric::AnswersFailed => "AnswersFailed",
        }
    }
}

/// The namespace and the function's name, when running in Lambda.
fn target() -> Option<&'static (String, String)> {
    static TARGET: OnceLock<Option<(String, String)>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()?;
            let namespace = std::env::var("ASKDOCS_METRICS_NAMESPACE")
                .ok()
                .filter(|namespace| !namespace.trim().is_empty())
                .unwrap_or_else(|| "askdocs".to_string());
            Some((namespace, function))
        })
        .as_ref()
}

/// One EMF line counting `metric` once for `function`.
pub fn emf_line(namespace: &str, function: &str, metric: Metric, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
            }],
        },
        "Function": function,
        metric.name(): 1,
    })
    .to_string()
}

/// Counts `metric` once (an EMF line on stdout, in Lambda only).
pub fn count(metric: Metric) {
    if let Some((namespace, function)) = target() {
        let line = emf_line(
            namespace,
            function,
            metric,
            chrono::Utc::now().timestamp_millis(),
        );
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_and_carries_its_metric() {
        let line = emf_line(
            "askdocs",
            "processing",
            Metric::DocumentsFailed,
            1_764_000_000_000,
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["DocumentsFailed"], 1);
        assert_eq!(value["Function"], "processing");
        let declared = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "askdocs");
        assert_eq!(declared["Metrics"][0]["Name"], "DocumentsFailed");
        assert_eq!(declared["Dimensions"][0][0], "Function");
        assert_eq!(value["_aws"]["Timestamp"], 1_764_000_000_000i64);
    }
}
