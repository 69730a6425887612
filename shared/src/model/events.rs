//! Reading server-sent events (`text/event-stream`): what an
//! OpenAI-compatible server streams, and what `POST /query/ask` streams to a
//! client that asks for it.

/// One event: its name (`message` when it names none) and its `data:` lines
/// joined; `None` for a block without data (a comment or keep-alive).
pub fn parse_event(block: &str) -> Option<(String, String)> {
    let mut name = "message".to_string();
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    (!data.is_empty()).then(|| (name, data.join("\n")))
}

/// Where the first whole event in `buffer` ends, and where the next begins.
pub fn event_end(buffer: &str) -> Option<(usize, usize)> {
    ["\r\n\r\n", "\n\n"]
        .iter()
        .filter_map(|separator| {
            buffer
                .find(separator)
                .map(|end| (end, end + separator.len()))
        })
        .min()
}

/// Every event of a whole stream, in order.
pub fn parse_events(body: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let mut rest = body;
    while let Some((end, next)) = event_end(rest) {
        events.extend(parse_event(&rest[..end]));
        rest = &rest[next..];
    }
    events.extend(parse_event(rest));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_with_their_names_and_data() {
        let body = ": keep-alive\n\nevent: answer\ndata: {\"text\":\"a\"}\r\n\r\ndata: line one\ndata: line two\n\n";
        assert_eq!(
            parse_events(body),
            vec![
                ("answer".to_string(), "{\"text\":\"a\"}".to_string()),
                ("message".to_string(), "line one\nline two".to_string()),
            ]
        );
    }
}
