//! Reading a batch of orders as a stream: a JSON array or JSON Lines, from a file or
//! standard input, handed on one order at a time, so that memory holds one order
//! however many the batch has.

use crate::route::Failure;
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, IsTerminal, Read};
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;

/// The longest line of a JSON Lines batch: many times a 5,000-line order. A longer line
/// is reported as that order's error, and the batch goes on.
pub const MAX_ORDER_LINE_BYTES: usize = 16 << 20;

/// An order as read: its JSON, or why it is not one.
pub type ReadOrder = Result<Value, String>;

/// Calls `each` with every order of the batch at `path` (standard input when `None`),
/// in order, until it breaks, and with whether more input is at hand: when it is not,
/// reading the next order may wait (on a pipe), so what was decided should be flushed. A batch that is not a JSON array or JSON Lines ends with
/// an error after the orders before the fault.
pub fn for_each_order(
    path: Option<&Path>,
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
    let mut reader = Progress::new(reader, len);
    let result = read(&mut reader, &name, each);
    reader.finish();
    result
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
}

impl Progress {
    fn new(inner: Box<dyn Read>, len: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match len {
                Some(len) => (
                    indicatif::ProgressBar::new(len),
                    "{bar:40} {percent}% of the orders read, {binary_bytes_per_sec}, eta {eta}",
                ),
                None => (
                    indicatif::ProgressBar::new_spinner(),
                    "{spinner} {binary_bytes} of orders read, {binary_bytes_per_sec}",
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
        }
    }
}
