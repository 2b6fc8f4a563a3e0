//! A scenario folder (SPEC section 3: `resources`, `needs`, optional `links` tables and
//! `policy.json`) read from a directory or from an archive (`.zip`, `.tar`, `.tar.gz`,
//! `.tgz`): one reader of the folder's files, whichever holds them.

use crate::{frames, io_err, table_err, DatasetError, TABLE_EXTENSIONS};
use commonsnet_engine::input::{JsonError, MAX_ISSUES};
use commonsnet_engine::{InputIssue, InvalidInput, Scenario};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Entries of a folder or archive looked at (names only, for the tables and for names
/// almost like theirs): a folder of very many files is not listed to its end.
const MAX_ENTRIES: usize = 100_000;

/// The most bytes the scenario files of an archive may inflate to, all together: a small
/// archive cannot ask for more memory than this (a zip bomb, or many copies of a table in
/// other folders), whatever its headers say. A larger scenario is solved from its folder.
pub const MAX_ARCHIVED_BYTES: u64 = 2 << 30;

/// Whether `path` names an archive this reader opens, by its extension (in any case).
pub fn is_archive(path: &Path) -> bool {
    archive_kind(path).is_some()
}

#[derive(Clone, Copy)]
enum ArchiveKind {
    Zip,
    Tar,
    TarGz,
}

fn archive_kind(path: &Path) -> Option<ArchiveKind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if name.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

/// Read a scenario folder packed in an archive: its files may stand at the archive's root or
/// in one folder of it; the scenario is named after the archive (`flood.zip`: `flood`).
pub fn read_scenario_archive(path: &Path) -> Result<Scenario, DatasetError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let lower = file_name.to_ascii_lowercase();
    let stem_len = [".tar.gz", ".tgz", ".zip", ".tar"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(file_name.len(), |ext| file_name.len() - ext.len());
    let name = file_name.get(..stem_len).filter(|n| !n.is_empty());
    Folder::of_archive(path)?.scenario(name)
}

/// What a scenario folder holds: every file's name, and a way to read the ones wanted.
pub(crate) struct Folder {
    /// Where the files are, for messages: the directory, or the archive's path.
    origin: PathBuf,
    /// The name of each file in the folder.
    names: Vec<String>,
    source: Source,
}

enum Source {
    Dir,
    /// The files a scenario reads, inflated, by name (the rest of an archive is not).
    Archive(BTreeMap<String, Entry>),
}

/// An archive's entry of a scenario file's name.
enum Entry {
    /// A file, inflated.
    File(Vec<u8>),
    /// No file: what it is instead ("a folder", "a link"), for the refusal.
    Other(&'static str),
}

/// Whether a file of this name is one a scenario folder reads.
fn is_scenario_file(name: &str) -> bool {
    name == "policy.json"
        || ["resources", "needs", "links"].iter().any(|table| {
            TABLE_EXTENSIONS
                .iter()
                .any(|ext| name == format!("{table}.{ext}"))
        })
}

impl Folder {
    pub(crate) fn of_dir(dir: &Path) -> Result<Folder, DatasetError> {
        // A file given as a folder is said to be one ("no resources table in x.json" hid it).
        if dir.is_file() {
            return Err(crate::format_err(
                dir,
                "is a file, not a scenario folder or archive (.zip, .tar, .tar.gz or .tgz)",
            ));
        }
        // Missing, or unreadable: the tables' reads below say so.
        let names = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .take(MAX_ENTRIES)
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        Ok(Folder {
            origin: dir.to_path_buf(),
            names,
            source: Source::Dir,
        })
    }

    fn of_archive(path: &Path) -> Result<Folder, DatasetError> {
        let kind = archive_kind(path).ok_or_else(|| {
            crate::format_err(path, "not an archive (.zip, .tar, .tar.gz or .tgz)")
        })?;
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        let bad = |e: &dyn std::fmt::Display| {
            crate::format_err(path, format!("not a readable archive: {e}"))
        };
        // Each entry as (its path in the archive, its bytes if the scenario reads it).
        let mut entries: Vec<(String, Option<Entry>)> = Vec::new();
        let mut left = MAX_ARCHIVED_BYTES;
        // `body` is the entry's reader, or what the entry is when it is no file (a folder, a
        // link): one of a scenario file's name is kept as such, to be refused by name
        // (skipped, a `policy.json` link was taken for no policy).
        let mut keep = |name: String,
                        body: Result<&mut dyn Read, &'static str>|
         -> Result<(), DatasetError> {
            if entries.len() >= MAX_ENTRIES {
                return Ok(());
            }
            let name = match body {
                Ok(_) => name,
                Err(_) => name.trim_end_matches('/').to_string(),
            };
            let base = name.rsplit('/').next().unwrap_or_default().to_string();
            if !is_scenario_file(&base) {
                if body.is_ok() {
                    entries.push((name, None));
                }
                return Ok(());
            }
            let reader = match body {
                Ok(reader) => reader,
                Err(what) => {
                    entries.push((name, Some(Entry::Other(what))));
                    return Ok(());
                }
            };
            let mut out = Vec::new();
            reader
                .take(left + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(&format!("{name}: {e}")))?;
            if out.len() as u64 > left {
                return Err(crate::format_err(
                    path,
                    format!(
                        "its scenario files inflate to more than {MAX_ARCHIVED_BYTES} bytes (at {name}): solve it from its folder"
                    ),
                ));
            }
            left -= out.len() as u64;
            entries.push((name, Some(Entry::File(out))));
            Ok(())
        };
        match kind {
            ArchiveKind::Zip => {
                let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(&e))?;
                for i in 0..zip.len().min(MAX_ENTRIES) {
                    let mut f = zip.by_index(i).map_err(|e| bad(&e))?;
                    let name = f.name().to_string();
                    if f.is_file() {
                        keep(name, Ok(&mut f))?;
                    } else {
                        keep(name, Err(if f.is_dir() { "a folder" } else { "a link" }))?;
                    }
                }
            }
            ArchiveKind::Tar | ArchiveKind::TarGz => {
                let reader: Box<dyn Read> = match kind {
                    ArchiveKind::TarGz => Box::new(flate2::read::GzDecoder::new(file)),
                    _ => Box::new(file),
                };
                let mut tar = tar::Archive::new(reader);
                for entry in tar.entries().map_err(|e| bad(&e))? {
                    let mut entry = entry.map_err(|e| bad(&e))?;
                    let name = entry.path().map_err(|e| bad(&e))?;
                    let name = name.to_string_lossy().into_owned();
                    let kind = entry.header().entry_type();
                    if kind.is_file() {
                        keep(name, Ok(&mut entry))?;
                    } else if kind.is_dir() {
                        keep(name, Err("a folder"))?;
                    } else if kind.is_symlink() || kind.is_hard_link() {
                        keep(name, Err("a link"))?;
                    } else if !kind.is_pax_global_extensions() && !kind.is_pax_local_extensions() {
                        keep(name, Err("no regular file"))?;
                    }
                }
            }
        }
        Self::from_entries(path, entries)
    }

    /// The folder an archive's entries hold: the shallowest folder with scenario files (its
    /// root, or `scen/` of `scen/needs.csv`; a report written into a subfolder, as `solve
    /// scen --out scen/out` does, is left alone as a folder's subfolders are); two such
    /// folders at one depth are refused.
    fn from_entries(
        path: &Path,
        entries: Vec<(String, Option<Entry>)>,
    ) -> Result<Folder, DatasetError> {
        // `./scen/needs.csv` as `tar -C . scen` writes it.
        let dir_of = |name: &str| {
            let name = name.trim_start_matches("./");
            name.rsplit_once('/').map_or("", |(d, _)| d).to_string()
        };
        let depth = |folder: &str| {
            if folder.is_empty() {
                0
            } else {
                folder.matches('/').count() + 1
            }
        };
        let folders: std::collections::BTreeSet<String> = entries
            .iter()
            .filter(|(_, bytes)| bytes.is_some())
            .map(|(name, _)| dir_of(name))
            .collect();
        let shallowest = folders.iter().map(|f| depth(f)).min().unwrap_or(0);
        let top: Vec<&String> = folders.iter().filter(|f| depth(f) == shallowest).collect();
        if top.len() > 1 {
            return Err(crate::format_err(
                path,
                format!(
                    "scenario files stand in {} folders of the archive ({}): pack one scenario folder",
                    top.len(),
                    top.iter()
                        .map(|f| if f.is_empty() { "its root" } else { f.as_str() })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let folder = top.first().map(|f| f.to_string()).unwrap_or_default();
        let mut names = Vec::new();
        let mut files = BTreeMap::new();
        for (name, bytes) in entries {
            if dir_of(&name) != folder {
                continue;
            }
            let base = name.rsplit('/').next().unwrap_or_default().to_string();
            if let Some(bytes) = bytes {
                files.insert(base.clone(), bytes);
            }
            names.push(base);
        }
        Ok(Folder {
            origin: if folder.is_empty() {
                path.to_path_buf()
            } else {
                path.join(folder)
            },
            names,
            source: Source::Archive(files),
        })
    }

    /// Whether the folder has an entry `name`, of whatever kind: one that is no readable file
    /// (a folder, a dangling link) is then refused by [`Self::read`], naming it, where it was
    /// taken for absent (a `policy.json` folder solved under the default policy).
    fn has(&self, name: &str) -> bool {
        match &self.source {
            Source::Dir => std::fs::symlink_metadata(self.origin.join(name)).is_ok(),
            Source::Archive(files) => files.contains_key(name),
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, DatasetError> {
        let path = self.origin.join(name);
        match &self.source {
            Source::Dir => crate::read_file(&path),
            Source::Archive(files) => match files.get(name) {
                Some(Entry::File(bytes)) => Ok(bytes.clone()),
                Some(Entry::Other(what)) => Err(crate::format_err(
                    &path,
                    format!("is {what} in the archive, not a file"),
                )),
                None => Ok(Vec::new()),
            },
        }
    }

    /// The file of table `table`. Two files of one table (`needs.arrow` and `needs.csv`, left
    /// by a write in another format) are refused: reading one by the extensions' order would
    /// silently solve a stale table.
    fn table_file(&self, table: &str) -> Result<Option<String>, DatasetError> {
        let mut found = TABLE_EXTENSIONS
            .iter()
            .map(|ext| format!("{table}.{ext}"))
            .filter(|f| self.has(f));
        let first = found.next();
        if let (Some(a), Some(b)) = (&first, found.next()) {
            return Err(DatasetError::Invalid(InvalidInput::of_table(
                table,
                format!(
                    "{} and {} are both the {table} table: remove the one not meant",
                    self.origin.join(a).display(),
                    self.origin.join(b).display()
                ),
            )));
        }
        Ok(first)
    }

    /// Refuse a folder holding a file that is named almost as one it reads (`Links.csv`,
    /// `links.CSV`, `link.csv`, `links.tsv`, `Policy.json`, `policy.yaml`): read as it stood,
    /// the scenario would go without those links or that policy, and the plan would change
    /// without a word. Other files (notes, results, an editor's `needs.csv~`) are left alone.
    fn misnamed_files(&self) -> Result<(), DatasetError> {
        let mut issues = Vec::new();
        for name in &self.names {
            let Some((stem, ext)) = name.split_once('.') else {
                continue;
            };
            let (stem, ext) = (stem.to_ascii_lowercase(), ext.to_ascii_lowercase());
            if !TABLE_EXTENSIONS.contains(&ext.as_str())
                && !["json", "tsv", "txt", "yaml", "yml", "xlsx"].contains(&ext.as_str())
            {
                continue;
            }
            let table = match stem.as_str() {
                "resources" | "resource" => "resources",
                "needs" | "need" => "needs",
                "links" | "link" => "links",
                "policy" | "policies" => "policy",
                _ => continue,
            };
            if is_scenario_file(name) || issues.len() >= MAX_ISSUES {
                continue;
            }
            // Beside the file the scenario reads for it, another is no typo (`needs.xlsx`
            // next to `needs.csv`; on a case-blind disk `Needs.csv` is that file).
            let read_beside = if table == "policy" {
                self.has("policy.json")
            } else {
                self.table_file(table).ok().flatten().is_some()
            };
            if read_beside {
                continue;
            }
            let wanted = if table == "policy" {
                "policy.json".to_string()
            } else {
                format!("{table}.{{{}}}", TABLE_EXTENSIONS.join(","))
            };
            issues.push(InputIssue {
                table: table.to_string(),
                row: None,
                field: None,
                message: format!(
                    "{name} in {} is not read: the {table} file is named {wanted}, in lower case; rename it, or move it out of the folder",
                    self.origin.display()
                ),
            });
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(DatasetError::Invalid(InvalidInput::new(issues)))
        }
    }

    /// The scenario the folder holds, named `name`.
    pub(crate) fn scenario(&self, name: Option<&str>) -> Result<Scenario, DatasetError> {
        self.misnamed_files()?;
        // Cells and columns the reader could not type are listed with the validator's
        // problems (the first bad cell hid every other problem of the scenario).
        let found = std::cell::RefCell::new(commonsnet_engine::input::Problems::default());
        // Each row's problems say its file (and line, in CSV).
        let sources = std::cell::RefCell::new(frames::RowSources::default());
        let table = |table: &str, required: bool| -> Result<Option<Vec<_>>, DatasetError> {
            match self.table_file(table)? {
                Some(file) => {
                    let p = self.origin.join(&file);
                    let bytes = self.read(&file)?;
                    let csv = crate::TableFormat::from_path(&p) == Some(crate::TableFormat::Csv);
                    let mut read =
                        frames::read_table_collecting(&bytes, csv).map_err(table_err(&p))?;
                    read.report(table, &file, &mut found.borrow_mut());
                    sources.borrow_mut().add(table, &file, read.lines);
                    Ok(Some(read.batches))
                }
                None if required => Err(DatasetError::Invalid(InvalidInput::of_table(
                    table,
                    format!(
                        "no {table} table in {} (looked for {table}.{{{}}})",
                        self.origin.display(),
                        TABLE_EXTENSIONS.join(",")
                    ),
                ))),
                None => Ok(None),
            }
        };
        let resources = table("resources", true)?.unwrap_or_default();
        let needs = table("needs", true)?.unwrap_or_default();
        let links = table("links", false)?;
        let policy = if self.has("policy.json") {
            let path = self.origin.join("policy.json");
            let bytes = self.read("policy.json")?;
            // A key given twice is refused (naming its path), never last-wins.
            Some(
                commonsnet_engine::input::parse_json(&bytes).map_err(|e| match e {
                    JsonError::Syntax(e) => {
                        crate::format_err(&path, format!("not valid JSON: {e}"))
                    }
                    other => DatasetError::Invalid(other.into_invalid_input("policy")),
                })?,
            )
        } else {
            None
        };
        let tables = commonsnet_engine::ScenarioTables {
            resources: &resources,
            needs: &needs,
            links: links.as_deref(),
            policy: policy.as_ref(),
            name,
        };
        Ok(tables
            .scenario_with(found.into_inner())
            .map_err(|e| sources.into_inner().place(e))?)
    }
}
