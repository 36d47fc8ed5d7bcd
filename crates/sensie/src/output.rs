//! Output directories shared by every command that writes one (probe,
//! explain, visualize): a directory that already holds files is refused
//! unless the user forces it, a forced run first removes what the earlier
//! run wrote (so no stale plot or map sits beside the new results), and no
//! run writes into a folder holding one of its own inputs.
//!
//! Each run lists the entries it wrote in [`MANIFEST`]; that list, not a
//! guess from file names, is what a forced run removes, so files the user
//! keeps in the directory are never deleted. A forced run first moves the
//! earlier run's entries aside ([`REPLACED`]) and removes them only when it
//! finishes: a forced rerun that fails (a typo in a column name, a model
//! that does not fit) puts them back instead of leaving an empty folder.
//!
//! `--force` replaces the earlier sensie run's outputs and nothing else. A
//! file or folder the run is about to write under a fixed name (`scores`,
//! `results.json`, `<method>.npy`...) that no earlier run listed is the
//! user's, so the run is refused by that name ([`OutputDir::claim`]) rather
//! than overwriting or deleting it. The one exception is an entry the
//! command recognises as its own by its contents (a `scores/` folder
//! holding sensie's stamp, left by a run killed before it could write its
//! manifest): it is moved aside like a listed one, and put back if the
//! forced run fails.
//!
//! Every file sensie writes (results, maps, arrays, pictures, charts, pages)
//! goes through [`write_atomic`]: a temporary file in the same folder,
//! renamed into place, so a reader, or a run killed halfway, never leaves
//! half a file under the final name.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The file, inside an output directory, listing the entries a run wrote.
pub const MANIFEST: &str = ".sensie-outputs";

/// The folder, inside an output directory, holding the earlier run's
/// entries while a forced run replacing them is under way.
pub const REPLACED: &str = ".sensie-replaced";

/// An output directory made ready for a run; [`OutputDir::finish`] records
/// what the run wrote into it. Dropped unfinished (the run failed), it puts
/// back the earlier run's entries a forced run moved aside.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    before: BTreeSet<OsString>,
    /// The earlier run's entries moved aside, by name, while this run replaces them.
    replaced: Vec<OsString>,
    /// Made ready by a forced [`prepare`] of a non-empty directory: what
    /// is left in it after the earlier run's entries moved aside is the
    /// user's, and [`OutputDir::claim`] refuses to write over it.
    forced: bool,
    /// The folders made for this run, the output folder first: a run
    /// refused before it wrote anything leaves none of them behind.
    created: Vec<PathBuf>,
}

