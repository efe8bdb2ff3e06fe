//! Google Search and its neighbours: Search Contributions (`search_ugc.*`), Search Notifications
//! (`searchnotifications.*`), Discover (`discover.*`), Saved (`saved.*`) and Google Alerts
//! (`alerts.*`), after Google's schema reference (page cited beside each shape).
//!
//! Where a page names an object but not its file, the file is named after the object: real
//! exports do so wherever they are known (`Search Contributions/Thumbs.json` for "Thumbs",
//! `Chrome/Addresses and more.json` for "Addresses and more").

use super::*;

/// Writes the group's files.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    match group.name.as_str() {
        // <https://developers.google.com/data-portability/schema-reference/alerts>
        // Object "Your Google Alerts subscriptions" (JSON) with `query`, `language`, `country`,
        // `apply_language_restrict`, `apply_region_restrict`, `source` [NEWS|WEB], `quality`
        // [LOW|HIGH], `delivery_method` (EMAIL|RSS) and, for e-mail only, `delivery_frequency`
        // (HOURLY|DAILY|WEEKLY), `delivery_time` and `email_address`. The file name, the top-level
        // array and `delivery_time`'s form are not documented (guesses).
        "alerts.subscriptions" => {
            let key = x.timeline.key;
            x.records("Your Google Alerts subscriptions.json", FileLayout::json_array(), all, |s, b| {
                alert(&mut s.rng, key, b)
            })
        }
        // <https://developers.google.com/data-portability/schema-reference/discover>
        // Object "Your Follows", CSV with the one column `followed_entity`.
        "discover.follows" => {
            x.records("Your Follows.csv", FileLayout::csv("followed_entity"), all, |s, b| follow(&mut s.rng, b))
        }
        // <https://developers.google.com/data-portability/schema-reference/discover>
        // Object "Your Likes" ("links to user liked documents"); the page gives no format or
        // columns, so a CSV like its siblings with the liked page's title and URL.
        "discover.likes" => x.records("Your Likes.csv", FileLayout::csv("title,url"), all, |s, b| like(&mut s.rng, b)),
        // <https://developers.google.com/data-portability/schema-reference/discover>
        // Object "Not Interested Setting", CSV `entity_name,setting_value`, the value one of
        // `not_interested`, `blocked`, `not_preferred`.
        "discover.not_interested" => {
            x.records("Not Interested Setting.csv", FileLayout::csv("entity_name,setting_value"), all, |s, b| {
                not_interested(&mut s.rng, b)
            })
        }
        // <https://developers.google.com/data-portability/schema-reference/search_notifications>
        // Object "Your Notification Configurations", CSV. Columns 1–11 as the English page spells
        // them; the last two are back-translated from the ja/zh pages (their English text could not
        // be read). Values are not enumerated on the page.
        "searchnotifications.settings" => {
            let key = x.timeline.key;
            x.records("Your Notification Configurations.csv", FileLayout::csv(CONFIGURATION_COLUMNS), all, |s, b| {
                notification_configuration(&mut s.rng, key, b)
            })
        }
        // <https://developers.google.com/data-portability/schema-reference/search_notifications>
        // Object "Your Notification Subscriptions", CSV with `Subscription Identifier` and a state
        // column (its English name back-translated).
        "searchnotifications.subscriptions" => x.records(
            "Your Notification Subscriptions.csv",
            FileLayout::csv("Subscription Identifier,Subscription State"),
            all,
            |s, b| notification_subscription(&mut s.rng, b),
        ),
        // <https://developers.google.com/data-portability/schema-reference/save>
        // Object "Collection of saved items", CSV `title,note,item_content_url` (the page's later
        // rows could not be read; `comment` follows from "comments of the saved item"). One file
        // per collection, `Saved/<collection>.csv` as in real Takeout exports; a collection's
        // description, when it has one, is the file's first line, then a blank line, then the
        // header.
        "saved.collections" => {
            for c in COLLECTIONS {
                let header = "title,note,item_content_url,comment\n";
                let prefix = match c.description {
                    Some(d) => format!("{d}\n\n{header}"),
                    None => header.to_owned(),
                };
                let layout = FileLayout { prefix, separator: String::new(), suffix: String::new(), compress: true };
                let file = format!("{}.csv", c.name);
                x.records(&file, layout, |s| c.holds(s.pick), |s, b| saved_item(c.kind, &mut s.rng, b))?;
            }
            Ok(())
        }
        // <https://developers.google.com/data-portability/schema-reference/search_ugc>
        // Object "Comments on Search"; its field table could not be read. The page's summary names
        // `Published`, `Updated` and `Search Query` for every object; the comment's key is a guess.
        // File as a real (Portuguese) export names it, `Comments.json`.
        "search_ugc.comments" => {
            x.records("Comments.json", FileLayout::json_array(), all, |s, b| comment(&mut s.rng, s.time, b))
        }
        // <https://developers.google.com/data-portability/schema-reference/search_ugc>
        // Object "Reviews" (JSON): `Published`, `Review Comment`, `Review Star Rating` ("Five
        // stars"), `Search Query`, `Updated`, all strings.
        "search_ugc.media.reviews_and_stars" => {
            x.records("Reviews.json", FileLayout::json_array(), all, |s, b| review(&mut s.rng, s.time, b))
        }
        // <https://developers.google.com/data-portability/schema-reference/search_ugc>
        // "Streaming video providers"; field table not readable. Takeout, as RLEAPP's
        // `takeoutSearchContributions` reads it: `Provider Name`, `Published`.
        "search_ugc.media.streaming_video_providers" => {
            x.records("Streaming video providers.json", FileLayout::json_array(), all, |s, b| {
                streaming_provider(&mut s.rng, s.time, b)
            })
        }
        // <https://developers.google.com/data-portability/schema-reference/search_ugc>
        // Object "Thumbs" (JSON): `Published`, `Search Query`, `Thumbs Rating` (`Thumbs Up`/`Thumbs
        // Down`), `Updated`.
        "search_ugc.media.thumbs" => {
            x.records("Thumbs.json", FileLayout::json_array(), all, |s, b| thumbs(&mut s.rng, s.time, b))
        }
        // <https://developers.google.com/data-portability/schema-reference/search_ugc>
        // "Watched"; field table not readable. Takeout, as RLEAPP's `takeoutSearchContributions`
        // reads it: `Published`, `Search Query`.
        "search_ugc.media.watched" => {
            x.records("Watched.json", FileLayout::json_array(), all, |s, b| watched(&mut s.rng, s.time, b))
        }
        _ => generic::export(group, x),
    }
}

