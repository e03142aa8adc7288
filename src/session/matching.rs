//! Subset matching of `then:` against the JSON views.

use serde_json::Value;

/// Where `expected` and `actual` differ, as `path: expected X, found Y` lines.
pub fn subset_mismatches(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    Some(av) => subset_mismatches(ev, av, &p, out),
                    None => out.push(format!(
                        "{p}: expected {ev}, but the view has no such field"
                    )),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} entries, found {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset_mismatches(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (e, a) if scalar_eq(e, a) => {}
        (e, a) => out.push(format!("{path}: expected {e}, found {a}")),
    }
}

/// Scalars match by value, and a number matches the same digits as text.
fn scalar_eq(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        _ => e == a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subsets_match_and_differences_are_named() {
        let actual = json!({"blocked": true, "voicemail": {"locked": false, "failures": 2}, "extension": "101"});
        let mut out = Vec::new();
        subset_mismatches(
            &json!({"blocked": true, "extension": 101}),
            &actual,
            "",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        subset_mismatches(
            &json!({"voicemail": {"failures": 3}, "nope": 1}),
            &actual,
            "ext",
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "ext.voicemail.failures: expected 3, found 2",
                "ext.nope: expected 1, but the view has no such field"
            ]
        );
    }
}