/// Makes `out` ready for a run reading `inputs`: refuses a path that is a
/// file, a directory holding any of the inputs or inside a folder of them,
/// and a non-empty directory unless `force`; with `force`, moves the entries
/// the earlier run listed in its manifest aside, to be removed when the run
/// finishes or put back if it fails.
pub fn prepare(out: &Path, force: bool, inputs: &[&Path]) -> Result<OutputDir> {
    let what = || format!("output directory {}", out.display());
    let created = check(out, inputs)?;
    let entries = listing(out)?;
    if let Some(first) = entries
        .iter()
        .find(|e| *e != MANIFEST)
        .or(entries.iter().next())
    {
        if !force {
            return Err(Error::invalid(
                what(),
                format!(
                    "it is not empty (it holds {}); choose another directory or pass --force to replace the earlier run",
                    Path::new(first).display()
                ),
            ));
        }
        // What a run killed while replacing an earlier one left aside.
        remove(&out.join(REPLACED))?;
        let aside = out.join(REPLACED);
        std::fs::create_dir(&aside).map_err(|e| Error::io(&aside, e))?;
        let mut dir = OutputDir {
            path: out.to_path_buf(),
            before: BTreeSet::new(),
            replaced: Vec::new(),
            forced: true,
            created: Vec::new(),
        };
        for name in earlier_outputs(out)?
            .into_iter()
            .chain([MANIFEST.to_string()])
        {
            let from = out.join(&name);
            match std::fs::rename(&from, aside.join(&name)) {
                Ok(()) => dir.replaced.push(name.into()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // Dropping `dir` puts back what was already moved.
                Err(e) => return Err(Error::io(&from, e)),
            }
        }
        if dir.replaced.is_empty() {
            // No earlier run's outputs (the user's own files only).
            std::fs::remove_dir(&aside).map_err(|e| Error::io(&aside, e))?;
        }
        dir.before = listing(out)?;
        return Ok(dir);
    }
    Ok(OutputDir {
        path: out.to_path_buf(),
        before: listing(out)?,
        replaced: Vec::new(),
        forced: false,
        created,
    })
}

/// Removes the file or folder at `path`, if there is one.
fn remove(path: &Path) -> Result<()> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Refuses a path that is a file or a directory holding one of the inputs,
/// and creates the directory; returns the folders it made, deepest first.
fn check(out: &Path, inputs: &[&Path]) -> Result<Vec<PathBuf>> {
    let what = || format!("output directory {}", out.display());
    if out.as_os_str().is_empty() {
        return Err(Error::invalid("output directory", "none given (--out DIR)"));
    }
    if out.exists() && !out.is_dir() {
        return Err(Error::invalid(
            what(),
            "it is a file; give a directory (it is created if missing)",
        ));
    }
    for input in inputs.iter().filter(|p| !p.as_os_str().is_empty()) {
        if inside(input, out) {
            return Err(Error::invalid(
                what(),
                format!(
                    "it holds the input {}, which the run could overwrite; choose another --out",
                    input.display()
                ),
            ));
        }
        // A folder made inside a folder data set would be read as data by
        // the next run (a class subfolder), or by this one.
        if input.is_dir() && inside(out, input) {
            return Err(Error::invalid(
                what(),
                format!(
                    "it is inside the input folder {}, where it would be read as data (a class folder); choose an --out outside it",
                    input.display()
                ),
            ));
        }
    }
    let created: Vec<PathBuf> = out
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    Ok(created)
}

/// Makes `out` ready to continue an interrupted run (`--resume`): nothing
/// is removed. The entries `partial` names (what the interrupted run wrote
/// before its manifest could be), and those an earlier run's manifest
/// lists, count as this run's, so a later forced run removes them.
pub fn resume(out: &Path, inputs: &[&Path], partial: &[&str]) -> Result<OutputDir> {
    let created = check(out, inputs)?;
    let mut before = listing(out)?;
    for name in earlier_outputs(out)? {
        before.remove(&OsString::from(name));
    }
    for name in partial {
        before.remove(&OsString::from(name));
    }
    Ok(OutputDir {
        path: out.to_path_buf(),
        before,
        replaced: Vec::new(),
        forced: false,
        created,
    })
}

impl OutputDir {
    /// The output folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Declares the entries (plain names in the folder) the run writes
    /// under fixed names. After a forced [`prepare`], one of them that
    /// exists and that no earlier run listed in its manifest is refused by
    /// name: it is the user's, and `--force` replaces only what sensie
    /// wrote. `ours` may recognise such an entry as sensie's by its
    /// contents (an interrupted run's stamped `scores/`, which it could not
    /// list): that one is moved aside with the earlier run's entries, to be
    /// removed when the run finishes or put back if it fails. Without
    /// `--force` the folder was empty, and a resumed run's folder is its
    /// own, so then nothing is checked.
    pub fn claim(mut self, names: &[&str], ours: impl Fn(&Path) -> bool) -> Result<OutputDir> {
        if !self.forced {
            return Ok(self);
        }
        for name in names {
            let name = OsString::from(name);
            let path = self.path.join(&name);
            if !self.before.contains(&name) {
                continue;
            }
            if !ours(&path) {
                return Err(Error::invalid(
                    format!("output directory {}", self.path.display()),
                    format!(
                        "it holds {}, which this run would replace but no earlier sensie run there wrote \
                         (it is not listed in {MANIFEST}); --force replaces only sensie's outputs: move it away or choose another --out",
                        path.display()
                    ),
                ));
            }
            let aside = self.path.join(REPLACED);
            if self.replaced.is_empty() {
                std::fs::create_dir(&aside).map_err(|e| Error::io(&aside, e))?;
                // Not this run's output: neither listed in its manifest
                // nor removed with what it wrote if it fails.
                self.before.insert(REPLACED.into());
            }
            std::fs::rename(&path, aside.join(&name)).map_err(|e| Error::io(&path, e))?;
            self.before.remove(&name);
            self.replaced.push(name);
        }
        Ok(self)
    }

    /// Lists in the manifest every entry the run added, for the next forced
    /// run to remove, and removes the earlier run's entries it replaced.
    pub fn finish(mut self) -> Result<()> {
        let written: Vec<String> = listing(&self.path)?
            .difference(&self.before)
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != MANIFEST && n != REPLACED)
            .collect();
        write_atomic(
            &self.path.join(MANIFEST),
            (written.join("\n") + "\n").as_bytes(),
        )?;
        if !std::mem::take(&mut self.replaced).is_empty() {
            remove(&self.path.join(REPLACED))?;
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    /// A run that did not finish: what it wrote is removed and the earlier
    /// run's entries it was replacing are put back, as far as the file
    /// system allows (an error here has nowhere to go but the lost files
    /// staying in [`REPLACED`], where the next forced run removes them).
    fn drop(&mut self) {
        if self.replaced.is_empty() {
            // A folder made for a run that wrote nothing (refused input) is
            // removed, so the next run does not meet it; one the run wrote
            // into (its manifest, partial scores to resume from) stays.
            for dir in &self.created {
                if std::fs::remove_dir(dir).is_err() {
                    break;
                }
            }
            return;
        }
        let aside = self.path.join(REPLACED);
        if let Ok(now) = listing(&self.path) {
            for name in now.difference(&self.before) {
                let _ = remove(&self.path.join(name));
            }
        }
        for name in &self.replaced {
            let _ = std::fs::rename(aside.join(name), self.path.join(name));
        }
        let _ = std::fs::remove_dir(&aside);
    }
}

/// Writes an array as NumPy `.npy` to `path`, atomically (see
/// [`write_atomic_with`]); [`crate::data::read_array`] reads it back.
pub fn write_npy<A: ndarray_npy::WriteNpyExt>(path: &Path, array: &A) -> Result<()> {
    write_atomic_with(path, |out| {
        array.write_npy(out).map_err(|e| Error::Data {
            path: path.to_path_buf(),
            reason: format!("writing failed: {e}"),
        })
    })
}

/// Writes `bytes` to `path` atomically (see [`write_atomic_with`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| {
        out.write_all(bytes).map_err(|e| Error::io(path, e))
    })
}

