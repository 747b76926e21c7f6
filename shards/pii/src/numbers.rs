//! The three number kinds — resident IDs, bank cards, mobile phones — matched on whole digit groups
//! at the front of a [`Run`], with their checks (GB 11643 check character and birth date, Luhn,
//! mobile prefix).

use super::digits::{check_x_at, skip_digits, Group, Run};
use super::policy::PiiKind;

/// Longest number any kind matches, digits.
pub const NUMBER_DIGITS_MAX: usize = 19;
/// The value standing for the `X` check character of a resident ID.
pub const CHECK_X: u8 = 10;

/// A number found at the front of a run.
#[derive(Debug, Clone, Copy)]
pub struct FoundNumber {
    /// What it is.
    pub kind: PiiKind,
    /// Byte offset of the first replaced character.
    pub start: usize,
    /// Byte offset just past the last replaced character.
    pub end: usize,
    /// The digit values ([`CHECK_X`] for an ID's `X`).
    pub digits: [u8; NUMBER_DIGITS_MAX],
    /// How many entries of `digits` are meaningful.
    pub len: usize,
}

impl FoundNumber {
    /// The digit values.
    pub fn values(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}

/// Concatenates the digits of `groups` (each no longer than [`NUMBER_DIGITS_MAX`] in total).
fn concat(kind: PiiKind, groups: &[Group]) -> Option<FoundNumber> {
    let mut found = FoundNumber {
        kind,
        start: groups.first()?.start,
        end: groups.last()?.end,
        digits: [0; NUMBER_DIGITS_MAX],
        len: 0,
    };
    for group in groups {
        let values = group.values()?;
        found
            .digits
            .get_mut(found.len..found.len + values.len())?
            .copy_from_slice(values);
        found.len += values.len();
    }
    Some(found)
}

/// Whether the group lengths of `groups` start with `pattern`.
fn has_shape(groups: &[Group], pattern: &[usize]) -> bool {
    groups.len() >= pattern.len()
        && groups
            .iter()
            .zip(pattern)
            .all(|(group, &len)| group.len == len)
}

/// An 18-character resident ID at the front of `run`: shapes 18, 17+X, 6-8-4, 6-8-3+X.
pub fn match_resident_id(bytes: &[u8], run: &Run) -> Option<FoundNumber> {
    let groups = run.groups();
    let (used, with_x) = [
        (&[18][..], false),
        (&[17], true),
        (&[6, 8, 4], false),
        (&[6, 8, 3], true),
    ]
    .into_iter()
    .find(|(shape, with_x)| {
        has_shape(groups, shape)
            && (!with_x || check_x_at(bytes, groups[shape.len() - 1].end).is_some())
    })?;
    let mut found = concat(PiiKind::ResidentId, &groups[..used.len()])?;
    if with_x {
        found.end += check_x_at(bytes, found.end)?;
        found.digits[found.len] = CHECK_X;
        found.len += 1;
    }
    is_resident_id(found.values()).then_some(found)
}

/// GB 11643-1999: 17 digits, then a check character from a weighted sum mod 11; the first digit is
/// not 0 and digits 7..=14 are a real date `YYYYMMDD` with year 1900..=2099.
pub fn is_resident_id(values: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [u8; 11] = [1, 0, CHECK_X, 9, 8, 7, 6, 5, 4, 3, 2];
    if values.len() != 18 || values[0] == 0 || values[..17].contains(&CHECK_X) {
        return false;
    }
    let sum: u32 = values[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit) * weight)
        .sum();
    let number = |range: std::ops::Range<usize>| {
        values[range]
            .iter()
            .fold(0u32, |acc, &digit| acc * 10 + u32::from(digit))
    };
    CHECK[(sum % 11) as usize] == values[17]
        && is_date(number(6..10), number(10..12), number(12..14))
}

fn is_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&year) && (1..=days).contains(&day)
}

/// A bank card at the front of `run`: one group of 13..=19 digits, or groups of 4 with a last group
/// of 1..=4 (13..=19 in total), or 4-6-5 / 4-6-4; Luhn-valid, with a card-network first digit.
/// The longest candidate is tried first.
pub fn match_bank_card(run: &Run) -> Option<FoundNumber> {
    let groups = run.groups();
    let mut candidates: [usize; 6] = [0; 6];
    let mut count = 0;
    let mut push = |used: usize| {
        candidates[count] = used;
        count += 1;
    };
    if (13..=19).contains(&groups[0].len) {
        push(1);
    }
    for used in (4..=groups.len().min(5)).rev() {
        let total: usize = groups[..used].iter().map(|group| group.len).sum();
        let fours = groups[..used - 1].iter().all(|group| group.len == 4);
        if fours && (1..=4).contains(&groups[used - 1].len) && (13..=19).contains(&total) {
            push(used);
        }
    }
    if has_shape(groups, &[4, 6, 5]) || has_shape(groups, &[4, 6, 4]) {
        push(3);
    }
    candidates[..count]
        .iter()
        .filter_map(|&used| concat(PiiKind::BankCard, &groups[..used]))
        .find(|found| is_bank_card(found.values()))
}

