//! LSP positions (lines and UTF-16 code units) to byte offsets and back. Positions past
//! the end of a line or of the text are clamped, never trusted.

use tower_lsp_server::ls_types::{Position, Range};

/// The byte offset of `position` in `text`.
pub fn offset(text: &str, position: Position) -> u32 {
    let mut line_start = 0usize;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len() as u32,
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= position.character {
            return (line_start + i) as u32;
        }
        units += c.len_utf16() as u32;
    }
    line_end as u32
}

/// The position of byte `offset` in `text` (inside a character: that character).
pub fn position(text: &str, offset: u32) -> Position {
    let mut offset = (offset as usize).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character = before[line_start..]
        .chars()
        .map(|c| c.len_utf16() as u32)
        .sum();
    Position { line, character }
}

pub fn range(text: &str, start: u32, end: u32) -> Range {
    Range {
        start: position(text, start),
        end: position(text, end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_and_clamping() {
        let text = "a é 😀 b\nsecond";
        // 😀 is two UTF-16 units and four bytes.
        let b = text.find('b').unwrap() as u32;
        let at_b = Position {
            line: 0,
            character: 7,
        };
        assert_eq!(offset(text, at_b), b);
        assert_eq!(position(text, b), at_b);
        assert_eq!(
            offset(
                text,
                Position {
                    line: 0,
                    character: 99
                }
            ),
            text.find('\n').unwrap() as u32
        );
        assert_eq!(
            offset(
                text,
                Position {
                    line: 9,
                    character: 0
                }
            ),
            text.len() as u32
        );
        assert_eq!(
            position(text, 999),
            Position {
                line: 1,
                character: 6
            }
        );
        // Inside the emoji: the emoji's start.
        let emoji = text.find('😀').unwrap() as u32;
        assert_eq!(position(text, emoji + 1), position(text, emoji));
    }
}
