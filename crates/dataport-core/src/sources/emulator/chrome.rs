//! Chrome (`chrome.*`), after Google's schema reference
//! <https://developers.google.com/data-portability/schema-reference/chrome>. Only the page's first
//! objects could be read ("Addresses and more", "Bookmarks", "History"); where the page was not
//! readable, the files are those of the `Chrome/` folder of real Takeout exports, as the importers
//! cited beside each shape read them. A real export's folder holds `History.json`,
//! `Addresses and more.json`, `Bookmarks.html`, `Reading List.html`, `Dictionary.csv`,
//! `Extensions.json` and `Settings.json`, among others.

use super::*;

/// Writes the group's files.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    match group.name.as_str() {
        "chrome.history" => {
            x.records("History.json", FileLayout::wrapped("{\"Browser History\":[", "]}"), all, |s, b| {
                chrome_history(&mut s.rng, s.time, s.key, b)
            })
        }
        // Page object "Addresses and more": `{"Autofill Profile": [AutofillProfileSpecifics…],
        // "Contact Info": [ContactInfoSpecifics…], "Autofill": AutofillSpecifics}`. The profile's
        // keys are Chromium's sync proto fields, as Takeout importers read them
        // (`profile['Autofill Profile']`, `name_first[0]`, `address_home_street_address`, …).
        // One profile per slot; the user's one autocomplete entry closes the document.
        "chrome.autofill" => {
            let suffix = autofill_tail(x.timeline.key);
            x.records(
                "Addresses and more.json",
                FileLayout::wrapped("{\"Autofill Profile\":[", &suffix),
                all,
                |s, b| autofill_profile(&mut s.rng, s.time, b),
            )
        }
        // Page object "Bookmarks" (HTML, no fields listed): the Netscape bookmark file that
        // Takeout writes as `Chrome/Bookmarks.html`, one `<DT><A HREF ADD_DATE>` per bookmark.
        "chrome.bookmarks" => x.records("Bookmarks.html", html(BOOKMARKS_HEAD, BOOKMARKS_TAIL), all, |s, b| {
            link(&mut s.rng, s.time, "        ", b)
        }),
        // Object not readable on the page. Takeout's `Chrome/Dictionary.csv` is one word per line
        // without a header (ALEAPP's `chromeDictionary` reads every line as a word).
        "chrome.dictionary" => x.records("Dictionary.csv", lines(), all, |s, b| word(&mut s.rng, b)),
        // Object not readable on the page. Takeout's `Chrome/Extensions.json`:
        // `{"Extensions": [{name, version, id, enabled, incognito_enabled, remote_install}]}`, as
        // ALEAPP's `chromeExtensions` reads it.
        "chrome.extensions" => {
            x.records("Extensions.json", FileLayout::wrapped("{\"Extensions\":[", "]}"), all, |s, b| {
                extension(&mut s.rng, b)
            })
        }
        // Object not readable on the page. Takeout's `Chrome/Reading List.html` is read like the
        // bookmarks (`a[href]` with `add_date` in seconds) by importers of real exports.
        "chrome.reading_list" => {
            x.records("Reading List.html", html(READING_LIST_HEAD, READING_LIST_TAIL), all, |s, b| {
                link(&mut s.rng, s.time, "    ", b)
            })
        }
        // Object not readable on the page. Takeout's `Chrome/Settings.json` holds
        // `"Preferences": [{name, value}]`, each value JSON-encoded as a string, as importers of
        // real exports read it (`intl.accept_languages` → `"\"en-GB,en\""`).
        "chrome.settings" => {
            x.records("Settings.json", FileLayout::wrapped("{\"Preferences\":[", "]}"), all, |s, b| {
                preference(&mut s.rng, b)
            })
        }
        _ => generic::export(group, x),
    }
}

pub(super) const TRANSITIONS: &[&str] =
    &["LINK", "LINK", "LINK", "TYPED", "AUTO_BOOKMARK", "RELOAD", "GENERATED", "FORM_SUBMIT"];

