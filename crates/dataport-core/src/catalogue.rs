//! The resource-group catalogue: which groups exist, how they are presented and where their data
//! comes from (SPEC §5). It is data, loaded from TOML; the built-in file is Google's 73 groups.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The catalogue compiled into the binary: Google's v1 groups, bound to the emulator.
pub const BUILT_IN: &str = include_str!("../catalogue/google.toml");

/// Google's scope prefix, so that apps keep their scope strings.
pub const GOOGLE_SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/dataportability.";

/// Which access a user may grant for a group at consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantableAccess {
    OneTime,
    TimeBased,
}

/// How a group's files are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A JSON document (array or an object wrapping one).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
    /// Media files, stored without recompression.
    Media,
}

/// Where a group's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Deterministic synthetic data in Google's export shapes (SPEC §8.1).
    Emulator,
}

/// One resource group: the unit of consent and of export, 1:1 with an OAuth scope.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroup {
    /// The name used in `resources` and as the scope suffix, e.g. `myactivity.search`.
    pub name: String,
    /// Short title for the consent page.
    pub title: String,
    /// What the consent page says is moved ("Move a copy of …").
    pub description: String,
    /// Whether `startTime`/`endTime` may be given for this group.
    pub time_filter: bool,
    /// Which access types a user may grant.
    pub access_types: Vec<GrantableAccess>,
    /// The folder of the group's files in the archive, below `Portability/`.
    pub folder: String,
    pub format: Format,
    pub source: SourceKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    group: Vec<ResourceGroup>,
}

/// Why a catalogue file was rejected; the message names the file, the key and the problem.
#[derive(Debug, thiserror::Error)]
#[error("catalogue {origin}: {problem}")]
pub struct CatalogueError {
    origin: String,
    problem: String,
}

/// The set of resource groups a server offers, in catalogue order.
#[derive(Clone, Debug)]
pub struct Catalogue {
    groups: Vec<ResourceGroup>,
    index: HashMap<String, usize>,
}

impl Catalogue {
    /// The built-in catalogue (emulator mode).
    pub fn built_in() -> Self {
        #[allow(clippy::expect_used)] // the file is compiled in and covered by a unit test
        Self::parse(BUILT_IN, "built-in").expect("the built-in catalogue is valid")
    }

    /// Loads a catalogue file.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CatalogueError { origin: origin.clone(), problem: e.to_string() })?;
        Self::parse(&text, &origin)
    }

    /// Parses catalogue TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogueError> {
        let err = |problem: String| CatalogueError { origin: origin.to_owned(), problem };
        let file: CatalogueFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut index = HashMap::new();
        for (i, group) in file.group.iter().enumerate() {
            let valid_name = !group.name.is_empty()
                && group.name.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            if !valid_name {
                return Err(err(format!(
                    "group[{i}].name {:?} must be dot-separated parts of a-z, 0-9 and _",
                    group.name
                )));
            }
            if group.access_types.is_empty() {
                return Err(err(format!("group[{i}].access_types of {:?} is empty", group.name)));
            }
            let folder_ok = !group.folder.is_empty()
                && group.folder.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
                && !group.folder.contains('\\');
            if !folder_ok {
                return Err(err(format!("group[{i}].folder {:?} is not a relative path", group.folder)));
            }
            if index.insert(group.name.clone(), i).is_some() {
                return Err(err(format!("group[{i}].name {:?} appears twice", group.name)));
            }
        }
        if file.group.is_empty() {
            return Err(err("no [[group]] entries".to_owned()));
        }
        Ok(Self { groups: file.group, index })
    }

    /// All groups in catalogue order.
    pub fn groups(&self) -> &[ResourceGroup] {
        &self.groups
    }

    /// The group named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ResourceGroup> {
        self.index.get(name).map(|&i| &self.groups[i])
    }

    /// Sorts group names into catalogue order (the order of archives and of `accessType:check`).
    pub fn sort(&self, names: &mut [String]) {
        names.sort_by_key(|n| self.index.get(n).copied().unwrap_or(usize::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_has_googles_73_groups_with_googles_time_filter_rule() {
        let c = Catalogue::built_in();
        assert_eq!(c.groups().len(), 73);
        for g in c.groups() {
            let expected = g.name.starts_with("myactivity.") || g.name == "chrome.history";
            assert_eq!(g.time_filter, expected, "{}", g.name);
            assert!(
                g.description.starts_with("Move a copy") || g.name.starts_with("nest.") || g.name.starts_with("pixel.")
            );
        }
    }

    #[test]
    fn invalid_files_name_the_key_and_problem() {
        let e = Catalogue::parse("[[group]]\nname = \"a\"\n", "ops.toml").expect_err("missing keys");
        assert!(e.to_string().starts_with("catalogue ops.toml:"), "{e}");
        let dup = "[[group]]\nname='a'\ntitle='t'\ndescription='d'\ntime_filter=false\naccess_types=['one-time']\nfolder='A'\nformat='json'\nsource='emulator'\n";
        let e = Catalogue::parse(&format!("{dup}{dup}"), "x.toml").expect_err("duplicate");
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = Catalogue::parse(&dup.replace("folder='A'", "folder='../etc'"), "x.toml").expect_err("folder");
        assert!(e.to_string().contains("group[0].folder"), "{e}");
    }
}