/// Writes `path` with `write` (which streams into it) through a temporary
/// file in the same folder and a rename, so a reader never sees half a file.
/// The result is readable by everyone (0644), like any other file the user
/// makes, not private like a temporary file.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // tempfile's error names its temporary file, no concern of the user's:
    // the folder's own metadata gives the reason (it does not exist, say).
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        let reason = std::fs::metadata(dir)
            .err()
            .unwrap_or_else(|| std::io::Error::from(e.kind()));
        Error::io(dir, reason)
    })?;
    {
        let mut buffered = std::io::BufWriter::new(file.as_file_mut());
        write(&mut buffered)?;
        buffered.flush().map_err(|e| Error::io(path, e))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(file.path(), e))?;
    }
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The entries of a directory, by name.
fn listing(dir: &Path) -> Result<BTreeSet<OsString>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    entries
        .map(|e| e.map(|e| e.file_name()).map_err(|e| Error::io(dir, e)))
        .collect()
}

/// Whether the manifest in `out` lists entry `name`: an earlier sensie run
/// wrote it (a manifest that cannot be read lists nothing).
pub(crate) fn listed(out: &Path, name: &str) -> bool {
    earlier_outputs(out).is_ok_and(|names| names.iter().any(|n| n == name))
}

/// The entries the earlier run listed: plain names only, so a tampered
/// manifest cannot point outside the directory.
fn earlier_outputs(out: &Path) -> Result<Vec<String>> {
    let text = match std::fs::read_to_string(out.join(MANIFEST)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(out.join(MANIFEST), e)),
    };
    Ok(text
        .lines()
        .filter(|l| {
            let mut parts = Path::new(l).components();
            matches!(
                (parts.next(), parts.next()),
                (Some(std::path::Component::Normal(_)), None)
            )
        })
        .map(str::to_string)
        .collect())
}