pub(super) fn chrome_history(r: &mut Rng, t: i64, key: u64, b: &mut Vec<u8>) {
    let pg = page(r);
    let mut o = Obj::new(b);
    o.text("title", &pg.title);
    page_url(&mut o, "url", &pg);
    o.int("time_usec", t);
    o.str("page_transition", r.pick(TRANSITIONS));
    let device = r.below(3);
    if r.chance(85) {
        let b = o.key("favicon_url");
        b.extend_from_slice(b"\"https://");
        esc(b, pg.host);
        b.extend_from_slice(b"/favicon.ico\"");
    }
    // One of three devices per user, so the id repeats the way a real profile's does.
    let b = o.key("client_id");
    b.push(b'"');
    random_chars(b, &mut Rng::new(mix(key ^ device)), 22, BASE64);
    b.extend_from_slice(b"==\"");
    o.end();
}

// ---------------------------------------------------------------------------------------------
// Autofill

/// Closes `"Autofill Profile"` and adds the two other keys of the page's object: no contact info,
/// and one autocomplete entry (`AutofillSpecifics`: `name` of the form field, `value` typed),
/// fixed per user.
fn autofill_tail(key: u64) -> String {
    let mut r = Rng::new(mix(key ^ 0x4155_544F_4649_4C4C));
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(b"],\"Contact Info\":[],\"Autofill\":{\"name\":\"email\",\"value\":\"");
    email(&mut b, r.pick(FIRST_NAMES), r.pick(LAST_NAMES));
    b.extend_from_slice(b"\"}}");
    String::from_utf8(b).unwrap_or_default()
}

/// `first.last@example.com`, lower-cased.
fn email(b: &mut Vec<u8>, first: &str, last: &str) {
    email_part(b, first);
    b.push(b'.');
    email_part(b, last);
    b.extend_from_slice(b"@example.com");
}

/// One `AutofillProfileSpecifics`: the repeated proto fields (names, e-mail, phone) are lists.
fn autofill_profile(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let first = r.pick(FIRST_NAMES);
    let last = r.pick(LAST_NAMES);
    let pl = place(r);
    let mut o = Obj::new(b);
    let b = o.key("guid");
    b.push(b'"');
    uuid(b, r);
    b.push(b'"');
    o.int("use_count", r.range(1, 80));
    // Seconds since the epoch, as Chromium's `use_date`.
    o.int("use_date", t.div_euclid(1_000_000));
    o.strs("name_first", &[first]);
    o.strs("name_last", &[last]);
    let b = o.key("name_full");
    b.extend_from_slice(b"[\"");
    esc(b, first);
    b.push(b' ');
    esc(b, last);
    b.extend_from_slice(b"\"]");
    let b = o.key("email_address");
    b.extend_from_slice(b"[\"");
    email(b, first, last);
    b.extend_from_slice(b"\"]");
    let b = o.key("phone_home_whole_number");
    b.extend_from_slice(b"[\"+");
    uint(b, 1 + r.below(98));
    b.push(b' ');
    uint(b, 100_000_000 + r.below(900_000_000));
    b.extend_from_slice(b"\"]");
    if r.chance(35) {
        o.str("company_name", r.pick(BRANDS).0);
    }
    let line2 = r.chance(25).then(|| r.range(1, 40));
    let street = |b: &mut Vec<u8>| {
        b.push(b'"');
        uint(b, pl.number);
        b.push(b' ');
        esc(b, pl.street);
    };
    street(o.key("address_home_line1"));
    o.b.push(b'"');
    if let Some(flat) = line2 {
        let b = o.key("address_home_line2");
        b.extend_from_slice(b"\"Flat ");
        uint(b, flat as u64);
        b.push(b'"');
    }
    // The street address is both lines, separated by a line break.
    street(o.key("address_home_street_address"));
    if let Some(flat) = line2 {
        o.b.extend_from_slice(b"\\nFlat ");
        uint(o.b, flat as u64);
    }
    o.b.push(b'"');
    o.str("address_home_city", pl.city.name);
    let b = o.key("address_home_zip");
    b.push(b'"');
    uint(b, 10_000 + r.below(90_000));
    b.push(b'"');
    o.str("address_home_country", pl.city.code);
    o.end();
}

/// A version-4 UUID in its usual text form.
fn uuid(b: &mut Vec<u8>, r: &mut Rng) {
    let (hi, lo) = (r.next(), r.next());
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    hex(b, hi >> 32, 8);
    b.push(b'-');
    hex(b, hi >> 16, 4);
    b.push(b'-');
    hex(b, hi, 4);
    b.push(b'-');
    hex(b, lo >> 48, 4);
    b.push(b'-');
    hex(b, lo, 12);
}

