//! Time: the working calendars of nodes, and when a node can ship an order placed at a
//! given instant. Days are numbered from 1970-01-01 (day 0), so that dates compare and
//! add as plain numbers in programs.
//!
//! A node's calendar is its time zone, its cutoff, its working weekdays, its holidays
//! and its handling days. Nodes that share all five share one [`Calendar`] (the network
//! keeps each distinct calendar once), and the ship date of an order is computed once
//! per calendar (see `eval::World::ship_times`), not per node or per line.

use crate::record::{DataError, Record};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::fmt::temporal::Pieces;
use jiff::tz::TimeZone;
use serde_json::Value;

/// The weekdays, Monday first, as data names them.
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The most handling days a node may declare: a year of working days.
const MAX_HANDLING_DAYS: i64 = 366;

const EPOCH: Date = Date::constant(1970, 1, 1);

/// A date as its day number (days since 1970-01-01).
pub fn day_number(date: Date) -> i32 {
    (date - EPOCH).get_days()
}

/// The date of a day number; `None` beyond the years 9999 / -9999.
pub fn date_of(day: i32) -> Option<Date> {
    EPOCH.checked_add(jiff::Span::new().days(day)).ok()
}

/// A day number as an ISO date (`2026-12-07`).
pub fn iso_date(day: i32) -> String {
    date_of(day).map_or_else(|| format!("day {day}"), |d| d.to_string())
}

/// Monday 0 … Sunday 6.
fn weekday_index(day: i32) -> usize {
    // 1970-01-01 was a Thursday (index 3).
    (day + 3).rem_euclid(7) as usize
}

/// When an order was placed: the instant, and its date on the shopper's clock (the
/// offset the timestamp is written with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub at: Timestamp,
    pub day: i32,
}

impl Placed {
    /// Reads an RFC 3339 timestamp with its offset: `2026-12-07T15:30:00-06:00`.
    pub fn parse(text: &str) -> Result<Placed, String> {
        let at: Timestamp = text.parse().map_err(|e| {
            format!("expected an RFC 3339 time with an offset, like \"2026-12-07T15:30:00-06:00\", found \"{text}\" ({e})")
        })?;
        let pieces = Pieces::parse(text).map_err(|e| format!("\"{text}\": {e}"))?;
        Ok(Placed {
            at,
            day: day_number(pieces.date()),
        })
    }
}

/// A node's working calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub time_zone: TimeZone,
    /// Minutes after local midnight; an order placed at or after it reaches the node the
    /// next working day. `None`: any time of a working day.
    pub cutoff: Option<u16>,
    /// Monday first.
    pub working_days: [bool; 7],
    /// Day numbers, sorted, without repeats.
    pub holidays: Vec<i32>,
    pub handling_days: u32,
}

/// When a node can ship one order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShipTimes {
    /// The earliest ship date (a day number).
    pub ship_day: i32,
    /// Calendar days from the order's date (on the shopper's clock) to the ship date.
    pub ship_days: i32,
    /// The node's working days after the day of the order (or the first working day
    /// after it) up to the ship date.
    pub business_days: i32,
}

impl Default for Calendar {
    /// UTC, Monday to Friday, no cutoff, no holidays, no handling days.
    fn default() -> Calendar {
        Calendar {
            time_zone: TimeZone::UTC,
            cutoff: None,
            working_days: [true, true, true, true, true, false, false],
            holidays: Vec::new(),
            handling_days: 0,
        }
    }
}

impl Calendar {
    /// Reads a node's calendar fields: `timezone`, `cutoff`, `working_days`, `holidays`,
    /// `handling_days`.
    pub(crate) fn read(record: &Record) -> Result<Calendar, DataError> {
        let mut calendar = Calendar::default();
        if let Some(name) = record.string("timezone")? {
            calendar.time_zone = TimeZone::get(name).map_err(|_| {
                record.error(
                    "timezone",
                    format!("unknown time zone \"{name}\": expected an IANA name such as \"America/Chicago\""),
                )
            })?;
        }
        if let Some(text) = record.string("cutoff")? {
            calendar.cutoff = Some(parse_cutoff(text).ok_or_else(|| {
                record.error(
                    "cutoff",
                    format!("expected a local time from \"00:00\" to \"23:59\", like \"14:00\", found \"{text}\""),
                )
            })?);
        }
        if let Some(days) = record.array("working_days")? {
            let mut working = [false; 7];
            for (i, day) in days.iter().enumerate() {
                let index = day.as_str().and_then(weekday_named).ok_or_else(|| {
                    record.error(
                        "working_days",
                        format!(
                            "[{i}]: expected a weekday such as \"monday\" or \"mon\", found {}",
                            crate::record::describe(day)
                        ),
                    )
                })?;
                working[index] = true;
            }
            if !working.contains(&true) {
                return Err(record.error("working_days", "a node needs at least one working day"));
            }
            calendar.working_days = working;
        }
        if let Some(days) = record.array("holidays")? {
            for (i, day) in days.iter().enumerate() {
                let date = match day {
                    Value::String(text) => text.parse::<Date>().ok(),
                    _ => None,
                };
                let date = date.ok_or_else(|| {
                    record.error(
                        "holidays",
                        format!(
                            "[{i}]: expected a date like \"2026-12-25\", found {}",
                            crate::record::describe(day)
                        ),
                    )
                })?;
                calendar.holidays.push(day_number(date));
            }
            calendar.holidays.sort_unstable();
            calendar.holidays.dedup();
        }
        let handling_days = record.integer("handling_days", 0, Some(0))?;
        if handling_days > MAX_HANDLING_DAYS {
            return Err(record.error(
                "handling_days",
                format!("must be at most {MAX_HANDLING_DAYS}, not {handling_days}"),
            ));
        }
        calendar.handling_days = handling_days as u32;
        Ok(calendar)
    }

