//! `Portability/archive_browser.json` in Google's shape (SPEC §8), which importers written
//! against real Google archives parse: they take the last URL as the index, read
//! `serviceStatus[i].folderName` and `extractedFile[j].name`, and open
//! `Portability/<folderName>/<name>` in the data parts.
//!
//! It is built from what the job actually wrote: one `serviceStatus` per top folder below
//! `Portability/` (a Google service such as `My Activity`, or an operator's top folder), its
//! `extractedFile` entries mirroring the folder tree (`childFile` for sub-folders), and the
//! counters as JSON strings, as Google writes them.

use dataport_types::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// Characters kept as they are in a `urlSafeName` (RFC 3986 unreserved).
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Google's service enum for the folders whose name is not simply their upper-cased words.
const SERVICE_NAMES: &[(&str, &str)] = &[
    ("YouTube and YouTube Music", "YOUTUBE"),
    ("YouTube", "YOUTUBE"),
    ("Google Play Store", "PLAY"),
    ("Google Alerts", "ALERTS"),
    ("Maps (your places)", "MAPS"),
];

/// The service enum of a top folder: `My Activity` → `MY_ACTIVITY`.
fn service_name(folder: &str) -> String {
    if let Some((_, name)) = SERVICE_NAMES.iter().find(|(f, _)| *f == folder) {
        return (*name).to_owned();
    }
    let words: Vec<String> = folder
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    words.join("_")
}

/// A folder of the tree being built: its files and sub-folders in the order they were written.
#[derive(Default)]
struct Folder {
    entries: Vec<(String, Entry)>,
}

enum Entry {
    File,
    Folder(Folder),
}

impl Folder {
    fn add(&mut self, segments: &[&str]) {
        let [first, rest @ ..] = segments else { return };
        if rest.is_empty() {
            self.entries.push(((*first).to_owned(), Entry::File));
            return;
        }
        let position = self.entries.iter().position(|(name, e)| name == first && matches!(e, Entry::Folder(_)));
        let index = position.unwrap_or_else(|| {
            self.entries.push(((*first).to_owned(), Entry::Folder(Folder::default())));
            self.entries.len() - 1
        });
        if let (_, Entry::Folder(folder)) = &mut self.entries[index] {
            folder.add(rest);
        }
    }

    fn extracted(&self) -> Vec<Value> {
        self.entries
            .iter()
            .map(|(name, entry)| {
                let mut file = json!({
                    "name": name,
                    "extension": match entry {
                        Entry::File => name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default(),
                        Entry::Folder(_) => "",
                    },
                    "state": "SUCCESS",
                    "urlSafeName": utf8_percent_encode(name, URL_SAFE).to_string(),
                });
                if let Entry::Folder(folder) = entry {
                    file["childFile"] = Value::Array(folder.extracted());
                }
                file
            })
            .collect()
    }
}

/// The archive browser for files at `paths` (each `Portability/<service folder>/…`, with its
/// uncompressed size), written at `created`.
pub fn archive_browser<'a>(files: impl IntoIterator<Item = (&'a str, u64)>, created: Timestamp) -> Value {
    // Services in the order their first file was written.
    let mut services: Vec<(String, Folder, u64, u64)> = Vec::new();
    let mut total = 0u64;
    for (path, size) in files {
        let Some(below) = path.strip_prefix("Portability/") else { continue };
        let segments: Vec<&str> = below.split('/').collect();
        let [service, rest @ ..] = segments.as_slice() else { continue };
        if rest.is_empty() {
            continue; // a file beside the service folders (dataport's own manifest)
        }
        let index = services.iter().position(|(name, ..)| name == service).unwrap_or_else(|| {
            services.push(((*service).to_owned(), Folder::default(), 0, 0));
            services.len() - 1
        });
        let (_, folder, count, bytes) = &mut services[index];
        folder.add(rest);
        *count += 1;
        *bytes += size;
        total += size;
    }
    let status: Vec<Value> = services
        .iter()
        .map(|(name, folder, count, bytes)| {
            json!({
                "service": { "name": service_name(name) },
                "localizedServiceName": name,
                "isIncomplete": false,
                "folderName": name,
                "extractedFile": folder.extracted(),
                "deletedFileCount": "0",
                "extractedFileTotal": count.to_string(),
                "extractedFileSize": bytes.to_string(),
            })
        })
        .collect();
    json!({ "creationTime": created.to_string(), "totalSize": total.to_string(), "serviceStatus": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_folders_and_files_in_googles_shape() {
        let files = [
            ("Portability/My Activity/Search/MyActivity.json", 100),
            ("Portability/My Activity/Search/MyActivity(1).json", 50),
            ("Portability/My Activity/YouTube/MyActivity.json", 10),
            ("Portability/Maps (your places)/Saved Places.json", 7),
            ("Portability/Notes/Photos/2024/beach sunset.jpg", 3),
        ];
        let browser = archive_browser(files, Timestamp::from_micros(1_700_000_000_000_000));
        assert_eq!(browser["totalSize"], "170");
        assert_eq!(browser["creationTime"], "2023-11-14T22:13:20Z");
        let services = browser["serviceStatus"].as_array().expect("services");
        assert_eq!(services.len(), 3);
        let activity = &services[0];
        assert_eq!(activity["service"]["name"], "MY_ACTIVITY");
        assert_eq!(activity["folderName"], "My Activity");
        assert_eq!(activity["extractedFileTotal"], "3");
        assert_eq!(activity["extractedFileSize"], "160");
        assert_eq!(activity["extractedFile"][0]["name"], "Search");
        assert_eq!(activity["extractedFile"][0]["extension"], "");
        assert_eq!(activity["extractedFile"][0]["childFile"][1]["name"], "MyActivity(1).json");
        assert_eq!(activity["extractedFile"][0]["childFile"][1]["extension"], "json");
        assert_eq!(activity["extractedFile"][1]["name"], "YouTube");
        let places = &services[1];
        assert_eq!(places["service"]["name"], "MAPS");
        assert_eq!(places["extractedFile"][0]["name"], "Saved Places.json");
        assert_eq!(places["extractedFile"][0]["urlSafeName"], "Saved%20Places.json");
        assert_eq!(places["extractedFile"][0]["state"], "SUCCESS");
        assert_eq!(services[2]["service"]["name"], "NOTES");
        assert_eq!(services[2]["extractedFile"][0]["childFile"][0]["childFile"][0]["name"], "beach sunset.jpg");
        assert!(services.iter().all(|s| s["isIncomplete"] == false && s["deletedFileCount"] == "0"));
    }
}
