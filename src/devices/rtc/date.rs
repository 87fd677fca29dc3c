//! Proleptic Gregorian calendar arithmetic on Unix seconds (UTC, no leap
//! seconds), using the era/day-of-era decomposition: 400-year eras of
//! 146 097 days, years counted from March so that the leap day comes last.

/// Days from 0000-03-01 to 1970-01-01.
const UNIX_EPOCH_DAYS: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// Days since 1970-01-01.
    days: i64,
}

/// Days since 1970-01-01 of a date (out-of-range days roll over).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - UNIX_EPOCH_DAYS
}

impl Tm {
    /// Breaks down Unix time `secs`.
    pub fn from_unix(secs: i64) -> Tm {
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400) as u32;
        let z = days + UNIX_EPOCH_DAYS;
        let era = z.div_euclid(DAYS_PER_ERA);
        let day_of_era = z - era * DAYS_PER_ERA;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Tm {
            year,
            month,
            day,
            hour: tod / 3600,
            min: tod / 60 % 60,
            sec: tod % 60,
            days,
        }
    }

    /// Unix seconds of the (possibly edited) fields; out-of-range fields
    /// are clamped (month 1–12, day 1–31, hour 0–23, minute and second
    /// 0–59), days past the end of a month roll into the next.
    pub fn to_unix(self) -> i64 {
        let days = days_from_civil(self.year, self.month.clamp(1, 12), self.day.clamp(1, 31));
        days * 86_400
            + i64::from(self.hour.min(23)) * 3600
            + i64::from(self.min.min(59)) * 60
            + i64::from(self.sec.min(59))
    }

    /// Day of the week, 0 = Sunday.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.days + 4).rem_euclid(7) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // (unix seconds, y, m, d, h, min, s, weekday)
        type Row = (i64, i64, u32, u32, u32, u32, u32, u32);
        let table: &[Row] = &[
            (0, 1970, 1, 1, 0, 0, 0, 4),
            (951_782_400, 2000, 2, 29, 0, 0, 0, 2),
            (1_767_225_600, 2026, 1, 1, 0, 0, 0, 4),
            (1_767_225_600 + 59 * 86_400 + 3661, 2026, 3, 1, 1, 1, 1, 0),
            (4_102_444_799, 2099, 12, 31, 23, 59, 59, 4),
            (-1, 1969, 12, 31, 23, 59, 59, 3),
        ];
        for &(secs, y, m, d, h, mi, s, wd) in table {
            let tm = Tm::from_unix(secs);
            assert_eq!(
                (
                    tm.year,
                    tm.month,
                    tm.day,
                    tm.hour,
                    tm.min,
                    tm.sec,
                    tm.weekday()
                ),
                (y, m, d, h, mi, s, wd),
                "{secs}"
            );
            assert_eq!(tm.to_unix(), secs);
        }
    }

    #[test]
    fn round_trip_and_clamping() {
        let mut t = -5_000_000_000i64;
        while t < 300_000_000_000 {
            assert_eq!(Tm::from_unix(t).to_unix(), t);
            t += 86_399 * 37 + 12_345;
        }
        let mut tm = Tm::from_unix(1_767_225_600);
        tm.month = 13;
        tm.day = 0;
        tm.hour = 99;
        assert_eq!(Tm::from_unix(tm.to_unix()).month, 12);
        tm.month = 2;
        tm.day = 31;
        let rolled = Tm::from_unix(tm.to_unix());
        assert_eq!((rolled.month, rolled.day), (3, 3));
    }
}