    pub fn is_working(&self, day: i32) -> bool {
        self.working_days[weekday_index(day)] && self.holidays.binary_search(&day).is_err()
    }

    /// The first working day on or after `day`. Every calendar has a working weekday and
    /// finitely many holidays, so the search ends.
    pub fn working_on_or_after(&self, mut day: i32) -> i32 {
        while !self.is_working(day) {
            day += 1;
        }
        day
    }

    /// When the node can ship an order placed at `placed`.
    pub fn ship_times(&self, placed: Placed) -> ShipTimes {
        let local = self.time_zone.to_datetime(placed.at);
        let local_day = day_number(local.date());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let before_cutoff = self.cutoff.is_none_or(|cutoff| minute < cutoff);
        let received = match self.is_working(local_day) && before_cutoff {
            true => local_day,
            false => self.working_on_or_after(local_day + 1),
        };
        let mut ship_day = received;
        for _ in 0..self.handling_days {
            ship_day = self.working_on_or_after(ship_day + 1);
        }
        // Working days counted from the day of the order, or the first working one.
        let first = self.working_on_or_after(local_day);
        let business_days = (first + 1..=ship_day)
            .filter(|&d| self.is_working(d))
            .count() as i32;
        ShipTimes {
            ship_day,
            ship_days: ship_day - placed.day,
            business_days,
        }
    }

    /// How the calendar reads in explanations: "America/Chicago, Mon–Fri, cutoff 14:00,
    /// 1 handling day, 3 holidays".
    pub fn describe(&self) -> String {
        let zone = self.time_zone.iana_name().unwrap_or("UTC");
        let days: Vec<&str> = WEEKDAYS
            .iter()
            .zip(self.working_days)
            .filter(|(_, working)| *working)
            .map(|(name, _)| &name[..3])
            .collect();
        let mut parts = vec![zone.to_string(), days.join(" ")];
        if let Some(cutoff) = self.cutoff {
            parts.push(format!("cutoff {:02}:{:02}", cutoff / 60, cutoff % 60));
        }
        parts.push(format!(
            "{} handling day{}",
            self.handling_days,
            if self.handling_days == 1 { "" } else { "s" }
        ));
        if !self.holidays.is_empty() {
            parts.push(format!("{} holidays", self.holidays.len()));
        }
        parts.join(", ")
    }
}

fn weekday_named(name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .position(|day| *day == name || (name.len() == 3 && day.starts_with(&name)))
}