/// Appends the concatenation of `parts` as one CSV field, quoted when needed (RFC 4180).
fn csv_text(b: &mut Vec<u8>, parts: &[&str]) {
    let special = |p: &&str| p.bytes().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r'));
    if !parts.iter().any(special) {
        for p in parts {
            b.extend_from_slice(p.as_bytes());
        }
        return;
    }
    b.push(b'"');
    for p in parts {
        for c in p.bytes() {
            if c == b'"' {
                b.push(b'"');
            }
            b.push(c);
        }
    }
    b.push(b'"');
}

/// A per-user constant drawn from the timeline key (`salt` tells the constants apart).
fn per_user(key: u64, salt: u64) -> Rng {
    Rng::new(mix(key ^ salt))
}

// ---------------------------------------------------------------------------------------------
// Google Alerts

const LANGUAGES: &[&str] = &["en", "en", "en", "de", "fr", "es", "it", "pt", "nl"];
const TIME_ZONES: &[&str] =
    &["Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
const WEEKDAYS: &[&str] = &["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

fn alert(r: &mut Rng, key: u64, b: &mut Vec<u8>) {
    let q = search_query(r);
    let mut o = Obj::new(b);
    o.text("query", &q);
    o.str("language", r.pick(LANGUAGES));
    o.str("country", r.pick(CITIES).code);
    o.boolean("apply_language_restrict", r.chance(30));
    o.boolean("apply_region_restrict", r.chance(20));
    let sources: &[&str] = r.pick(&[&["NEWS", "WEB"][..], &["NEWS"], &["WEB"]]);
    o.strs("source", sources);
    o.strs("quality", &[r.pick(&["HIGH", "HIGH", "LOW"])]);
    if r.chance(80) {
        o.str("delivery_method", "EMAIL");
        let frequency = r.pick(&["HOURLY", "DAILY", "DAILY", "WEEKLY"]);
        o.str("delivery_frequency", frequency);
        if frequency != "HOURLY" {
            // The page: "time of day and day of week in a specific time zone".
            let hour = r.range(6, 20) as u64;
            let mut d = Obj::new(o.key("delivery_time"));
            let b = d.key("time_of_day");
            b.extend_from_slice(&[b'"', b'0' + (hour / 10) as u8, b'0' + (hour % 10) as u8]);
            b.extend_from_slice(b":00\"");
            if frequency == "WEEKLY" {
                d.str("day_of_week", r.pick(WEEKDAYS));
            }
            d.str("time_zone", per_user(key, 0x545A).pick(TIME_ZONES));
            d.end();
        }
        let mut u = per_user(key, 0x4D41_494C);
        let b = o.key("email_address");
        b.push(b'"');
        email_part(b, u.pick(FIRST_NAMES));
        b.push(b'.');
        email_part(b, u.pick(LAST_NAMES));
        b.extend_from_slice(b"@example.com\"");
    } else {
        o.str("delivery_method", "RSS");
    }
    o.end();
}

// ---------------------------------------------------------------------------------------------
// Discover

const PUBLISHERS: &[&str] = &[
    "The Guardian",
    "BBC News",
    "BBC Good Food",
    "Lonely Planet",
    "TechRadar",
    "Stack Overflow Blog",
    "The Verge",
    "National Geographic",
    "Le Monde",
    "Der Spiegel",
];
const DISLIKED_TOPICS: &[&str] =
    &["Celebrity gossip", "Reality TV", "Cryptocurrency", "Horoscopes", "Royal family", "Lottery results"];
const DISLIKED_LANGUAGES: &[&str] = &["German", "Spanish", "French", "Italian", "Portuguese"];

/// A followed site or search.
fn follow(r: &mut Rng, b: &mut Vec<u8>) {
    match r.below(3) {
        0 => csv_field(b, r.pick(PUBLISHERS)),
        1 => csv_field(b, r.pick(WIKI)),
        _ => csv_text(b, &search_query(r)),
    }
}

fn like(r: &mut Rng, b: &mut Vec<u8>) {
    let pg = page(r);
    csv_text(b, &pg.title);
    b.push(b',');
    page_href(b, &pg);
}

fn not_interested(r: &mut Rng, b: &mut Vec<u8>) {
    let (entity, value) = match r.below(4) {
        0 => (r.pick(DISLIKED_TOPICS), "not_interested"),
        1 => (r.pick(PUBLISHERS), "blocked"),
        2 => (r.pick(PUBLISHERS), "not_interested"),
        _ => (r.pick(DISLIKED_LANGUAGES), "not_preferred"),
    };
    csv_field(b, entity);
    b.push(b',');
    b.extend_from_slice(value.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Search Notifications

const CONFIGURATION_COLUMNS: &str = "Scope Identifier,Opt In State,Channel Importance,Badge,Sound,Alerts,\
Critical Alerts,Time Sensitive,Notification Center,Displayed on Lock Screen,Accepts Scheduled Delivery,\
Live Activities,Location Usage Allowed";
const CHANNELS_OF_NOTIFICATIONS: &[&str] = &[
    "Weather",
    "Sports scores",
    "Breaking news",
    "Flight updates",
    "Package tracking",
    "Stocks",
    "Trending searches",
    "Recommendations",
];
const SETTING_STATES: &[&str] = &["ENABLED", "ENABLED", "DISABLED", "NOT_SUPPORTED"];

/// One row per scope: the account, one of the user's devices, or a channel of notifications.
fn notification_configuration(r: &mut Rng, key: u64, b: &mut Vec<u8>) {
    let channel = match r.below(10) {
        0 => {
            b.extend_from_slice(b"ACCOUNT");
            None
        }
        1..4 => {
            b.extend_from_slice(b"DEVICE:");
            hex(b, mix(key ^ r.below(2)), 16);
            None
        }
        _ => {
            let c = r.pick(CHANNELS_OF_NOTIFICATIONS);
            b.extend_from_slice(b"CHANNEL:");
            csv_field(b, c);
            Some(c)
        }
    };
    b.push(b',');
    b.extend_from_slice(r.pick(&["OPTED_IN", "OPTED_IN", "OPTED_IN", "OPTED_OUT"]).as_bytes());
    b.push(b',');
    if channel.is_some() {
        b.extend_from_slice(r.pick(&["HIGH", "DEFAULT", "DEFAULT", "LOW"]).as_bytes());
    }
    for _ in 0..9 {
        b.push(b',');
        b.extend_from_slice(r.pick(SETTING_STATES).as_bytes());
    }
    b.push(b',');
    b.extend_from_slice(if r.chance(60) { b"true" } else { b"false" });
}

fn notification_subscription(r: &mut Rng, b: &mut Vec<u8>) {
    match r.below(4) {
        0 => csv_text(b, &["Weather in ", r.pick(CITIES).name, "", ""]),
        1 => csv_text(b, &[r.pick(WIKI), "", "", ""]),
        2 => csv_text(
            b,
            &["Flight ", r.pick(&["BA", "LH", "AF", "UA", "NH"]), r.pick(&["117", "402", "1023", "88"]), ""],
        ),
        _ => csv_text(b, &search_query(r)),
    }
    b.push(b',');
    b.extend_from_slice(r.pick(&["SUBSCRIBED", "SUBSCRIBED", "SUBSCRIBED", "MUTED"]).as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Saved

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemKind {
    Place,
    Recipe,
    Product,
}

/// One saved collection: its file, the share of slots it holds, its description if any.
struct Collection {
    name: &'static str,
    picks: std::ops::Range<u64>,
    description: Option<&'static str>,
    kind: ItemKind,
}

impl Collection {
    fn holds(&self, pick: u64) -> bool {
        self.picks.contains(&pick)
    }
}

const COLLECTIONS: &[Collection] = &[
    Collection { name: "Favourite places", picks: 0..35, description: None, kind: ItemKind::Place },
    Collection { name: "Want to go", picks: 35..60, description: None, kind: ItemKind::Place },
    Collection {
        name: "Recipes",
        picks: 60..80,
        description: Some("Weeknight dinners that take under 30 minutes"),
        kind: ItemKind::Recipe,
    },
    Collection { name: "Gift ideas", picks: 80..100, description: None, kind: ItemKind::Product },
];

const PLACE_NOTES: &[&str] = &[
    "Worth a visit even on a rainy day.",
    "Ask for the table by the window",
    "Check opening hours first.\nClosed on Mondays.",
    "Recommended by Sam, \"best in town\"",
];
const RECIPE_NOTES: &[&str] = &["So good!", "Try with extra chilli, less salt.", "Double the sauce"];
const PRODUCT_NOTES: &[&str] = &["Birthday idea, maybe.", "Wait for the sale", "Mum's wish list"];

/// `title,note,item_content_url,comment`.
fn saved_item(kind: ItemKind, r: &mut Rng, b: &mut Vec<u8>) {
    match kind {
        ItemKind::Place => {
            let pl = place(r);
            csv_text(b, &pl.name);
            b.push(b',');
            note(r, PLACE_NOTES, b);
            // The page's example: `…/maps/place/Wrigley+Field/data=!4m2!3m1!1s0x…:0x…`.
            b.extend_from_slice(b"https://www.google.com/maps/place/");
            form(b, &pl.name);
            b.extend_from_slice(b"/data=!4m2!3m1!1s0x");
            hex(b, r.next(), 16);
            b.extend_from_slice(b":0x");
            hex(b, r.next(), 16);
        }
        ItemKind::Recipe => {
            let f = r.pick(FOODS);
            let pg = Page {
                title: ["Easy ", f, " recipe | BBC Good Food", ""],
                host: "www.bbcgoodfood.com",
                path: "/recipes/",
                number: 0,
                slug: one(f),
                sep: b'-',
                lower: true,
            };
            csv_text(b, &pg.title);
            b.push(b',');
            note(r, RECIPE_NOTES, b);
            page_href(b, &pg);
        }
        ItemKind::Product => {
            csv_text(b, &[r.pick(BRANDS).0, " ", r.pick(THINGS), ""]);
            b.push(b',');
            note(r, PRODUCT_NOTES, b);
            // The page's example: `…/shopping/product/4480287238148825680?prds=epd:3690324106834661571`.
            b.extend_from_slice(b"https://www.google.com/shopping/product/");
            uint(b, 1_000_000_000_000_000 + r.below(8_000_000_000_000_000));
            b.extend_from_slice(b"?prds=epd:");
            uint(b, 1_000_000_000_000_000 + r.below(8_000_000_000_000_000));
        }
    }
    b.push(b',');
    if r.chance(15) {
        csv_field(b, r.pick(REVIEW_SENTENCES));
    }
}

/// The `note` field and its comma: a share of the items carry a note.
fn note(r: &mut Rng, notes: &[&str], b: &mut Vec<u8>) {
    if r.chance(35) {
        csv_field(b, r.pick(notes));
    }
    b.push(b',');
}

// ---------------------------------------------------------------------------------------------
// Search Contributions

const SHOWS: &[&str] = &[
    "Game of Thrones",
    "The Lighthouse Keepers",
    "Kitchen Wars",
    "Orbit Station",
    "The Allotment",
    "Fjord",
    "Night Shift Diaries",
    "Second Chances",
];
const STAR_RATINGS: &[&str] = &["One star", "Two stars", "Three stars", "Four stars", "Five stars"];
const STREAMING: &[&str] = &["Crunchyroll", "Paramount+", "Peacock", "Hulu", "BBC iPlayer", "Plex"];

/// A movie, TV show or video game, as searched for.
fn media_title(r: &mut Rng) -> &'static str {
    match r.below(5) {
        0 | 1 => r.pick(MOVIES),
        2 | 3 => r.pick(SHOWS),
        _ => r.pick(GAMES),
    }
}

/// When a contribution edited later was first published: `Updated` is the slot's time and
/// `Published` lies before it, so no time lies after its slot.
fn published(r: &mut Rng, t: i64, edited: bool) -> i64 {
    if edited { t - r.range(60, 400 * 86_400) * 1_000_000 - r.range(0, 999) * 1000 } else { t }
}

fn comment(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let edited = r.chance(20);
    let mut o = Obj::new(b);
    o.str("Comment", r.pick(REVIEW_SENTENCES));
    o.time("Published", published(r, t, edited));
    o.str("Search Query", media_title(r));
    if edited {
        o.time("Updated", t);
    }
    o.end();
}

const REVIEW_COMMENTS: &[&str] = &[
    "Amazing movie! Must watch.",
    "Interesting plot",
    "Too long, but the ending makes up for it.",
    "Loved the soundtrack.",
    "Great fun with friends.",
    "The first season is the best.",
];

fn review(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let edited = r.chance(35);
    let mut o = Obj::new(b);
    o.time("Published", published(r, t, edited));
    if r.chance(75) {
        o.str("Review Comment", r.pick(REVIEW_COMMENTS));
    }
    o.str("Review Star Rating", r.pick(STAR_RATINGS));
    o.str("Search Query", media_title(r));
    if edited {
        o.time("Updated", t);
    }
    o.end();
}

fn streaming_provider(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    let n = PROVIDERS.len() + STREAMING.len();
    let i = r.below(n as u64) as usize;
    o.str("Provider Name", PROVIDERS.get(i).copied().unwrap_or_else(|| STREAMING[i - PROVIDERS.len()]));
    o.time("Published", t);
    o.end();
}

/// `Updated` is always there: it is the rating's last change, `Published` its first.
fn thumbs(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let edited = r.chance(30);
    let mut o = Obj::new(b);
    o.time("Published", published(r, t, edited));
    o.str("Search Query", media_title(r));
    o.str("Thumbs Rating", r.pick(&["Thumbs Up", "Thumbs Up", "Thumbs Down"]));
    o.time("Updated", t);
    o.end();
}

fn watched(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.time("Published", t);
    o.str("Search Query", media_title(r));
    o.end();
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use dataport_types::Timestamp;
    use serde_json::Value;

    use super::super::test_sink::*;
    use super::*;

    fn only(name: &str, records: u64) -> File {
        let mut files = run_all(&emulator(records, 0), name, "alice", None, EXPORT);
        assert_eq!(files.len(), 1, "{name}: one file");
        files.remove(0)
    }

    fn micros(v: &Value) -> i64 {
        let s = v.as_str().unwrap_or_else(|| panic!("{v} is a string"));
        assert!(s.len() == 24 && s.ends_with('Z'), "{s}");
        Timestamp::parse(s).unwrap_or_else(|_| panic!("{s} parses")).micros()
    }

    /// The rows of a CSV file below its exact header.
    fn csv_rows(file: &File, header: &[&str]) -> Vec<Vec<String>> {
        assert!(file.records.iter().all(|r| r.ends_with(b"\n")));
        let rows = parse_csv(&String::from_utf8(file.document()).expect("UTF-8"));
        assert_eq!(rows[0], header, "{}", file.name);
        assert_eq!(rows.len(), file.records.len() + 1, "{}: one row per record", file.name);
        assert!(rows.iter().all(|r| r.len() == header.len()), "{}", file.name);
        rows[1..].to_vec()
    }

    #[test]
    fn alerts_have_the_documented_fields() {
        let file = only("alerts.subscriptions", 300);
        assert_eq!(file.name, "Your Google Alerts subscriptions.json");
        let doc = file.json();
        let mut emails = HashSet::new();
        let mut methods = HashSet::new();
        for a in doc.as_array().expect("array") {
            assert!(!a["query"].as_str().expect("query").is_empty());
            assert_eq!(a["language"].as_str().expect("language").len(), 2);
            assert_eq!(a["country"].as_str().expect("country").len(), 2);
            assert!(a["apply_language_restrict"].is_boolean() && a["apply_region_restrict"].is_boolean());
            let sources = a["source"].as_array().expect("source");
            assert!(!sources.is_empty() && sources.iter().all(|s| s == "NEWS" || s == "WEB"), "{a}");
            let quality = a["quality"].as_array().expect("quality");
            assert!(quality.iter().all(|q| q == "LOW" || q == "HIGH"), "{a}");
            let method = a["delivery_method"].as_str().expect("delivery_method");
            methods.insert(method);
            if method == "EMAIL" {
                let f = a["delivery_frequency"].as_str().expect("delivery_frequency");
                assert!(["HOURLY", "DAILY", "WEEKLY"].contains(&f), "{a}");
                assert_eq!(a.get("delivery_time").is_some(), f != "HOURLY", "{a}");
                if f != "HOURLY" {
                    let t = &a["delivery_time"];
                    assert!(t["time_of_day"].is_string() && t["time_zone"].is_string(), "{a}");
                    assert_eq!(t.get("day_of_week").is_some(), f == "WEEKLY", "{a}");
                }
                emails.insert(a["email_address"].as_str().expect("email_address").to_owned());
            } else {
                assert_eq!(method, "RSS");
                for k in ["delivery_frequency", "delivery_time", "email_address"] {
                    assert!(a.get(k).is_none(), "{k} only for e-mail: {a}");
                }
            }
        }
        assert_eq!(methods.len(), 2);
        assert_eq!(emails.len(), 1, "one address per user: {emails:?}");
    }

    #[test]
    fn discover_files_are_csv_with_the_documented_columns() {
        let rows = csv_rows(&only("discover.follows", 200), &["followed_entity"]);
        assert!(rows.iter().all(|r| !r[0].is_empty()));
        let rows = csv_rows(&only("discover.not_interested", 200), &["entity_name", "setting_value"]);
        let values: HashSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(values, HashSet::from(["not_interested", "blocked", "not_preferred"]));
        let file = only("discover.likes", 200);
        let rows = csv_rows(&file, &["title", "url"]);
        assert!(rows.iter().all(|r| r[1].starts_with("https://")), "{rows:?}");
        assert_eq!(
            ["Your Follows.csv", "Not Interested Setting.csv", "Your Likes.csv"].map(|n| n.to_owned()),
            [only("discover.follows", 1).name, only("discover.not_interested", 1).name, file.name]
        );
    }

    #[test]
    fn search_notifications_are_csv_with_the_documented_columns() {
        let file = only("searchnotifications.settings", 300);
        assert_eq!(file.name, "Your Notification Configurations.csv");
        let header = [
            "Scope Identifier",
            "Opt In State",
            "Channel Importance",
            "Badge",
            "Sound",
            "Alerts",
            "Critical Alerts",
            "Time Sensitive",
            "Notification Center",
            "Displayed on Lock Screen",
            "Accepts Scheduled Delivery",
            "Live Activities",
            "Location Usage Allowed",
        ];
        let rows = csv_rows(&file, &header);
        let mut devices = HashSet::new();
        for r in &rows {
            let scope = &r[0];
            assert!(scope == "ACCOUNT" || scope.starts_with("DEVICE:") || scope.starts_with("CHANNEL:"), "{r:?}");
            assert_eq!(r[2].is_empty(), !scope.starts_with("CHANNEL:"), "{r:?}");
            if scope.starts_with("DEVICE:") {
                devices.insert(scope.clone());
            }
        }
        assert!((1..=2).contains(&devices.len()), "{devices:?}");
        let file = only("searchnotifications.subscriptions", 100);
        assert_eq!(file.name, "Your Notification Subscriptions.csv");
        let rows = csv_rows(&file, &["Subscription Identifier", "Subscription State"]);
        assert!(rows.iter().all(|r| !r[0].is_empty()));
    }

    #[test]
    fn saved_collections_are_one_csv_per_collection() {
        let header = ["title", "note", "item_content_url", "comment"];
        let files = run_all(&emulator(400, 0), "saved.collections", "alice", None, EXPORT);
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Favourite places.csv", "Want to go.csv", "Recipes.csv", "Gift ideas.csv"]);
        let mut total = 0;
        let (mut notes, mut comments) = (0, 0);
        for f in &files {
            let text = String::from_utf8(f.document()).expect("UTF-8");
            let body = if f.name == "Recipes.csv" {
                let (description, rest) = text.split_once("\n\n").expect("a description, then a blank line");
                assert_eq!(description, "Weeknight dinners that take under 30 minutes");
                rest.to_owned()
            } else {
                text
            };
            let rows = parse_csv(&body);
            assert_eq!(rows[0], header, "{}", f.name);
            assert_eq!(rows.len(), f.records.len() + 1);
            assert!(f.records.len() > 40, "{}: {}", f.name, f.records.len());
            total += f.records.len();
            for r in &rows[1..] {
                assert_eq!(r.len(), 4, "{r:?}");
                assert!(!r[0].is_empty() && r[2].starts_with("https://www.google.com/") || f.name == "Recipes.csv");
                assert!(r[2].starts_with("https://"), "{r:?}");
                notes += usize::from(!r[1].is_empty());
                comments += usize::from(!r[3].is_empty());
            }
        }
        assert!((399..=401).contains(&total));
        assert!(notes > 0 && comments > 0);
        // Every collection's file is there even when nothing falls in the window.
        let empty = run_all(&emulator(400, 0), "saved.collections", "alice", Some(EXPORT), EXPORT);
        assert_eq!(empty.len(), 4);
        assert!(empty.iter().all(|f| f.records.is_empty()));
    }

    #[test]
    fn search_contributions_have_the_documented_keys() {
        let expect: [(&str, &str, &[&str], &[&str]); 5] = [
            ("search_ugc.comments", "Comments.json", &["Comment", "Published", "Search Query"], &["Updated"]),
            (
                "search_ugc.media.reviews_and_stars",
                "Reviews.json",
                &["Published", "Review Star Rating", "Search Query"],
                &["Review Comment", "Updated"],
            ),
            (
                "search_ugc.media.streaming_video_providers",
                "Streaming video providers.json",
                &["Provider Name", "Published"],
                &[],
            ),
            ("search_ugc.media.thumbs", "Thumbs.json", &["Published", "Search Query", "Thumbs Rating", "Updated"], &[]),
            ("search_ugc.media.watched", "Watched.json", &["Published", "Search Query"], &[]),
        ];
        for (name, path, required, optional) in expect {
            let file = only(name, 300);
            assert_eq!(file.name, path);
            let doc = file.json();
            let records = doc.as_array().expect("array");
            assert_eq!(records.len(), file.records.len());
            let mut seen = HashSet::new();
            let mut last = i64::MAX;
            for r in records {
                let obj = r.as_object().expect("object");
                assert!(required.iter().all(|k| obj[*k].is_string()), "{name}: {r}");
                assert!(obj.keys().all(|k| required.contains(&k.as_str()) || optional.contains(&k.as_str())), "{r}");
                seen.extend(obj.keys().cloned());
                let published = micros(&r["Published"]);
                let latest = r.get("Updated").map_or(published, micros);
                assert!(published <= latest && latest < EXPORT, "{r}");
                assert!(latest <= last, "{name}: newest first");
                last = latest;
            }
            assert!(optional.iter().all(|k| seen.contains(*k)), "{name}: {seen:?}");
        }
        let reviews = only("search_ugc.media.reviews_and_stars", 300).json();
        let stars: HashSet<&str> =
            reviews.as_array().expect("array").iter().map(|r| r["Review Star Rating"].as_str().expect("str")).collect();
        assert_eq!(stars.len(), 5, "{stars:?}");
        let thumbs = only("search_ugc.media.thumbs", 300).json();
        assert!(
            thumbs
                .as_array()
                .expect("array")
                .iter()
                .all(|r| r["Thumbs Rating"] == "Thumbs Up" || r["Thumbs Rating"] == "Thumbs Down")
        );
    }

    #[test]
    fn csv_text_quotes_only_when_needed() {
        let mut b = Vec::new();
        csv_text(&mut b, &["a", "b"]);
        b.push(b'|');
        csv_text(&mut b, &["Cooking, ", "\"Baking\""]);
        assert_eq!(String::from_utf8(b).expect("UTF-8"), "ab|\"Cooking, \"\"Baking\"\"\"");
    }
}
