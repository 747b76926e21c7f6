//! Plain-text tables for `tune check` and `tune diff`.

use std::fmt::Write;

use crate::changes::Change;
use crate::check::{Finding, Status};

/// Column widths are capped so one long value cannot push the table off screen.
const COLUMN_CHARS_MAX: usize = 56;

/// The check table: key, current, recommended, status, importance, consequence.
pub fn findings_table(findings: &[Finding]) -> String {
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|finding| {
            let current = finding.current.clone().unwrap_or_else(|| "-".to_string());
            let status = match (&finding.status, finding.fails_check()) {
                (Status::Short, true) => "SHORT!".to_string(),
                (status, _) => status.word().to_string(),
            };
            let importance = finding.importance.name().to_string();
            let note = finding.consequence.clone();
            [
                finding.key.clone(),
                current,
                finding.recommended.clone(),
                status,
                importance,
                note,
            ]
        })
        .collect();
    let header = [
        "key",
        "current",
        "recommended",
        "status",
        "importance",
        "consequence",
    ]
    .map(String::from);
    table(&header, &rows)
}

/// The diff table: one `key: current -> new` line per change.
pub fn changes_table(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "nothing to change\n".to_string();
    }
    let show = |raw: &str| raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let width = changes
        .iter()
        .map(|change| change.key.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for change in changes {
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{:width$}  {} -> {}",
            change.key,
            show(&change.from),
            show(&change.to)
        );
    }
    text
}

fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = header.each_ref().map(|cell| cell.len());
    for row in rows {
        // The last column is free text and is not padded.
        for (width, cell) in widths.iter_mut().zip(row).take(N - 1) {
            *width = (*width).max(cell.chars().count()).min(COLUMN_CHARS_MAX);
        }
    }
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{:width$}  ", cell, width = widths[index]);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