/// `"14:00"` as minutes after midnight.
fn parse_cutoff(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Weekday;

    fn weekday(day: i32) -> Weekday {
        date_of(day).unwrap().weekday()
    }

    fn chicago(cutoff: &str, handling: u32, holidays: &[&str]) -> Calendar {
        Calendar {
            time_zone: TimeZone::get("America/Chicago").unwrap(),
            cutoff: parse_cutoff(cutoff),
            holidays: holidays
                .iter()
                .map(|d| day_number(d.parse().unwrap()))
                .collect(),
            handling_days: handling,
            ..Calendar::default()
        }
    }

    fn ship(calendar: &Calendar, placed: &str) -> (String, i32, i32) {
        let times = calendar.ship_times(Placed::parse(placed).unwrap());
        (
            iso_date(times.ship_day),
            times.ship_days,
            times.business_days,
        )
    }

    #[test]
    fn day_numbers_round_trip_and_know_their_weekday() {
        let date: Date = "2026-12-07".parse().unwrap();
        assert_eq!(iso_date(day_number(date)), "2026-12-07");
        assert_eq!(weekday(day_number(date)), Weekday::Monday);
        assert_eq!(weekday(0), Weekday::Thursday);
        assert_eq!(weekday(-1), Weekday::Wednesday);
    }

    #[test]
    fn cutoffs_weekends_and_holidays() {
        let c = chicago("14:00", 0, &["2026-12-25"]);
        // Monday 13:59 Chicago: same day; 14:00: the next day.
        assert_eq!(
            ship(&c, "2026-12-07T13:59:00-06:00"),
            ("2026-12-07".into(), 0, 0)
        );
        assert_eq!(
            ship(&c, "2026-12-07T14:00:00-06:00"),
            ("2026-12-08".into(), 1, 1)
        );
        // Friday after the cutoff, Saturday, Sunday: Monday.
        assert_eq!(
            ship(&c, "2026-12-11T15:00:00-06:00"),
            ("2026-12-14".into(), 3, 1)
        );
        assert_eq!(
            ship(&c, "2026-12-12T09:00:00-06:00"),
            ("2026-12-14".into(), 2, 0)
        );
        // Christmas Eve after the cutoff: Christmas is a holiday, then the weekend.
        assert_eq!(
            ship(&c, "2026-12-24T16:00:00-06:00"),
            ("2026-12-28".into(), 4, 1)
        );
        // The same instant written in UTC: the node's clock decides the cutoff, the
        // shopper's the day counted from.
        assert_eq!(
            ship(&c, "2026-12-07T20:30:00Z"),
            ("2026-12-08".into(), 1, 1)
        );
    }

    #[test]
    fn handling_days_count_working_days() {
        let c = chicago("12:00", 2, &[]);
        // Thursday morning, two handling days: Monday.
        assert_eq!(
            ship(&c, "2026-12-10T09:00:00-06:00"),
            ("2026-12-14".into(), 4, 2)
        );
        // Across the year end.
        let c = chicago("12:00", 1, &["2027-01-01"]);
        assert_eq!(
            ship(&c, "2026-12-31T13:00:00-06:00"),
            ("2027-01-05".into(), 5, 2)
        );
    }

    #[test]
    fn daylight_saving_changes_move_the_cutoff_with_the_clock() {
        let c = chicago("14:00", 0, &[]);
        // 2026-03-09 (Monday after the spring change, CDT = UTC-5): 13:30 local is
        // 18:30 UTC, before the cutoff; in standard time it would have been after.
        assert_eq!(
            ship(&c, "2026-03-09T18:30:00Z"),
            ("2026-03-09".into(), 0, 0)
        );
        assert_eq!(
            ship(&c, "2026-03-09T19:30:00Z"),
            ("2026-03-10".into(), 1, 1)
        );
        // 2026-11-02 (Monday after the autumn change, CST = UTC-6).
        assert_eq!(
            ship(&c, "2026-11-02T19:30:00Z"),
            ("2026-11-02".into(), 0, 0)
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let read = |json: Value| {
            let record = Record::new("nodes[0] \"DC\"".into(), &json).unwrap();
            Calendar::read(&record).map(|_| ()).unwrap_err().to_string()
        };
        insta::assert_snapshot!(
            [
                read(serde_json::json!({"timezone": "Mars/Base"})),
                read(serde_json::json!({"cutoff": "25:00"})),
                read(serde_json::json!({"cutoff": "2pm"})),
                read(serde_json::json!({"working_days": ["monday", "funday"]})),
                read(serde_json::json!({"working_days": []})),
                read(serde_json::json!({"holidays": ["2026-12-25", "christmas"]})),
                read(serde_json::json!({"holidays": ["2026-02-30"]})),
                read(serde_json::json!({"handling_days": -1})),
                read(serde_json::json!({"handling_days": 400})),
            ]
            .join("\n"),
            @r#"
        nodes[0] "DC": field `timezone`: unknown time zone "Mars/Base": expected an IANA name such as "America/Chicago"
        nodes[0] "DC": field `cutoff`: expected a local time from "00:00" to "23:59", like "14:00", found "25:00"
        nodes[0] "DC": field `cutoff`: expected a local time from "00:00" to "23:59", like "14:00", found "2pm"
        nodes[0] "DC": field `working_days`: [1]: expected a weekday such as "monday" or "mon", found "funday"
        nodes[0] "DC": field `working_days`: a node needs at least one working day
        nodes[0] "DC": field `holidays`: [1]: expected a date like "2026-12-25", found "christmas"
        nodes[0] "DC": field `holidays`: [0]: expected a date like "2026-12-25", found "2026-02-30"
        nodes[0] "DC": field `handling_days`: must be at least 0, not -1
        nodes[0] "DC": field `handling_days`: must be at most 366, not 400
        "#
        );
    }

    #[test]
    fn placed_at_needs_an_offset() {
        assert!(Placed::parse("2026-12-07T10:00:00").is_err());
        assert!(Placed::parse("yesterday").is_err());
        let placed = Placed::parse("2026-12-07T23:30:00-08:00").unwrap();
        assert_eq!(iso_date(placed.day), "2026-12-07");
    }
}
