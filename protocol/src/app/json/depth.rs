//! The nesting guard: one linear pass that refuses JSON nesting deeper than a limit before any recursive
//! parser runs.
//!
//! simd-json builds its value tree recursively, so ~12,000 nested arrays (24 KB) overflowed a shard
//! thread's stack and took the whole process down. No `switchboard.json.v1` frame nests deeper than 3
//! (an object holding a list of objects, e.g. `history_result.messages`), so the limit leaves ample room
//! for unknown fields while keeping the parser's recursion a few frames deep.

use super::JsonError;

/// The deepest nesting of arrays and objects accepted in one text message (the top-level object is
/// depth 1). Frames need at most 3; unknown fields may add a little.
pub const JSON_NESTING_DEPTH_MAX: usize = 32;

/// Refuses `text` when its arrays and objects nest deeper than `depth_max`. Brackets inside strings
/// (including escaped quotes) do not count. Malformed input that stays within the limit is left for the
/// parser to report.
pub(super) fn check_depth(text: &[u8], depth_max: usize) -> Result<(), JsonError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > depth_max {
                    return Err(JsonError::TooDeep { depth_max });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain reference: the deepest point reached, counting brackets outside strings.
    fn reference_depth(text: &str) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for c in text.chars() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            } else if c == '[' || c == '{' {
                depth += 1;
                deepest = deepest.max(depth);
            } else if (c == ']' || c == '}') && depth > 0 {
                depth -= 1;
            }
        }
        deepest
    }

    #[test]
    fn limits_at_exactly_the_maximum() {
        for depth in [1usize, 3, 31, 32, 33, 100] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let verdict = check_depth(text.as_bytes(), JSON_NESTING_DEPTH_MAX);
            assert_eq!(
                verdict.is_err(),
                depth > JSON_NESTING_DEPTH_MAX,
                "depth {depth}"
            );
            assert_eq!(reference_depth(&text), depth);
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let deep_in_string = format!(
            r#"{{"kind":"send","text":"{}\"{}"}}"#,
            "[".repeat(500),
            "{".repeat(500)
        );
        assert_eq!(check_depth(deep_in_string.as_bytes(), 4), Ok(()));
        assert_eq!(reference_depth(&deep_in_string), 1);
    }

    #[test]
    fn unbalanced_closers_never_underflow() {
        let text = format!("{}{}", "]".repeat(100), "[".repeat(5));
        assert_eq!(
            check_depth(text.as_bytes(), 4),
            Err(JsonError::TooDeep { depth_max: 4 })
        );
    }
}
