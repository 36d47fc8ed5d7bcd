//! A metadata table (CSV with a header row) giving properties of each example,
//! such as magnitude, redshift or Einstein radius, for property tests.
//!
//! Rows are joined to examples by order (the table must have one row per
//! example) or by a key column. With a key, a row belongs to the example whose
//! id (its path under the data folder, or its index for array files), file
//! name or stem (the file name without its FITS, image or compression suffix:
//! `hl000.fits.gz` is `hl000`; see [`super::name`]) equals the key; every example must find exactly one row,
//! and rows that match no example are ignored, so a larger catalogue can serve
//! a subset of it.
//!
//! Messages name a row as the file numbers it, the first under the header
//! being row 1, whatever order a join or `--only` left the rows in: the row
//! an example's cell came from is kept beside it ([`Metadata::row_number`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::name;
use crate::stats::{self, Bin, Binning};
use crate::{Error, Result, ResultExt};

/// A metadata column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Numbers; empty cells, NaN, `NA`, `N/A`, `null`, `None` and `--` are missing.
    Numeric(Vec<Option<f64>>),
    /// Anything else, kept as text (a discrete property).
    Text(Vec<String>),
}

/// The metadata table, one row per example once joined.
#[derive(Clone, Debug)]
pub struct Metadata {
    path: PathBuf,
    names: Vec<String>,
    /// Cells by column, then row.
    columns: Vec<Vec<String>>,
    /// Each row's place in the file (0: the first under the header), kept
    /// through joins and selections so that messages name the file's row.
    rows: Vec<usize>,
}

impl Metadata {
    /// Reads a CSV file whose first row names the columns. Fields are
    /// separated by commas, or by tabs or semicolons when the header holds
    /// no comma but those.
    pub fn read(path: &Path) -> Result<Self> {
        use std::io::BufRead;
        // Opened once, and the header peeked in the buffer, so that a pipe
        // (`--metadata <(...)`) is read whole by the table's reader.
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut input = std::io::BufReader::with_capacity(MAX_LINE, LineCap::new(file));
        let start = input
            .fill_buf()
            .map_err(|e| Error::data(path, e.to_string()))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter(start))
            .from_reader(input);
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| Error::data(path, format!("cannot read the CSV header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut columns = vec![Vec::new(); names.len()];
        for (row, record) in reader.records().enumerate() {
            let record = record
                .map_err(|e| Error::data(path, format!("row {} of the CSV: {e}", row + 1)))?;
            for (column, cell) in columns.iter_mut().zip(record.iter()) {
                column.push(cell.trim().to_string());
            }
        }
        Ok(Metadata {
            path: path.to_path_buf(),
            names,
            rows: (0..columns.first().map_or(0, Vec::len)).collect(),
            columns,
        })
    }

    /// A table from columns already in memory (a pandas DataFrame, in the
    /// Python package), `name` standing for its path in messages. Every
    /// column must have the same number of rows.
    pub fn from_columns(name: &str, columns: Vec<(String, Vec<String>)>) -> Result<Self> {
        let path = PathBuf::from(name);
        let rows = columns.first().map_or(0, |c| c.1.len());
        if let Some((column, cells)) = columns.iter().find(|c| c.1.len() != rows) {
            return Err(Error::data(
                &path,
                format!(
                    "column '{column}' has {} rows but the first has {rows}",
                    cells.len()
                ),
            ));
        }
        let (names, columns) = columns.into_iter().unzip();
        Ok(Metadata {
            path,
            names,
            rows: (0..rows).collect(),
            columns,
        })
    }

    /// The CSV file the table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number, in the file, of the row now at `row` (the first under
    /// the header is 1): what messages name, so that the user finds the
    /// cell whatever order a join by key put the rows in.
    pub fn row_number(&self, row: usize) -> usize {
        self.rows[row] + 1
    }

    /// The column names, in the file's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn index(&self, name: &str) -> Result<usize> {
        let found = self.names.iter().position(|n| n == name).ok_or_else(|| {
            Error::unknown(
                format!("column of {}", self.path.display()),
                name,
                self.names.iter().cloned(),
            )
        })?;
        // Two columns of one name: which one is meant would be a guess.
        if let Some(again) = self.names.iter().skip(found + 1).position(|n| n == name) {
            return Err(Error::data(
                &self.path,
                format!(
                    "columns {} and {} are both named '{name}'; rename one",
                    found + 1,
                    found + 2 + again
                ),
            ));
        }
        Ok(found)
    }