/// Whether `path` is `dir` or lies inside it (compared as absolute, resolved paths).
fn inside(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // The deepest existing ancestor resolved, the rest appended as written.
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut resolved = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_path_buf());
        resolved.extend(rest.iter().rev());
        resolved
    };
    resolve(path).starts_with(resolve(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_the_whole_file_or_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        // A writer failing halfway leaves the earlier file and no temporary one.
        let err = write_atomic_with(&path, |out| {
            out.write_all(b"half").unwrap();
            Err(Error::invalid("writing", "stopped"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A folder that does not exist is named, and no temporary file's name.
        let missing = dir.path().join("no/such/file.png");
        let err = write_atomic(&missing, b"x").unwrap_err().to_string();
        let folder = dir.path().join("no/such");
        assert_eq!(
            err,
            format!(
                "{}: No such file or directory (os error 2)",
                folder.display()
            )
        );
    }

    #[test]
    fn a_forced_run_removes_the_earlier_runs_outputs_and_keeps_the_users_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = prepare(&out, false, &[]).unwrap();
        std::fs::create_dir(out.join("plots")).unwrap();
        std::fs::write(out.join("plots/old.svg"), "x").unwrap();
        std::fs::write(out.join("results.json"), "{}").unwrap();
        run.finish().unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let err = prepare(&out, false, &[]).unwrap_err().to_string();
        assert!(
            err.contains("not empty") && err.contains("--force"),
            "{err}"
        );
        let _rerun = prepare(&out, true, &[]).unwrap();
        assert!(!out.join("plots").exists() && !out.join("results.json").exists());
        assert!(out.join("notes.txt").exists());
        // A folder of the user's files only, forced: nothing is set aside,
        // and no empty folder is left for it.
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
        prepare(&theirs, true, &[]).unwrap().finish().unwrap();
        assert!(!theirs.join(REPLACED).exists() && theirs.join("notes.txt").exists());
    }

    #[test]
    fn a_forced_run_that_fails_puts_the_earlier_runs_outputs_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = prepare(&out, false, &[]).unwrap();
        std::fs::create_dir(out.join("plots")).unwrap();
        std::fs::write(out.join("plots/old.svg"), "old").unwrap();
        std::fs::write(out.join("results.json"), "old").unwrap();
        run.finish().unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let manifest = std::fs::read(out.join(MANIFEST)).unwrap();
        // The rerun writes part of its outputs, then fails (dropped unfinished).
        let rerun = prepare(&out, true, &[]).unwrap();
        assert!(
            !out.join("results.json").exists(),
            "moved aside while it runs"
        );
        std::fs::write(out.join("results.json"), "half").unwrap();
        std::fs::write(out.join("report.html"), "half").unwrap();
        drop(rerun);
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"old");
        assert_eq!(std::fs::read(out.join("plots/old.svg")).unwrap(), b"old");
        assert_eq!(std::fs::read(out.join(MANIFEST)).unwrap(), manifest);
        assert!(!out.join("report.html").exists() && !out.join(REPLACED).exists());
        assert!(out.join("notes.txt").exists());
        // A rerun that finishes leaves only its own outputs and the user's.
        let rerun = prepare(&out, true, &[]).unwrap();
        std::fs::write(out.join("results.json"), "new").unwrap();
        rerun.finish().unwrap();
        let left: Vec<_> = listing(&out).unwrap().into_iter().collect();
        assert_eq!(
            left,
            [MANIFEST, "notes.txt", "results.json"].map(OsString::from)
        );
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"new");
    }

    #[test]
    fn a_forced_run_refuses_to_write_over_what_no_earlier_run_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = prepare(&out, false, &[]).unwrap();
        std::fs::write(out.join("results.json"), "old").unwrap();
        run.finish().unwrap();
        std::fs::write(out.join("report.html"), "mine").unwrap();
        std::fs::create_dir(out.join("scores")).unwrap();
        // The earlier run's results.json is replaced; the user's report.html is refused by name.
        let err = prepare(&out, true, &[])
            .unwrap()
            .claim(&["results.json", "report.html"], |_| false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report.html") && err.contains("no earlier sensie run"),
            "{err}"
        );
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"old");
        assert_eq!(std::fs::read(out.join("report.html")).unwrap(), b"mine");
        // An entry recognised as sensie's is set aside, and put back if the
        // run fails; with no manifest entry to set aside as well, the folder
        // holding it is made by claim (and neither listed nor lost).
        let bare = dir.path().join("bare");
        std::fs::create_dir_all(bare.join("scores")).unwrap();
        std::fs::write(bare.join("scores/run.json"), "stamp").unwrap();
        let run = prepare(&bare, true, &[])
            .unwrap()
            .claim(&["scores"], |_| true)
            .unwrap();
        drop(run);
        assert_eq!(
            std::fs::read(bare.join("scores/run.json")).unwrap(),
            b"stamp"
        );
        assert!(!bare.join(REPLACED).exists());
        let run = prepare(&bare, true, &[])
            .unwrap()
            .claim(&["scores"], |_| true)
            .unwrap();
        std::fs::create_dir(bare.join("scores")).unwrap();
        run.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(bare.join(MANIFEST)).unwrap(),
            "scores\n"
        );
        assert!(!bare.join(REPLACED).exists());
        let rerun = prepare(&out, true, &[])
            .unwrap()
            .claim(&["results.json", "scores"], |p| p.ends_with("scores"))
            .unwrap();
        assert!(!out.join("scores").exists() && !out.join("results.json").exists());
        drop(rerun);
        assert!(out.join("scores").is_dir());
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"old");
        assert!(!out.join(REPLACED).exists());
        // Without --force, or resumed, nothing is checked (the folder was empty, or is the run's).
        resume(&out, &[], &[])
            .unwrap()
            .claim(&["report.html"], |_| false)
            .unwrap();
    }

    #[test]
    fn an_output_inside_a_folder_the_run_reads_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("digits");
        std::fs::create_dir_all(data.join("0")).unwrap();
        let err = prepare(&data.join("0_run"), false, &[&data])
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the input folder"), "{err}");
        assert!(!data.join("0_run").exists(), "nothing created in the data");
        // Beside the data folder, or beside a data file, is fine.
        prepare(&dir.path().join("run"), false, &[&data]).unwrap();
        let file = dir.path().join("x.npy");
        std::fs::write(&file, "x").unwrap();
        prepare(&dir.path().join("run2"), false, &[&file]).unwrap();
    }

    #[test]
    fn a_resumed_run_keeps_the_directory_and_owns_what_the_interrupted_run_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("scores/partial")).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let run = resume(&out, &[], &["scores"]).unwrap();
        assert!(out.join("scores/partial").exists(), "nothing removed");
        std::fs::write(out.join("results.json"), "{}").unwrap();
        run.finish().unwrap();
        let listed = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        assert_eq!(
            listed.lines().collect::<Vec<_>>(),
            ["results.json", "scores"]
        );
        let _rerun = prepare(&out, true, &[]).unwrap();
        assert!(!out.join("scores").exists() && out.join("notes.txt").exists());
    }

    #[test]
    fn files_and_folders_holding_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.npy");
        std::fs::write(&file, "x").unwrap();
        let err = prepare(&file, true, &[]).unwrap_err().to_string();
        assert!(err.contains("it is a file"), "{err}");
        let err = prepare(dir.path(), true, &[&file]).unwrap_err().to_string();
        assert!(
            err.contains("holds the input") && err.contains("x.npy"),
            "{err}"
        );
        assert!(file.exists());
    }
}