// ---------------------------------------------------------------------------------------------
// Bookmarks and the reading list: Netscape bookmark files

const BOOKMARKS_HEAD: &str = "<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 PERSONAL_TOOLBAR_FOLDER=\"true\">Bookmarks bar</H3>
    <DL><p>
";
const BOOKMARKS_TAIL: &str = "
    </DL><p>
</DL><p>
";
const READING_LIST_HEAD: &str = "<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">
<TITLE>Reading List</TITLE>
<H1>Reading List</H1>
<DL><p>
";
const READING_LIST_TAIL: &str = "
</DL><p>
";

/// An HTML document whose records are lines between `head` and `tail`.
fn html(head: &str, tail: &str) -> FileLayout {
    FileLayout { prefix: head.to_owned(), separator: "\n".to_owned(), suffix: tail.to_owned(), compress: true }
}

/// `<DT><A HREF="…" ADD_DATE="…">title</A>`, `ADD_DATE` in seconds since the epoch.
fn link(r: &mut Rng, t: i64, indent: &str, b: &mut Vec<u8>) {
    let pg = page(r);
    b.extend_from_slice(indent.as_bytes());
    b.extend_from_slice(b"<DT><A HREF=\"");
    page_href(b, &pg);
    b.extend_from_slice(b"\" ADD_DATE=\"");
    uint(b, t.div_euclid(1_000_000).max(0) as u64);
    b.extend_from_slice(b"\">");
    for part in pg.title {
        html_text(b, part);
    }
    b.extend_from_slice(b"</A>");
}