    /// The cells of column `name` as text.
    pub fn text(&self, name: &str) -> Result<&[String]> {
        Ok(&self.columns[self.index(name)?])
    }

    /// Column `name`, numeric when every non-missing cell is a number. A
    /// number that is not finite (`inf`, `1e999`: a catalogue's
    /// non-detection, say) is refused, naming its row: it has no place on
    /// the property's axis, and taking the column as text instead would
    /// group 0.5 and 10.2 as strings. -0 is 0 (one group, not two).
    pub fn column(&self, name: &str) -> Result<Column> {
        let cells = self.text(name)?;
        let numbers: Option<Vec<Option<f64>>> = cells
            .iter()
            .map(|c| {
                if is_missing(c) {
                    Some(None)
                } else {
                    c.parse::<f64>().ok().map(Some)
                }
            })
            .collect();
        let Some(values) = numbers else {
            return Ok(Column::Text(cells.to_vec()));
        };
        if let Some(row) = values
            .iter()
            .position(|v| v.is_some_and(|v| !v.is_finite()))
        {
            return Err(Error::data(
                &self.path,
                format!(
                    "row {} of column '{name}' is {}, not a finite number; leave the cell empty (or NaN) to mark it missing",
                    self.row_number(row),
                    cells[row]
                ),
            ));
        }
        Ok(Column::Numeric(
            values.into_iter().map(|v| v.map(|v| v + 0.0)).collect(),
        ))
    }

    /// Column `name` cut into groups by `binning`, for a property test. A
    /// column of numbers with a word among them (`unknown`, `?`) is refused
    /// naming the word's row, unless asked to group by text (`discrete`):
    /// taken as text, its numbers would each be a group of their own, too
    /// small to compare, and the verdict would silently read "low".
    pub fn groups(&self, name: &str, binning: Binning) -> Result<Vec<Bin>> {
        let column = self.column(name)?;
        if let Column::Text(cells) = &column
            && binning != Binning::Discrete
        {
            let number = cells
                .iter()
                .position(|c| c.parse::<f64>().is_ok_and(f64::is_finite));
            let word = cells
                .iter()
                .position(|c| !is_missing(c) && c.parse::<f64>().is_err());
            if let (Some(number), Some(word)) = (number, word) {
                return Err(Error::data(
                    &self.path,
                    format!(
                        "row {} of column '{name}' is '{}', not a number, though the column holds numbers (row {} is {}); \
                         leave the cell empty (or NaN, NA) to mark it missing, or group the column by its text values ({name}=discrete)",
                        self.row_number(word),
                        cells[word],
                        self.row_number(number),
                        cells[number]
                    ),
                ));
            }
        }
        stats::bin(&column, binning)
            .with_context(|| format!("column '{name}' of {}", self.path.display()))
    }

    /// The rows at `rows`, in that order.
    pub(crate) fn select(&self, rows: &[usize]) -> Metadata {
        let columns = self
            .columns
            .iter()
            .map(|c| rows.iter().map(|&r| c[r].clone()).collect())
            .collect();
        Metadata {
            path: self.path.clone(),
            names: self.names.clone(),
            columns,
            rows: rows.iter().map(|&r| self.rows[r]).collect(),
        }
    }