/// Luhn-valid, and the first digits belong to a card network: 3 (Amex, JCB, Diners), 4 (Visa),
/// 5 (Mastercard), 6 (UnionPay, Discover), 9 (domestic), or 2221..=2720 (Mastercard 2-series).
/// Order numbers starting with a year (`2023…`) or a `1` are therefore never cards.
pub fn is_bank_card(values: &[u8]) -> bool {
    if !(13..=19).contains(&values.len()) {
        return false;
    }
    let network = match values.first() {
        Some(3..=6 | 9) => true,
        Some(2) => {
            let prefix = values[..4]
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d));
            (2221..=2720).contains(&prefix)
        }
        _ => false,
    };
    let sum: u32 = values
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            let digit = u32::from(digit);
            match index % 2 {
                0 => digit,
                _ if digit * 2 > 9 => digit * 2 - 9,
                _ => digit * 2,
            }
        })
        .sum();
    network && sum % 10 == 0
}

/// A mainland mobile number at the front of `run`: shapes 11, 3-4-4, 3-8, 7-4, or one group of 13
/// digits starting with the country code 86 (a separated `86`/`+86` prefix is its own group and is
/// left in place). The number is `1[3-9]` followed by 9 digits.
pub fn match_phone(bytes: &[u8], run: &Run) -> Option<FoundNumber> {
    let groups = run.groups();
    if groups[0].len == 13 && groups[0].digits[..2] == [8, 6] {
        let mut found = concat(PiiKind::Phone, &groups[..1])?;
        found.digits.copy_within(2..13, 0);
        found.len = 11;
        found.start = skip_digits(bytes, found.start, 2);
        return is_phone(found.values()).then_some(found);
    }
    let shapes: [&[usize]; 4] = [&[11], &[3, 4, 4], &[3, 8], &[7, 4]];
    let shape = shapes.into_iter().find(|shape| has_shape(groups, shape))?;
    let found = concat(PiiKind::Phone, &groups[..shape.len()])?;
    is_phone(found.values()).then_some(found)
}

/// `1[3-9]` followed by 9 digits.
pub fn is_phone(values: &[u8]) -> bool {
    values.len() == 11 && values[0] == 1 && (3..=9).contains(&values[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check character by the textbook formula, as a character.
    fn reference_check(first17: &[u8]) -> u8 {
        let sum: u32 = first17
            .iter()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * ((1u32 << (17 - i)) % 11))
            .sum();
        let check = (12 - sum % 11) % 11;
        check as u8 // 10 stands for X, as CHECK_X does
    }

    fn reference_luhn(values: &[u8]) -> bool {
        let mut sum = 0;
        let mut double = false;
        for &d in values.iter().rev() {
            let mut d = u32::from(d);
            if double {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
            double = !double;
        }
        sum % 10 == 0
    }

    #[test]
    fn resident_id_check_agrees_with_the_power_of_two_formula() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut values = [0u8; 18];
            let tail = format!("{:011}", state % 100_000_000_000);
            let head = [1, 1, 0, 1, 0, 5, 1, 9, 8, 8, 0, 2, 2, 9];
            values[..14].copy_from_slice(&head);
            for (slot, c) in values[14..17].iter_mut().zip(tail.bytes()) {
                *slot = c - b'0';
            }
            let expected = reference_check(&values[..17]);
            for check in 0..=CHECK_X {
                values[17] = check;
                assert_eq!(is_resident_id(&values), check == expected, "{values:?}");
            }
        }
    }

    #[test]
    fn dates_are_checked_with_leap_years() {
        assert!(is_date(2000, 2, 29));
        assert!(!is_date(1900, 2, 29));
        assert!(is_date(2024, 2, 29));
        assert!(!is_date(2023, 2, 29));
        assert!(!is_date(2023, 4, 31));
        assert!(!is_date(1899, 12, 31));
        assert!(!is_date(2023, 0, 1));
        assert!(!is_date(2023, 1, 0));
    }

    #[test]
    fn luhn_agrees_with_the_reference_for_every_check_digit() {
        for length in 13..=19 {
            let mut values: Vec<u8> = (0..length).map(|i| (i * 7 % 10) as u8).collect();
            values[0] = 6;
            for check in 0..10 {
                *values.last_mut().unwrap() = check;
                assert_eq!(is_bank_card(&values), reference_luhn(&values), "{values:?}");
            }
        }
        assert!(!is_bank_card(&[4; 12]));
        assert!(!is_bank_card(&[]));
    }

    #[test]
    fn mobile_prefixes() {
        for second in 0..10 {
            let values = [1, second, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            assert_eq!(is_phone(&values), second >= 3);
        }
    }
}
