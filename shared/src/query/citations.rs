//! Reading the `[n]` marks of an answer, and renumbering them so that `[k]`
//! names the k-th citation the client receives.

use std::collections::HashMap;

/// The passages an answer cites with `[n]` (also `[1, 3]`), in order of first
/// mention, without repeats and without numbers that name no passage.
pub fn cited_passages(answer: &str, passage_count: usize) -> Vec<usize> {
    let mut cited: Vec<usize> = Vec::new();
    let mut rest = answer;
    while let Some(open) = next_mark(rest) {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        for part in rest[..close].split(',') {
            if let Ok(number) = part.trim().parse::<usize>() {
                if (1..=passage_count).contains(&number) && !cited.contains(&number) {
                    cited.push(number);
                }
            }
        }
        rest = &rest[close + 1..];
    }
    cited
}

/// Where the next bracket that a `]` closes opens: the last `[` before the
/// first `]`, so a quoted `[[ compound command` does not swallow the `[1]`
/// after it.
fn next_mark(text: &str) -> Option<usize> {
    let first = text.find('[')?;
    let close = text[first..].find(']').map_or(text.len(), |at| first + at);
    text[..close].rfind('[')
}

/// Rewrites the answer's `[n]` marks from passage numbers to citation
/// numbers (`mapping`: passage → position in the citations list, from 1).
/// Marks that name no cited passage are dropped.
pub fn renumber_citations(answer: &str, mapping: &HashMap<usize, usize>) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(open) = next_mark(rest) {
        let Some(close) = rest[open..].find(']').map(|offset| open + offset) else {
            break;
        };
        let inside = &rest[open + 1..close];
        let numbers: Option<Vec<usize>> = inside
            .split(',')
            .map(|part| part.trim().parse().ok())
            .collect();
        match numbers {
            Some(numbers) if !inside.trim().is_empty() => {
                let mut renumbered: Vec<usize> = numbers
                    .iter()
                    .filter_map(|n| mapping.get(n).copied())
                    .collect();
                renumbered.dedup();
                if renumbered.is_empty() {
                    out.push_str(rest[..open].trim_end());
                } else {
                    out.push_str(&rest[..open]);
                    let list: Vec<String> = renumbered.iter().map(usize::to_string).collect();
                    out.push_str(&format!("[{}]", list.join(", ")));
                }
            }
            // Not a citation mark (e.g. "[sic]"): keep it as written.
            _ => out.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read_in_order_and_checked() {
        let cited = cited_passages("Pump stalls [2]. Fees apply [1, 2] and [9] [x].", 3);
        assert_eq!(cited, vec![2, 1]);
        assert!(cited_passages("No citations here.", 3).is_empty());
        // Brackets quoted from a document do not hide the marks after them.
        let quoted = "Use the [[ compound command to test files. [1] Arrays use a[i] [2].";
        assert_eq!(cited_passages(quoted, 3), vec![1, 2]);
        assert_eq!(
            renumber_citations(quoted, &HashMap::from([(1, 2), (2, 1)])),
            "Use the [[ compound command to test files. [2] Arrays use a[i] [1]."
        );
    }

    #[test]
    fn marks_are_renumbered_to_citation_order() {
        let mapping = HashMap::from([(4, 1), (2, 2)]);
        assert_eq!(
            renumber_citations(
                "Pumps stall [4]. Fees apply [2, 4]. Noise [9]. See [sic].",
                &mapping
            ),
            "Pumps stall [1]. Fees apply [2, 1]. Noise. See [sic]."
        );
    }
}
