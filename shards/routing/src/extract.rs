//! Hand-written slot extractors: order number, e-mail, phone, video id, amount and date.
//!
//! They scan characters directly rather than using regular expressions: the patterns are few and simple,
//! the code has no dependency, and each extractor is a small function that is easy to test case by case.
//! Extraction runs on width-folded text (full-width digits become ASCII) but keeps letter case, because
//! video ids such as `BV1xx411c7mD` are case-sensitive.

use serde::Deserialize;

/// Which hand-written extractor fills a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractorKind {
    /// A run of digits whose length lies in the slot's `digits_min..=digits_max`.
    OrderId,
    /// `local@domain.tld`.
    Email,
    /// A mainland mobile number (11 digits starting 13–19, optional `+86`) or `+` and 8–15 digits.
    Phone,
    /// A `BV` id (`BV` + 10 letters/digits) or an `av` id (`av` + at least 5 digits).
    VideoId,
    /// A number next to a currency marker (`¥`, `$`, `元`, `块`, `rmb`, `usd`, …), as `"12.50 CNY"`.
    Amount,
    /// `2024-03-05`, `2024/3/5`, `2024年3月5日`, `3月5日`, or today/yesterday in either language.
    Date,
}

/// A configured extractor: the kind plus its parameters from the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extractor {
    /// Which extractor runs.
    pub kind: ExtractorKind,
    /// Fewest digits an order number may have (order ids only).
    pub digits_min: usize,
    /// Most digits an order number may have (order ids only).
    pub digits_max: usize,
}

impl Extractor {
    /// Runs the extractor on `text`, returning the first match in a canonical form.
    pub fn extract(&self, text: &str) -> Option<String> {
        let chars: Vec<char> = text.chars().map(fold_width).collect();
        match self.kind {
            ExtractorKind::OrderId => order_id(&chars, self.digits_min, self.digits_max),
            ExtractorKind::Email => email(&chars),
            ExtractorKind::Phone => phone(&chars),
            ExtractorKind::VideoId => video_id(&chars),
            ExtractorKind::Amount => amount(&chars),
            ExtractorKind::Date => date(&chars),
        }
    }
}

