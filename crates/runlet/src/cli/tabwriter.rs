//! Elastic tabstops as Go's `text/tabwriter` lays them out, so `runlet get` and `runlet describe`
//! line up exactly as kubectl's output does.
//!
//! kubectl writes its tables and descriptions as tab-separated cells through a tabwriter
//! (`get`: min width 6, padding 3, remembering widths across flushes for `--watch`;
//! `describe`: min width 0, padding 2). The algorithm is Go's: a cell is text terminated by a
//! tab; the last cell of a line is not part of any column; a column block is a run of
//! consecutive lines that have a cell in that column, and its width is the widest cell plus
//! the padding. Widths count characters, not bytes.

/// Accumulates text and lays it out on [`TabWriter::flush`].
#[derive(Debug, Clone)]
pub struct TabWriter {
    min_width: usize,
    padding: usize,
    remember_widths: bool,
    /// Widest column widths seen so far, by column (only with `remember_widths`).
    max_widths: Vec<usize>,
    buf: String,
}

impl TabWriter {
    /// kubectl's `get` writer: `tabwriter.NewWriter(out, 6, 4, 3, ' ', RememberWidths)`.
    pub fn for_tables() -> TabWriter {
        TabWriter {
            min_width: 6,
            padding: 3,
            remember_widths: true,
            max_widths: Vec::new(),
            buf: String::new(),
        }
    }

    /// kubectl's `describe` writer: `tabwriter.Init(buf, 0, 8, 2, ' ', 0)`.
    pub fn for_describe() -> TabWriter {
        TabWriter {
            min_width: 0,
            padding: 2,
            remember_widths: false,
            max_widths: Vec::new(),
            buf: String::new(),
        }
    }

    /// Appends text; lines end with `\n`, cells with `\t`.
    pub fn write(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// Lays out everything written since the last flush and returns it.
    pub fn flush(&mut self) -> String {
        let text = std::mem::take(&mut self.buf);
        let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format(&lines, &mut widths, 0, lines.len(), &mut out);
        out
    }

    fn format(
        &mut self,
        lines: &[Vec<&str>],
        widths: &mut Vec<usize>,
        mut line0: usize,
        line1: usize,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A cell in this column: a block begins. Print the lines before it first.
            write_lines(lines, widths, line0, this, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(cell_width(lines[this][column]) + self.padding);
                this += 1;
            }
            if self.remember_widths {
                match self.max_widths.get_mut(column) {
                    Some(max) if *max > width => width = *max,
                    Some(max) => *max = width,
                    None => {
                        self.max_widths.resize(column, 0);
                        self.max_widths.push(width);
                    }
                }
            }
            widths.push(width);
            self.format(lines, widths, line0, this, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, widths, line0, line1, out);
    }
}

fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

fn write_lines(
    lines: &[Vec<&str>],
    widths: &[usize],
    line0: usize,
    line1: usize,
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths.get(j)
                && j + 1 < line.len()
            {
                let pad = width.saturating_sub(cell_width(cell));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        // The last line has no newline of its own (the text did not end with one).
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_plus_padding() {
        let mut w = TabWriter::for_tables();
        w.write("NAME\tSTATUS\tAGE\npi\tComplete\t5s\nlong-name\tRunning\t10m\n");
        assert_eq!(
            w.flush(),
            "NAME        STATUS     AGE\npi          Complete   5s\nlong-name   Running    10m\n"
        );
    }

    #[test]
    fn a_line_without_tabs_ends_the_column_block_like_go() {
        let mut w = TabWriter::for_describe();
        w.write("Name:\tx\nCompletion Mode:\tNonIndexed\nPod Template:\n  Labels:\ta=b\n");
        assert_eq!(
            w.flush(),
            "Name:             x\nCompletion Mode:  NonIndexed\nPod Template:\n  Labels:  a=b\n"
        );
    }

    #[test]
    fn continuation_lines_with_an_empty_first_cell_align_with_the_block() {
        let mut w = TabWriter::for_describe();
        w.write("Labels:\ta=b\n\tc=d\nNamespace:\tdefault\n");
        assert_eq!(
            w.flush(),
            "Labels:     a=b\n            c=d\nNamespace:  default\n"
        );
    }

    #[test]
    fn remembered_widths_keep_watch_rows_aligned_with_the_header() {
        let mut w = TabWriter::for_tables();
        w.write("NAME\tAGE\nlong-job-name\t1s\n");
        let first = w.flush();
        w.write("pi\t2s\n");
        assert_eq!(first, "NAME            AGE\nlong-job-name   1s\n");
        assert_eq!(w.flush(), "pi              2s\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut w = TabWriter::for_describe();
        w.write("é\tx\nab\ty\n");
        assert_eq!(w.flush(), "é   x\nab  y\n");
    }
}
