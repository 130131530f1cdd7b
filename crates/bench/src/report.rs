//! Output: one JSON line per scenario on stdout (for `bench/results/*.jsonl`) and a
//! human summary on stderr.

use serde_json::Value;

/// Prints the JSON line and the summary.
pub fn emit(result: &Value, summary: &str) {
    println!("{result}");
    eprintln!("{summary}");
}