    /// For examples with names (a folder's files), a join by row order
    /// refuses a column that names every example but in another order: the
    /// folder is read sorted byte by byte (img1, img10, img2), a catalogue
    /// is often written otherwise, and the rows would silently belong to
    /// other images. Examples numbered by position (an array file) have no
    /// names to check.
    fn check_row_order(&self, ids: &[String]) -> Result<()> {
        if ids.iter().all(|id| id.parse::<usize>().is_ok()) {
            return Ok(());
        }
        let names: Vec<[&str; 3]> = ids
            .iter()
            .map(|id| [id.as_str(), name::file_name(id), name::stem(id)])
            .collect();
        let known: std::collections::HashSet<&str> = names.iter().flatten().copied().collect();
        for (column, cells) in self.names.iter().zip(&self.columns) {
            if !cells.iter().all(|c| known.contains(c.as_str())) {
                continue;
            }
            let stray = cells
                .iter()
                .zip(&names)
                .position(|(c, names)| !names.contains(&c.as_str()));
            if let Some(row) = stray {
                return Err(Error::data(
                    &self.path,
                    format!(
                        "joined by row order, but column '{column}' names the examples in another order (row {} is '{}', example {} is '{}'); \
                         join by it: --metadata-key {column}",
                        self.row_number(row),
                        cells[row],
                        row + 1,
                        ids[row]
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The table reordered to match examples with these `ids`: by row order
    /// when `key` is `None`, else by the key column.
    pub(crate) fn join(self, ids: &[String], key: Option<&str>) -> Result<Metadata> {
        let Some(key) = key else {
            if self.len() != ids.len() {
                return Err(Error::data(
                    &self.path,
                    format!(
                        "{} rows for {} examples; join by row order needs one row per example, or name a key column to join by id",
                        self.len(),
                        ids.len()
                    ),
                ));
            }
            self.check_row_order(ids)?;
            return Ok(self);
        };
        let mut rows: HashMap<&str, usize> = HashMap::new();
        for (row, value) in self.text(key)?.iter().enumerate() {
            if let Some(first) = rows.insert(value, row) {
                return Err(Error::data(
                    &self.path,
                    format!(
                        "key '{value}' in column '{key}' appears in rows {} and {}",
                        self.row_number(first),
                        self.row_number(row)
                    ),
                ));
            }
        }
        let mut order = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        // A row matched by two examples' file names or stems (0/img0.png and
        // 1/img0.png) would give both one catalogue entry.
        let mut taken: HashMap<usize, &str> = HashMap::new();
        for id in ids {
            let candidates = [id.as_str(), name::file_name(id), name::stem(id)];
            match candidates.into_iter().find_map(|c| rows.get(c)) {
                Some(&row) => {
                    if let Some(other) = taken.insert(row, id) {
                        return Err(Error::data(
                            &self.path,
                            format!(
                                "row {} ('{key}' = '{}') matches two examples, '{other}' and '{id}'; key the rows by the examples' ids (their paths in the data folder)",
                                self.row_number(row),
                                self.text(key)?[row]
                            ),
                        ));
                    }
                    order.push(row);
                }
                None => missing.push(id.as_str()),
            }
        }
        if let Some(first) = missing.first() {
            return Err(Error::data(
                &self.path,
                format!(
                    "{} example(s) have no row with a matching '{key}' (first: '{first}'); keys are matched to the example's id (e.g. 'lens/hl000.fits.gz'), file name or stem ('hl000')",
                    missing.len()
                ),
            ));
        }
        Ok(self.select(&order))
    }
}

/// The field separator of the table at `path`: a comma, unless its header
/// line holds none and holds tabs or semicolons (a catalogue saved as TSV,
/// or with `sep=';'` where the comma is the decimal mark), whose columns
/// would otherwise read as one named `id;mag`.
fn delimiter(start: &[u8]) -> u8 {
    let header = start.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if count(b',') > 0 {
        b','
    } else if count(b'\t') > 0 {
        b'\t'
    } else if count(b';') > 0 {
        b';'
    } else {
        b','
    }
}

/// The longest line a metadata table may have. A catalogue's lines are
/// short; a file that runs on without a line break (a binary file given by
/// mistake, `/dev/zero`) would otherwise grow one record until memory ran
/// out and the process aborted.
const MAX_LINE: usize = 1 << 20;

/// A reader that fails once a line runs past [`MAX_LINE`] bytes.
struct LineCap<R> {
    inner: R,
    line: usize,
}

impl<R> LineCap<R> {
    fn new(inner: R) -> Self {
        LineCap { inner, line: 0 }
    }
}

impl<R: std::io::Read> std::io::Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        self.line = match read.iter().rposition(|&b| b == b'\n') {
            Some(last) => n - last - 1,
            None => self.line + n,
        };
        if self.line > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a line longer than {} MiB: not a CSV table; give the catalogue's CSV file",
                    MAX_LINE >> 20
                ),
            ));
        }
        Ok(n)
    }
}

