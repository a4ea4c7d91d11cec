//! LSP positions (lines and UTF-16 code units) to byte offsets and back. Positions past
//! the end of a line or of the text are clamped, never trusted.

use allot_diagnostics::LineIndex;
use tower_lsp_server::ls_types::{Position, Range};

/// A text with its line starts, so that each conversion reads one line only.
pub struct Lines<'a> {
    text: &'a str,
    index: LineIndex,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text,
            index: LineIndex::new(text),
        }
    }

    fn line_end(&self, start: usize) -> usize {
        self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i)
    }

    /// The byte offset of `position`.
    pub fn offset(&self, position: Position) -> u32 {
        let Some(start) = self.index.line_start(position.line as usize) else {
            return self.text.len() as u32;
        };
        let start = start as usize;
        let end = self.line_end(start);
        let mut units = 0u32;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= position.character {
                return (start + i) as u32;
            }
            units += c.len_utf16() as u32;
        }
        end as u32
    }

    /// The position of byte `offset` (inside a character: that character).
    pub fn position(&self, offset: u32) -> Position {
        let mut offset = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.index.line_of(offset as u32);
        let start = self.index.line_start(line).unwrap_or(0) as usize;
        let character = self.text[start..offset]
            .chars()
            .map(|c| c.len_utf16() as u32)
            .sum();
        Position {
            line: line as u32,
            character,
        }
    }

    pub fn range(&self, start: u32, end: u32) -> Range {
        Range {
            start: self.position(start),
            end: self.position(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_and_clamping() {
        let text = "a é 😀 b\nsecond";
        let lines = Lines::new(text);
        // 😀 is two UTF-16 units and four bytes.
        let b = text.find('b').unwrap() as u32;
        let at_b = Position {
            line: 0,
            character: 7,
        };
        assert_eq!(lines.offset(at_b), b);
        assert_eq!(lines.position(b), at_b);
        assert_eq!(
            lines.offset(Position {
                line: 0,
                character: 99
            }),
            text.find('\n').unwrap() as u32
        );
        assert_eq!(
            lines.offset(Position {
                line: 9,
                character: 0
            }),
            text.len() as u32
        );
        assert_eq!(
            lines.position(999),
            Position {
                line: 1,
                character: 6
            }
        );
        // Inside the emoji: the emoji's start.
        let emoji = text.find('😀').unwrap() as u32;
        assert_eq!(lines.position(emoji + 1), lines.position(emoji));
    }
}
