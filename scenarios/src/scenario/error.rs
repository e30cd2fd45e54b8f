//! Errors with positions: `file:line:column: message`, the source line and a caret.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem at one place of a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected there.
    pub message: String,
    /// The source line, for display.
    pub source_line: String,
    /// Number of characters to underline (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Locates `span` (byte offsets) in `text`.
    pub fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let start = floor_char(text, span.start.min(text.len()));
        let end = floor_char(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..end.min(line_end)].chars().count().max(1);
        Diagnostic {
            line,
            column,
            message: message.into(),
            source_line: text[line_start..line_end].trim_end_matches('\r').to_owned(),
            width,
        }
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Why a scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Syntax or meaning errors, each with its position.
    #[error("{}", render(path, diagnostics))]
    Invalid {
        /// File.
        path: PathBuf,
        /// The problems, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ScenarioError {
    /// The problems (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Io { .. } => &[],
            ScenarioError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

fn render(path: &std::path::Path, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&DisplayDiag(path, d).to_string());
    }
    out
}

struct DisplayDiag<'a>(&'a std::path::Path, &'a Diagnostic);

impl fmt::Display for DisplayDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DisplayDiag(path, d) = self;
        let gutter = d.line.to_string().len();
        writeln!(
            f,
            "{}:{}:{}: {}",
            path.display(),
            d.line,
            d.column,
            d.message
        )?;
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", d.line, d.source_line)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(d.column - 1),
            "^".repeat(d.width)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_chars() {
        let text = "a = 1\nbé = \"x\"\n";
        let off = text.find("\"x\"").unwrap();
        let d = Diagnostic::at(text, off..off + 3, "bad");
        assert_eq!((d.line, d.column, d.width), (2, 6, 3));
        assert_eq!(d.source_line, "bé = \"x\"");
        let e = ScenarioError::Invalid {
            path: "f.toml".into(),
            diagnostics: vec![d],
        };
        assert_eq!(
            e.to_string(),
            "f.toml:2:6: bad\n  |\n2 | bé = \"x\"\n  |      ^^^"
        );
    }
}