/// Appends `s` escaped for HTML text and attribute values.
fn html_text(b: &mut Vec<u8>, s: &str) {
    for c in s.bytes() {
        match c {
            b'&' => b.extend_from_slice(b"&amp;"),
            b'<' => b.extend_from_slice(b"&lt;"),
            b'>' => b.extend_from_slice(b"&gt;"),
            b'"' => b.extend_from_slice(b"&quot;"),
            _ => b.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dictionary, extensions, settings

/// Lines of text without a header, each record ending with a newline.
fn lines() -> FileLayout {
    FileLayout { prefix: String::new(), separator: String::new(), suffix: String::new(), compress: true }
}

/// Words people add to a spelling dictionary: names, jargon, foreign words.
const EXTRA_WORDS: &[&str] = &[
    "Kubernetes",
    "PostgreSQL",
    "async",
    "middleware",
    "Okonkwo",
    "Nguyen",
    "Kowalski",
    "Tanaka",
    "Bauhaus",
    "Reykjavík",
    "dal",
    "gochujang",
    "tahini",
    "Strava",
    "Duolingo",
    "repo",
    "webhook",
    "lockfile",
];

fn word(r: &mut Rng, b: &mut Vec<u8>) {
    let n = WORDS.len() + EXTRA_WORDS.len();
    let i = r.below(n as u64) as usize;
    let w = WORDS.get(i).copied().unwrap_or_else(|| EXTRA_WORDS[i - WORDS.len()]);
    b.extend_from_slice(w.as_bytes());
}

/// Chrome Web Store extensions and their store ids.
const EXTENSIONS: &[(&str, &str)] = &[
    ("uBlock Origin", "cjpalhdlnbpafiamejdnhcphjbkeiagm"),
    ("Bitwarden Password Manager", "nngceckbapebfimnlniiiahkandclblb"),
    ("Dark Reader", "eimadpbcbfnmbkopoojfekhnkhdbieeh"),
    ("Google Translate", "aapbdbdomjkkjkaonfhkkikfgjllcleb"),
    ("Grammarly: AI Writing and Grammar Checker App", "kbfnbcaeplbcioakkpcpgfkobkghlhen"),
    ("React Developer Tools", "fmkadmapgofadopljbjfkapdkoienihi"),
    ("Privacy Badger", "pkehgijcmpdhfbdbbnkijodmdjhbjlgp"),
    ("Tampermonkey", "dhdgffkkebhmkfjojejmpbldmpobfkfo"),
];

fn extension(r: &mut Rng, b: &mut Vec<u8>) {
    let (name, id) = r.pick(EXTENSIONS);
    let mut o = Obj::new(b);
    o.str("name", name);
    o.str("id", id);
    let b = o.key("version");
    b.push(b'"');
    uint(b, r.below(30));
    b.push(b'.');
    uint(b, r.below(20));
    b.push(b'.');
    uint(b, r.below(200));
    b.push(b'"');
    o.boolean("enabled", r.chance(85));
    o.boolean("incognito_enabled", r.chance(15));
    o.boolean("remote_install", r.chance(5));
    o.end();
}

/// Synced preferences and the values they take, each value as Chrome serializes it (JSON text).
const PREFERENCES: &[(&str, &[&str])] = &[
    ("browser.show_home_button", &["true", "false"]),
    ("bookmark_bar.show_on_all_tabs", &["true", "false"]),
    ("search.suggest_enabled", &["true", "false"]),
    ("safebrowsing.enhanced", &["true", "false"]),
    ("translate.enabled", &["true", "false"]),
    ("autofill.profile_enabled", &["true", "false"]),
    ("download.prompt_for_download", &["true", "false"]),
    ("intl.accept_languages", &["\"en-GB,en\"", "\"en-US,en\"", "\"de-DE,de,en\"", "\"fr-FR,fr,en\""]),
    ("homepage", &["\"https://www.google.com/\"", "\"https://news.google.com/\""]),
    ("session.restore_on_startup", &["1", "4", "5"]),
    ("webkit.webprefs.default_font_size", &["16", "18", "20"]),
];

fn preference(r: &mut Rng, b: &mut Vec<u8>) {
    let (name, values) = r.pick(PREFERENCES);
    let mut o = Obj::new(b);
    o.str("name", name);
    o.str("value", r.pick(values));
    o.end();
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::super::test_sink::*;
    use super::*;

    fn only(name: &str, records: u64) -> File {
        let files = run_all(&emulator(records, 0), name, "alice", None, EXPORT);
        assert_eq!(files.len(), 1, "{name}: one file");
        files.into_iter().next().expect("a file")
    }

    #[test]
    fn autofill_is_addresses_and_more_with_profiles() {
        let file = only("chrome.autofill", 200);
        assert_eq!(file.name, "Addresses and more.json");
        let doc = file.json();
        let profiles = doc["Autofill Profile"].as_array().expect("Autofill Profile");
        assert_eq!(profiles.len(), file.records.len());
        assert!(doc["Contact Info"].is_array());
        assert!(doc["Autofill"]["name"].is_string() && doc["Autofill"]["value"].is_string(), "{}", doc["Autofill"]);
        let mut companies = 0;
        let mut second_lines = 0;
        for p in profiles {
            assert_eq!(p["guid"].as_str().expect("guid").len(), 36, "{p}");
            assert!(p["use_count"].is_i64() && p["use_date"].is_i64(), "{p}");
            let t = p["use_date"].as_i64().expect("use_date") * 1_000_000;
            assert!((EXPORT - HISTORY_MICROS - 1_000_000..EXPORT).contains(&t), "{p}");
            for k in ["name_first", "name_last", "name_full", "email_address", "phone_home_whole_number"] {
                assert!(p[k][0].is_string(), "{k}: {p}");
            }
            assert!(p["email_address"][0].as_str().expect("email").ends_with("@example.com"));
            for k in [
                "address_home_line1",
                "address_home_street_address",
                "address_home_city",
                "address_home_zip",
                "address_home_country",
            ] {
                assert!(p[k].is_string(), "{k}: {p}");
            }
            companies += usize::from(p.get("company_name").is_some());
            if let Some(l2) = p.get("address_home_line2") {
                second_lines += 1;
                let street = p["address_home_street_address"].as_str().expect("street");
                assert!(street.ends_with(&format!("\n{}", l2.as_str().expect("line 2"))), "{p}");
            }
        }
        assert!(companies > 0 && second_lines > 0);
        // An empty window still gives the whole object.
        let empty = run(&emulator(200, 0), "chrome.autofill", "alice", Some(EXPORT), EXPORT);
        assert_eq!(empty.json()["Autofill Profile"], serde_json::json!([]));
    }

    /// The `<A>` lines of a Netscape bookmark file: (href, add_date, title).
    fn anchors(file: &File) -> Vec<(String, i64, String)> {
        let text = String::from_utf8(file.document()).expect("UTF-8");
        assert!(text.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"), "{text}");
        assert_eq!(text.matches("<DL><p>").count(), text.matches("</DL><p>").count());
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix("<DT><A HREF=\""))
            .map(|l| {
                let (href, rest) = l.split_once("\" ADD_DATE=\"").expect("ADD_DATE");
                let (date, rest) = rest.split_once("\">").expect("end of tag");
                let title = rest.strip_suffix("</A>").expect("</A>");
                assert!(!title.contains('<') && !title.contains('"'), "{title}");
                (href.to_owned(), date.parse().expect("seconds"), title.to_owned())
            })
            .collect()
    }

    #[test]
    fn bookmarks_and_the_reading_list_are_netscape_bookmark_files() {
        for (name, path, folder) in [
            ("chrome.bookmarks", "Bookmarks.html", Some("<H3 PERSONAL_TOOLBAR_FOLDER=\"true\">Bookmarks bar</H3>")),
            ("chrome.reading_list", "Reading List.html", None),
        ] {
            let file = only(name, 300);
            assert_eq!(file.name, path);
            let text = String::from_utf8(file.document()).expect("UTF-8");
            if let Some(folder) = folder {
                assert!(text.contains(folder), "{text}");
            }
            let links = anchors(&file);
            assert_eq!(links.len(), file.records.len(), "{name}: one link per record");
            assert!(links.windows(2).all(|w| w[0].1 >= w[1].1), "{name}: newest first");
            for (href, date, title) in &links {
                assert!(href.starts_with("https://") && !href.contains('"'), "{href}");
                assert!((EXPORT - HISTORY_MICROS) / 1_000_000 - 1 <= *date && *date < EXPORT / 1_000_000 + 1);
                assert!(!title.is_empty());
            }
            let empty = run(&emulator(300, 0), name, "alice", Some(EXPORT), EXPORT);
            assert!(anchors(&empty).is_empty());
        }
    }

    #[test]
    fn html_text_is_escaped() {
        let mut b = Vec::new();
        html_text(&mut b, "Salt & <Stone> \"x\" O'Brien");
        assert_eq!(b, b"Salt &amp; &lt;Stone&gt; &quot;x&quot; O'Brien");
    }

    #[test]
    fn the_dictionary_is_one_word_per_line() {
        let file = only("chrome.dictionary", 100);
        assert_eq!(file.name, "Dictionary.csv");
        let text = String::from_utf8(file.document()).expect("UTF-8");
        let words: Vec<&str> = text.lines().collect();
        assert_eq!(words.len(), file.records.len());
        assert!(text.ends_with('\n'));
        assert!(words.iter().all(|w| !w.is_empty() && !w.contains([',', '"', ' '])), "{words:?}");
        assert!(words.iter().collect::<HashSet<_>>().len() > 10);
    }

    #[test]
    fn extensions_have_store_ids() {
        let file = only("chrome.extensions", 100);
        assert_eq!(file.name, "Extensions.json");
        let doc = file.json();
        let list = doc["Extensions"].as_array().expect("Extensions");
        assert_eq!(list.len(), file.records.len());
        for e in list {
            let id = e["id"].as_str().expect("id");
            assert!(id.len() == 32 && id.bytes().all(|c| (b'a'..=b'p').contains(&c)), "{e}");
            assert!(e["name"].is_string() && e["version"].is_string(), "{e}");
            for k in ["enabled", "incognito_enabled", "remote_install"] {
                assert!(e[k].is_boolean(), "{k}: {e}");
            }
        }
    }

    #[test]
    fn settings_are_preferences_with_json_values() {
        let file = only("chrome.settings", 100);
        assert_eq!(file.name, "Settings.json");
        let doc = file.json();
        let prefs = doc["Preferences"].as_array().expect("Preferences");
        assert_eq!(prefs.len(), file.records.len());
        for p in prefs {
            assert!(p["name"].is_string(), "{p}");
            let value: Value = serde_json::from_str(p["value"].as_str().expect("value")).expect("JSON text");
            assert!(!value.is_null(), "{p}");
        }
    }

    #[test]
    fn history_keeps_its_file() {
        let file = only("chrome.history", 20);
        assert_eq!(file.name, "History.json");
        assert!(file.json()["Browser History"].is_array());
    }
}
