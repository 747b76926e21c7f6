//! A strict parser for the Prometheus text exposition format 0.0.4, enough to check our `/metrics`: `# HELP`
//! and `# TYPE` once per family and before its samples, valid names, quoted and escaped label values, no
//! duplicate series, histogram series named after their family, numeric values.

use std::collections::{BTreeMap, HashMap};

/// One series: its name (with any `_bucket`/`_sum`/`_count` suffix) and its labels.
pub type SeriesKey = (String, BTreeMap<String, String>);

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name → type keyword.
    pub types: HashMap<String, String>,
    /// Every sample.
    pub samples: HashMap<SeriesKey, f64>,
}

impl Exposition {
    /// The value of series `name{labels}`, if exported.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// The value of series `name{labels}`; panics naming it when missing.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("series {name}{labels:?} is missing"))
    }

    /// Every series of the family `name` (any labels).
    pub fn series(&self, name: &str) -> Vec<(&BTreeMap<String, String>, f64)> {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), value)| (labels, *value))
            .collect()
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `text`, failing with the line number and the reason on any deviation.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    let mut helped = HashMap::new();
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".into());
    }
    for (number, line) in text.lines().enumerate() {
        let fail = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest
                .split_once(' ')
                .ok_or_else(|| fail("HELP without text"))?;
            if !is_name(name) || helped.insert(name.to_owned(), ()).is_some() {
                return Err(fail("bad or repeated HELP"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| fail("TYPE without kind"))?;
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            if !is_name(name) || !known.contains(&kind) {
                return Err(fail("bad TYPE"));
            }
            if exposition
                .samples
                .keys()
                .any(|(series, _)| family_of(series, &exposition.types) == Some(name))
            {
                return Err(fail("TYPE after samples of its family"));
            }
            if exposition
                .types
                .insert(name.to_owned(), kind.to_owned())
                .is_some()
            {
                return Err(fail("repeated TYPE"));
            }
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let (key, value) = parse_sample(line).map_err(|why| fail(&why))?;
            if family_of(&key.0, &exposition.types).is_none() {
                return Err(fail("sample without a TYPE for its family"));
            }
            if exposition.samples.insert(key, value).is_some() {
                return Err(fail("duplicate series"));
            }
        }
    }
    Ok(exposition)
}

/// The declared family a series belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count`.
fn family_of<'a>(series: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(series) {
        return Some(series);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = series.strip_suffix(suffix)?;
        (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
    })
}

fn parse_sample(line: &str) -> Result<(SeriesKey, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name) {
        return Err("bad metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let value_text = rest.strip_prefix(' ').ok_or("no space before the value")?;
    if value_text.contains(' ') {
        return Err("timestamps are not expected".into());
    }
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        text => text
            .parse::<f64>()
            .map_err(|_| format!("bad value {text:?}"))?,
    };
    Ok(((name.to_owned(), labels), value))
}

/// Parses `k="v",...}` and returns what follows the `}`.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (label, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !is_name(label) {
            return Err(format!("bad label name {label:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape \\{other}")),
                },
                (_, c) => value.push(c),
            }
        };
        if labels.insert(label.to_owned(), value).is_some() {
            return Err(format!("repeated label {label}"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}
