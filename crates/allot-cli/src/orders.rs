//! Reading a batch of orders as a stream: a JSON array or JSON Lines, from a file or
//! standard input, handed on one order at a time, so that memory holds one order
//! however many the batch has.

use crate::route::Failure;
use allot_runtime::Status;
use indicatif::ProgressDrawTarget;
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, IsTerminal, Read};
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// The longest line of a JSON Lines batch: many times a 5,000-line order. A longer line
/// is reported as that order's error, and the batch goes on.
pub const MAX_ORDER_LINE_BYTES: usize = 16 << 20;

/// An order as read: its JSON, or why it is not one.
pub type ReadOrder = Result<Value, String>;

/// Calls `each` with every order of the batch at `path` (standard input when `None`),
/// in order, until it breaks, and with whether more input is at hand: when it is not,
/// reading the next order may wait (on a pipe), so what was decided should be flushed.
/// A batch that is not a JSON array or JSON Lines ends with an error after the orders
/// before the fault. With `progress`, a batch that takes more than a second shows a
/// progress bar on stderr if it is a terminal.
pub fn for_each_order(
    path: Option<&Path>,
    progress: bool,
    each: &mut dyn FnMut(ReadOrder, bool) -> ControlFlow<()>,
) -> Result<(), Failure> {
    let (reader, len): (Box<dyn Read>, Option<u64>) = match path {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", path.display())))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        }
        None => (Box::new(std::io::stdin().lock()), None),
    };
    let name = path.map_or("standard input".to_string(), |p| p.display().to_string());
    let show = progress && std::io::stderr().is_terminal();
    let mut reader = Progress::new(reader, show.then_some(len));
    let bar = reader.bar.clone();
    let started = Instant::now();
    let mut count = 0u64;
    let result = read(&mut reader, &name, &mut |order, more_at_hand| {
        count += 1;
        if let Some(bar) = &bar
            && count.is_multiple_of(256)
        {
            let rate = count as f64 / started.elapsed().as_secs_f64();
            bar.set_message(format!(
                "{} orders, {} orders/s",
                thousands(count),
                thousands(rate as u64)
            ));
        }
        each(order, more_at_hand)
    });
    reader.finish();
    result
}

/// What a batch came to: the line `allot route` and `allot simulate` end with.
pub struct Tally {
    started: Instant,
    by_status: [u64; 5],
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            started: Instant::now(),
            by_status: [0; 5],
        }
    }

    pub fn add(&mut self, status: Status) {
        self.by_status[STATUSES
            .iter()
            .position(|&s| s == status)
            .expect("every status")] += 1;
    }

    /// `12 orders in 0.01 s (1,200 orders/s): 9 routed, 1 partial, 1 rejected, 0 held, 1 error`.
    pub fn line(&self) -> String {
        let orders: u64 = self.by_status.iter().sum();
        let elapsed = self.started.elapsed().as_secs_f64();
        let counts: Vec<String> = (STATUSES.iter().zip(self.by_status))
            .map(|(status, n)| match (status, n) {
                (Status::Error, 1) => "1 error".to_string(),
                (Status::Error, n) => format!("{} errors", thousands(n)),
                (status, n) => format!("{} {}", thousands(n), status.name()),
            })
            .collect();
        format!(
            "{} orders in {elapsed:.2} s ({} orders/s): {}",
            thousands(orders),
            thousands((orders as f64 / elapsed.max(1e-9)) as u64),
            counts.join(", ")
        )
    }

    /// Prints the line on stderr when a person is watching.
    pub fn report(&self, quiet: bool) {
        if !quiet && std::io::stderr().is_terminal() {
            eprintln!("{}", self.line());
        }
    }
}

const STATUSES: [Status; 5] = [
    Status::Routed,
    Status::Partial,
    Status::Rejected,
    Status::Held,
    Status::Error,
];

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn read(
    reader: &mut Progress,
    name: &str,
    each: &mut dyn FnMut(ReadOrder, bool) -> ControlFlow<()>,
) -> Result<(), Failure> {
    let io_error = |e: std::io::Error| Failure::usage(format!("{name}: cannot read: {e}"));
    // Whitespace first, then `[` for an array; anything else is JSON Lines.
    let is_array = loop {
        let buffer = reader.fill_buf().map_err(io_error)?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break buffer[at] == b'[',
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    };
    if is_array {
        read_array(reader, name, each)
    } else {
        read_lines(reader, name, each)
    }
}