/// Full-width ASCII to ASCII, case kept.
fn fold_width(c: char) -> char {
    let code = c as u32;
    match code {
        0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Maximal runs of ASCII digits as `(start, end)` index pairs.
fn digit_runs(chars: &[char]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

fn collect(chars: &[char]) -> String {
    chars.iter().collect()
}

fn order_id(chars: &[char], digits_min: usize, digits_max: usize) -> Option<String> {
    digit_runs(chars)
        .into_iter()
        .filter(|&(s, _)| !inside_video_id(chars, s))
        .find(|&(s, e)| (digits_min..=digits_max).contains(&(e - s)) && !is_mobile(&chars[s..e]))
        .map(|(s, e)| collect(&chars[s..e]))
}

/// True when the digit run starting at `s` belongs to an alphanumeric token beginning with `bv` or `av`.
fn inside_video_id(chars: &[char], s: usize) -> bool {
    let mut start = s;
    while start > 0 && chars[start - 1].is_ascii_alphanumeric() {
        start -= 1;
    }
    let prefix: String = chars[start..s.min(start + 2)]
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    s - start >= 2 && (prefix == "bv" || prefix == "av")
}

fn is_mobile(digits: &[char]) -> bool {
    digits.len() == 11 && digits[0] == '1' && ('3'..='9').contains(&digits[1])
}

fn email(chars: &[char]) -> Option<String> {
    let local_ok = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain_ok = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    for (at, _) in chars.iter().enumerate().filter(|(_, &c)| c == '@') {
        let mut start = at;
        while start > 0 && local_ok(chars[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < chars.len() && domain_ok(chars[end]) {
            end += 1;
        }
        while end > at + 1 && chars[end - 1] == '.' {
            end -= 1;
        }
        let domain = collect(&chars[at + 1..end]);
        let tld_ok = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        });
        if start < at && tld_ok {
            return Some(collect(&chars[start..end]).to_ascii_lowercase());
        }
    }
    None
}

fn phone(chars: &[char]) -> Option<String> {
    let mut i = 0;
    while i < chars.len() {
        let plus = chars[i] == '+';
        if !(plus || chars[i].is_ascii_digit()) || (i > 0 && chars[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        // Digits with single spaces or hyphens between groups, as people type phone numbers.
        let mut digits = String::new();
        let mut j = if plus { i + 1 } else { i };
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(chars[j]);
                j += 1;
            } else if (chars[j] == ' ' || chars[j] == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        let bytes: Vec<char> = digits.chars().collect();
        if is_mobile(&bytes) {
            return Some(digits);
        }
        if bytes.len() == 13 && digits.starts_with("86") && is_mobile(&bytes[2..]) {
            return Some(digits[2..].to_string());
        }
        if plus && (8..=15).contains(&bytes.len()) {
            return Some(format!("+{digits}"));
        }
        i = j.max(i + 1);
    }
    None
}

fn video_id(chars: &[char]) -> Option<String> {
    for i in 0..chars.len().saturating_sub(1) {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let (a, b) = (
            chars[i].to_ascii_lowercase(),
            chars[i + 1].to_ascii_lowercase(),
        );
        if !boundary {
            continue;
        }
        if a == 'b' && b == 'v' {
            let body = &chars[i + 2..];
            let len = body
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if len == 10 {
                return Some(format!("BV{}", collect(&body[..10])));
            }
        } else if a == 'a' && b == 'v' {
            let body = &chars[i + 2..];
            let len = body.iter().take_while(|c| c.is_ascii_digit()).count();
            let alnum = body
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if len >= 5 && len == alnum {
                return Some(format!("av{}", collect(&body[..len])));
            }
        }
    }
    None
}

/// Markers written before the number.
const CURRENCY_PREFIXES: &[(&str, &str)] = &[
    ("¥", "CNY"),
    ("￥", "CNY"),
    ("$", "USD"),
    ("rmb", "CNY"),
    ("usd", "USD"),
];
/// Markers written after the number (matched case-insensitively, optional space between).
const CURRENCY_SUFFIXES: &[(&str, &str)] = &[
    ("元", "CNY"),
    ("块", "CNY"),
    ("rmb", "CNY"),
    ("yuan", "CNY"),
    ("cny", "CNY"),
    ("usd", "USD"),
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("刀", "USD"),
    ("硬币", "coins"),
    ("coins", "coins"),
    ("b币", "B-coins"),
];

fn amount(chars: &[char]) -> Option<String> {
    let lower: Vec<char> = chars.iter().map(|c| c.to_ascii_lowercase()).collect();
    let mut i = 0;
    while i < lower.len() {
        if !lower[i].is_ascii_digit()
            || (i > 0 && (lower[i - 1].is_ascii_digit() || lower[i - 1] == '.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < lower.len()
            && (lower[end].is_ascii_digit() || lower[end] == ',' || lower[end] == '.')
        {
            end += 1;
        }
        while end > start && !lower[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let number: String = lower[start..end].iter().filter(|&&c| c != ',').collect();
        let before = collect(&lower[..start]);
        let before = before.trim_end();
        let after = collect(&lower[end..]);
        let after = after.trim_start();
        let currency = CURRENCY_PREFIXES
            .iter()
            .find(|(marker, _)| before.ends_with(marker))
            .or_else(|| {
                CURRENCY_SUFFIXES
                    .iter()
                    .find(|(marker, _)| after.starts_with(marker))
            })
            .map(|&(_, code)| code);
        if let (Some(code), Ok(value)) = (currency, number.parse::<f64>()) {
            return Some(format!("{value:.2} {code}"));
        }
        i = end.max(i + 1);
    }
    None
}

/// Reads up to `max` digits at `i`, returning the value and the index after them.
fn number_at(chars: &[char], i: usize, max: usize) -> Option<(u32, usize)> {
    let len = chars[i.min(chars.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if len == 0 || len > max {
        return None;
    }
    let value = collect(&chars[i..i + len]).parse().ok()?;
    Some((value, i + len))
}

fn date(chars: &[char]) -> Option<String> {
    for i in 0..chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            continue;
        }
        if let Some(found) = full_date(chars, i).or_else(|| month_day(chars, i)) {
            return Some(found);
        }
    }
    let text = collect(chars).to_lowercase();
    const RELATIVE: &[(&str, &str)] = &[
        ("前天", "2 days ago"),
        ("昨天", "yesterday"),
        ("今天", "today"),
        ("yesterday", "yesterday"),
        ("today", "today"),
    ];
    RELATIVE
        .iter()
        .find(|(word, _)| text.contains(word))
        .map(|&(_, canonical)| canonical.to_string())
}

fn valid(month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` or `YYYY年M月D日`.
fn full_date(chars: &[char], i: usize) -> Option<String> {
    let (year, j) = number_at(chars, i, 4)?;
    if !(2000..=2100).contains(&year) || j >= chars.len() {
        return None;
    }
    let separator = chars[j];
    if !matches!(separator, '-' | '/' | '.' | '年') {
        return None;
    }
    let (month, k) = number_at(chars, j + 1, 2)?;
    let month_separator = if separator == '年' { '月' } else { separator };
    if chars.get(k) != Some(&month_separator) {
        return None;
    }
    let (day, _) = number_at(chars, k + 1, 2)?;
    valid(month, day).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// `M月D日` or `M月D号`.
fn month_day(chars: &[char], i: usize) -> Option<String> {
    let (month, j) = number_at(chars, i, 2)?;
    if chars.get(j) != Some(&'月') {
        return None;
    }
    let (day, k) = number_at(chars, j + 1, 2)?;
    let suffix_ok = matches!(chars.get(k), Some('日' | '号')) || k == chars.len();
    (suffix_ok && valid(month, day)).then(|| format!("{month:02}-{day:02}"))
}
