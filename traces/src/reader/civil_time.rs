//! `YYYY-MM-DD HH:MM:SS[.fffffffff]` wall-clock time to integer nanoseconds since 1970-01-01,
//! exactly, with integer arithmetic (no time zone: the text is taken as UTC, and since arrivals
//! are relative to the first row only differences matter).

/// Nanoseconds since 1970-01-01 00:00:00, or the reason the text is not a valid time.
///
/// Accepted: a four-digit year 1970–2500, month 01–12, a day that exists in that month (leap
/// years by the Gregorian rule), hour 00–23, minute 00–59, second 00–59, then optionally `.` and
/// 1 to 9 fractional digits (the Azure traces write 7). Leading and trailing blanks are not
/// accepted here (the CSV reader trims fields).
pub(super) fn parse_ns(text: &str) -> Result<u64, &'static str> {
    const FORMAT: &str = "expected YYYY-MM-DD HH:MM:SS.fffffff";
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(FORMAT);
    }
    let year = digits(&b[0..4]).ok_or(FORMAT)?;
    let month = digits(&b[5..7]).ok_or(FORMAT)?;
    let day = digits(&b[8..10]).ok_or(FORMAT)?;
    let hour = digits(&b[11..13]).ok_or(FORMAT)?;
    let minute = digits(&b[14..16]).ok_or(FORMAT)?;
    let second = digits(&b[17..19]).ok_or(FORMAT)?;
    let mut nanos = 0;
    match &b[19..] {
        [] => {}
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            nanos = digits(frac).ok_or(FORMAT)? * 10u64.pow(9 - frac.len() as u32);
        }
        _ => return Err(FORMAT),
    }
    if !(1970..=2500).contains(&year) {
        return Err("year out of range 1970-2500");
    }
    if !(1..=12).contains(&month) {
        return Err("month out of range 01-12");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Ok(seconds * 1_000_000_000 + nanos)
}

/// The decimal value of an all-digit slice (at most 9 digits here), or None.
fn digits(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (year ≥ 1970), by counting: whole years, then whole
/// months of the final year. At most 531 loop turns; simple enough to be obviously right.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year_days: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    let month_days: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    year_days + month_days + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_ns("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_ns("1970-01-02 00:00:00.5"), Ok(86_400_500_000_000));
        // date -u -d '2023-11-16 18:17:03' +%s = 1700158623
        assert_eq!(
            parse_ns("2023-11-16 18:17:03.9799600"),
            Ok(1_700_158_623_979_960_000)
        );
        // date -u -d '2000-02-29 23:59:59' +%s = 951868799
        assert_eq!(
            parse_ns("2000-02-29 23:59:59.000000001"),
            Ok(951_868_799_000_000_001)
        );
        // date -u -d '2024-03-01 00:00:00' +%s = 1709251200 (after a leap day)
        assert_eq!(
            parse_ns("2024-03-01 00:00:00.0000000"),
            Ok(1_709_251_200_000_000_000)
        );
        // date -u -d '2100-03-01 00:00:00' +%s = 4107542400 (2100 is not a leap year)
        assert_eq!(
            parse_ns("2100-03-01 00:00:00"),
            Ok(4_107_542_400_000_000_000)
        );
    }

    #[test]
    fn fractions_are_exact() {
        let base = parse_ns("2023-11-16 18:17:03").unwrap();
        assert_eq!(parse_ns("2023-11-16 18:17:03.0000001").unwrap() - base, 100);
        assert_eq!(
            parse_ns("2023-11-16 18:17:03.9999999").unwrap() - base,
            999_999_900
        );
        assert_eq!(
            parse_ns("2023-11-16 18:17:03.123456789").unwrap() - base,
            123_456_789
        );
    }

    #[test]
    fn consecutive_days_differ_by_one_day_across_years() {
        // Every day from 1999-12-31 to 2101-01-01 is 86400 s after the one before.
        let mut previous = parse_ns("1999-12-31 00:00:00").unwrap();
        for year in 2000..=2100 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let now = parse_ns(&format!("{year:04}-{month:02}-{day:02} 00:00:00")).unwrap();
                    assert_eq!(now - previous, 86_400_000_000_000, "{year}-{month}-{day}");
                    previous = now;
                }
            }
        }
    }

    #[test]
    fn rejects_bad_text() {
        for (text, reason) in [
            (
                "2023-11-16T18:17:03.97",
                "expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
            ("2023-11-16 18:17", "expected YYYY-MM-DD HH:MM:SS.fffffff"),
            (
                "2023-11-16 18:17:03.",
                "expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
            (
                "2023-11-16 18:17:03.1234567890",
                "expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
            (
                "2023-1a-16 18:17:03",
                "expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
            (
                "2023-11-16 18:17:03,5",
                "expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
            ("2023-13-16 18:17:03", "month out of range 01-12"),
            ("2023-02-29 18:17:03", "day out of range for the month"),
            ("2023-04-31 18:17:03", "day out of range for the month"),
            ("2023-04-00 18:17:03", "day out of range for the month"),
            ("2023-04-01 24:00:00", "time of day out of range"),
            ("2023-04-01 23:60:00", "time of day out of range"),
            ("1969-12-31 23:59:59", "year out of range 1970-2500"),
        ] {
            assert_eq!(parse_ns(text), Err(reason), "{text}");
        }
    }
}