fn read_array(
    reader: &mut Progress,
    name: &str,
    each: &mut dyn FnMut(ReadOrder, bool) -> ControlFlow<()>,
) -> Result<(), Failure> {
    let drained = Rc::clone(&reader.drained);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let mut visitor = EachElement {
        each,
        drained,
        read: 0,
        stopped: false,
    };
    let result = (&mut deserializer).deserialize_seq(&mut visitor);
    if visitor.stopped {
        return Ok(());
    }
    result.and_then(|()| deserializer.end()).map_err(|e| {
        Failure::usage(format!(
            "{name}: not a valid JSON array of orders: {e} (after {} orders)",
            visitor.read
        ))
    })
}

/// Hands each element of the array on as soon as it is read.
struct EachElement<'a> {
    each: &'a mut dyn FnMut(ReadOrder, bool) -> ControlFlow<()>,
    /// Whether the reader has used up what it read: the next order means waiting.
    drained: Rc<Cell<bool>>,
    read: usize,
    stopped: bool,
}

impl<'de> Visitor<'de> for &mut EachElement<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of orders")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(order) = seq.next_element::<Value>()? {
            self.read += 1;
            if (self.each)(Ok(order), !self.drained.get()).is_break() {
                self.stopped = true;
                return Ok(());
            }
        }
        Ok(())
    }
}

fn read_lines(
    reader: &mut Progress,
    name: &str,
    each: &mut dyn FnMut(ReadOrder, bool) -> ControlFlow<()>,
) -> Result<(), Failure> {
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = reader
            .by_ref()
            .take(MAX_ORDER_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::usage(format!("{name}: cannot read: {e}")))?;
        if read == 0 {
            return Ok(());
        }
        let order = if line.len() > MAX_ORDER_LINE_BYTES && line.last() != Some(&b'\n') {
            skip_line(reader).map_err(|e| Failure::usage(format!("{name}: cannot read: {e}")))?;
            Err(format!(
                "orders line {number}: longer than {} MiB; one order per line",
                MAX_ORDER_LINE_BYTES >> 20
            ))
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            serde_json::from_slice(&line)
                .map_err(|e| format!("orders line {number}: not valid JSON: {e}"))
        };
        if each(order, !reader.drained.get()).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads past the rest of an overlong line.
fn skip_line(reader: &mut Progress) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(at) => {
                reader.consume(at + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// The batch's reader: buffered, with a progress bar on stderr when a person is
/// watching (by bytes read when the size is known, a spinner otherwise).
struct Progress {
    inner: Box<dyn Read>,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Set when the buffer is used up: the next read may wait for input.
    drained: Rc<Cell<bool>>,
    bar: Option<indicatif::ProgressBar>,
    /// Bytes read and not yet counted on the bar, which is told every 64 KiB.
    uncounted: u64,
    started: Instant,
    /// Whether the bar is drawn yet: not before the batch has taken a second.
    shown: bool,
}

impl Progress {
    /// With `bar` (`Some(size)`, the size when known), a progress bar that appears once
    /// the batch has taken a second.
    fn new(inner: Box<dyn Read>, bar: Option<Option<u64>>) -> Progress {
        let bar = bar.map(|len| {
            let (bar, template) = match len {
                Some(len) => (
                    indicatif::ProgressBar::with_draw_target(
                        Some(len),
                        ProgressDrawTarget::hidden(),
                    ),
                    "{bar:40} {percent}%  {msg}  eta {eta}",
                ),
                None => (
                    indicatif::ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
                    "{spinner} {msg}",
                ),
            };
            let style =
                indicatif::ProgressStyle::with_template(template).expect("a valid template");
            bar.set_style(style);
            bar
        });
        Progress {
            inner,
            buffer: vec![0; 1 << 16].into_boxed_slice(),
            start: 0,
            end: 0,
            drained: Rc::new(Cell::new(true)),
            bar,
            uncounted: 0,
            started: Instant::now(),
            shown: false,
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Read for Progress {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Progress {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = loop {
                match self.inner.read(&mut self.buffer) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    result => break result?,
                }
            };
            self.drained.set(self.end == 0);
        }
        Ok(&self.buffer[self.start..self.end])
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
        self.drained.set(self.start == self.end);
        self.uncounted += amount as u64;
        if self.uncounted >= 1 << 16
            && let Some(bar) = &self.bar
        {
            bar.inc(std::mem::take(&mut self.uncounted));
            if !self.shown && self.started.elapsed().as_secs() >= 1 {
                self.shown = true;
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }
}