/// Whether a cell marks a missing value: empty, NaN, or one of the markers
/// catalogues write for one (`NA`, `N/A`, `null`, `None`, and astropy's `--`
/// for a masked cell). Such an example is left out of a property's test
/// (results.json counts them), as an empty cell always was.
fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || cell == "--"
        || ["na", "n/a", "null", "none"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
        || cell.parse::<f64>().is_ok_and(f64::is_nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(dir: &Path, text: &str) -> Metadata {
        let path = dir.join("meta.csv");
        std::fs::write(&path, text).unwrap();
        Metadata::read(&path).unwrap()
    }

    /// A tab- or semicolon-separated catalogue was read as one column
    /// named `id\tmag`, and every column asked for was unknown.
    #[test]
    fn tab_and_semicolon_separated_tables_are_read_by_their_header() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "id\tmag\tnote\r\na\t20.5\tx\r\nb\t21\t\"y;z\"\r\n",
            "\u{feff}id;mag;note\na;20.5;x\nb;21;\"y;z\"\n",
            "id,mag,note\na,20.5,x\nb,21,\"y;z\"\n",
        ] {
            let meta = table(dir.path(), text);
            assert_eq!(meta.names(), ["id", "mag", "note"], "{text:?}");
            assert_eq!(
                meta.column("mag").unwrap(),
                Column::Numeric(vec![Some(20.5), Some(21.0)])
            );
            assert_eq!(meta.text("note").unwrap(), ["x", "y;z"]);
        }
    }

    /// A file that runs on without a line break (`--metadata /dev/zero`, a
    /// binary file given by mistake) grew one record until the allocator
    /// aborted the process; it is refused once a line passes 1 MiB.
    #[test]
    fn a_file_without_line_breaks_is_refused_not_read_until_memory_runs_out() {
        let err = Metadata::read(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/dev/zero") && err.contains("longer than 1 MiB"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob.csv");
        let mut text = String::from("id,mag\na,1\n");
        text.push_str(&"x".repeat(3 << 20));
        std::fs::write(&path, text).unwrap();
        let err = Metadata::read(&path).unwrap_err().to_string();
        assert!(err.contains("longer than 1 MiB"), "{err}");
    }

    /// A pipe (`--metadata <(zcat cat.csv.gz)`) is read once: the separator
    /// was found by opening the file a first time, which drained the pipe's
    /// header before the table's reader opened it again.
    #[test]
    fn a_catalogue_from_a_pipe_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("cat.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, "id;mag\na;20.5\nb;21\n").unwrap())
        };
        let meta = Metadata::read(&fifo).unwrap();
        writer.join().unwrap();
        assert_eq!(meta.names(), ["id", "mag"]);
        assert_eq!(
            meta.column("mag").unwrap(),
            Column::Numeric(vec![Some(20.5), Some(21.0)])
        );
    }

    #[test]
    fn columns_are_numeric_with_missing_cells_or_text() {
        let dir = tempfile::tempdir().unwrap();
        let meta = table(
            dir.path(),
            "id,mag,kind\na,20.5,lens\nb,,ring\nc,nan,lens\n",
        );
        assert_eq!(
            meta.column("mag").unwrap(),
            Column::Numeric(vec![Some(20.5), None, None])
        );
        assert_eq!(
            meta.column("kind").unwrap(),
            Column::Text(vec!["lens".into(), "ring".into(), "lens".into()])
        );
        let err = meta.column("magnitude").unwrap_err().to_string();
        assert!(
            err.contains("meta.csv")
                && err.contains("did you mean 'mag'")
                && err.contains("id, mag, kind"),
            "{err}"
        );
    }

    #[test]
    fn missing_value_markers_are_missing_and_a_word_among_numbers_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rows: String = (0..30)
            .map(|i| format!("{}.5,{}\n", i, ["N/A", "null", "--", "None", "-nan"][i % 5]))
            .collect();
        let meta = table(dir.path(), &format!("q,marker\n{rows}"));
        let mut na = meta.clone();
        na.columns[0][7] = "N/A".into();
        // One N/A used to make the column text: 30 groups of one, a verdict
        // of "low" whatever the effect.
        assert_eq!(na.groups("q", Binning::Auto).unwrap().len(), 10);
        let Column::Numeric(q) = na.column("q").unwrap() else {
            panic!("q is numeric")
        };
        assert_eq!((q[7], q[8]), (None, Some(8.5)));
        assert!(
            matches!(meta.column("marker").unwrap(), Column::Numeric(v) if v.iter().all(Option::is_none))
        );
        let mut word = meta.clone();
        word.columns[0][7] = "unknown".into();
        for binning in [Binning::Auto, Binning::Quantile(4), Binning::EqualWidth(3)] {
            let err = word.groups("q", binning).unwrap_err().to_string();
            assert!(
                err.contains("meta.csv")
                    && err.contains("row 8 of column 'q' is 'unknown', not a number")
                    && err.contains("q=discrete"),
                "{err}"
            );
        }
        assert_eq!(word.groups("q", Binning::Discrete).unwrap().len(), 30);
    }

    #[test]
    fn a_column_name_used_twice_is_refused_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let meta = table(dir.path(), "label,z,label\n1,0.5,2\n");
        let err = meta.column("label").unwrap_err().to_string();
        assert!(
            err.contains("columns 1 and 3 are both named 'label'"),
            "{err}"
        );
        assert!(meta.column("z").is_ok());
    }

    #[test]
    fn a_number_that_is_not_finite_is_refused_and_minus_zero_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        let meta = table(
            dir.path(),
            "id,mag,kind,z\na,20.5,lens,-0\nb,inf,inf,0\nc,1e999,ring,0.5\n",
        );
        // One `inf` used to make the column text: 20.5 and 3.1 then grouped
        // as strings, and the binning asked for ignored.
        let err = meta.column("mag").unwrap_err().to_string();
        assert!(
            err.contains("meta.csv") && err.contains("row 2 of column 'mag' is inf"),
            "{err}"
        );
        // A word column that holds "inf" among words stays text.
        assert!(matches!(meta.column("kind").unwrap(), Column::Text(_)));
        let Column::Numeric(z) = meta.column("z").unwrap() else {
            panic!("z is numeric")
        };
        assert!(z[0].is_some_and(|v| v == 0.0 && v.is_sign_positive()));
    }

    /// After a join by key, "row N" named the example's place in the join
    /// (row 1 here), not the file's row the cell is in (row 3).
    #[test]
    fn messages_name_the_files_row_after_a_join_and_a_selection() {
        let dir = tempfile::tempdir().unwrap();
        let meta = table(
            dir.path(),
            "id,z,q
2,0.1,9
1,0.2,?
0,inf,3
",
        );
        let ids: Vec<String> = ["0", "1", "2"].map(String::from).to_vec();
        let joined = meta.join(&ids, Some("id")).unwrap();
        assert_eq!(
            (0..3).map(|r| joined.row_number(r)).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        let err = joined.column("z").unwrap_err().to_string();
        assert!(err.contains("row 3 of column 'z' is inf"), "{err}");
        let err = joined
            .select(&[1, 2])
            .groups("q", Binning::Quantile(2))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2 of column 'q' is '?'") && err.contains("(row 1 is 9)"),
            "{err}"
        );
    }

    #[test]
    fn joins_by_row_order_or_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let meta = table(dir.path(), "file,z\nb.fits,0.2\nx.fits,0.9\na.fits,0.1\n");
        let ids = vec!["lens/a.fits".to_string(), "other/b.fits".to_string()];
        let joined = meta.clone().join(&ids, Some("file")).unwrap();
        assert_eq!(
            joined.column("z").unwrap(),
            Column::Numeric(vec![Some(0.1), Some(0.2)])
        );
        let err = meta.clone().join(&ids, None).unwrap_err().to_string();
        assert!(err.contains("3 rows for 2 examples"), "{err}");
        // A row-order join on named examples (a folder's files) whose
        // catalogue names them in another order: refused, naming the column
        // to join by. In the folder's order, or with no such column, it joins.
        let folder = vec![
            "0/img1.png".to_string(),
            "0/img10.png".into(),
            "0/img2.png".into(),
        ];
        let natural = table(
            dir.path(),
            "file,z\nimg1.png,0.1\nimg2.png,0.2\nimg10.png,1.0\n",
        );
        let err = natural.clone().join(&folder, None).unwrap_err().to_string();
        assert!(
            err.contains("column 'file'")
                && err.contains("row 2 is 'img2.png', example 2 is '0/img10.png'")
                && err.contains("--metadata-key file"),
            "{err}"
        );
        let sorted = table(dir.path(), "file,z\nimg1,0.1\nimg10,1.0\nimg2,0.2\n");
        sorted.join(&folder, None).unwrap();
        table(dir.path(), "z\n0.1\n0.2\n1.0\n")
            .join(&folder, None)
            .unwrap();
        // Numbered examples (an array file) have no names to check.
        let numbered: Vec<String> = ["0", "1", "2"].map(String::from).to_vec();
        table(dir.path(), "id,z\n2,0\n0,1\n1,2\n")
            .join(&numbered, None)
            .unwrap();
        // Two examples of the same file name in different folders cannot
        // share the row of that name.
        let twins = vec!["lens/a.fits".to_string(), "other/a.fits".to_string()];
        let err = meta
            .clone()
            .join(&twins, Some("file"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 3") && err.contains("'lens/a.fits' and 'other/a.fits'"),
            "{err}"
        );
        let err = meta
            .join(&["c.fits".to_string()], Some("file"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("first: 'c.fits'"), "{err}");
        let stems = table(dir.path(), "name,z\na,1\n")
            .join(&ids[..1], Some("name"))
            .unwrap();
        assert_eq!(stems.len(), 1);
        // Compressed FITS files join by their object name.
        let cutouts = [
            "lens/hl001.fits.gz",
            "lens/hl000.fits.fz",
            "nonlens/nl000.fz",
        ]
        .map(String::from);
        let names = table(dir.path(), "name,z\nnl000,3\nhl000,1\nhl001,2\nextra,9\n")
            .join(&cutouts, Some("name"))
            .unwrap();
        assert_eq!(
            names.column("z").unwrap(),
            Column::Numeric(vec![Some(2.0), Some(1.0), Some(3.0)])
        );
        let dup = table(dir.path(), "name,z\na,1\na,2\n")
            .join(&ids[..1], Some("name"))
            .unwrap_err()
            .to_string();
        assert!(dup.contains("rows 1 and 2"), "{dup}");
    }
}
