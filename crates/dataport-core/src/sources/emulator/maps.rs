//! Maps (`maps.*`), My Maps (`mymaps.maps`) and Street View (`streetview.imagery`), after Google's
//! schema reference <https://developers.google.com/data-portability/schema-reference/maps>,
//! `…/local_actions` (Maps (your places)), `…/mymaps` and `…/streetview`.
//!
//! Only the first objects of the `maps` page could be read. Where its field table was not read, a
//! group has the shape of Takeout's file as open-source importers read real exports (cited beside
//! the group); where nothing is known, a plausible JSON array in Takeout's folder, marked as a
//! guess. Paths are relative to the group's folder (`Maps`, `Maps (your places)`, `My Maps`,
//! `Street View`).

use std::fmt::Write as _;
use std::io::Write as _;

use super::*;

/// Writes the group's files.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    match group.name.as_str() {
        // Page `maps`, "Aliased Places" (fields read: features[].geometry.{coordinates,type},
        // properties.{name,address}). Folder and file: Takeout, as azeezada/google-maps-saved and
        // schackartk/google_mapper read it: a GeoJSON FeatureCollection, keys sorted.
        "maps.aliased_places" => x.records(
            "My labeled places/Labeled places.json",
            FileLayout::wrapped("{\"features\":[", "],\"type\":\"FeatureCollection\"}"),
            all,
            |s, b| labeled_place(&mut s.rng, b),
        ),
        // Page `maps` (field table not readable). Takeout, as azeezada/google-maps-saved's real
        // `commute-routes.json` and other parsers read it: `{"trips": [...]}`, proto-style keys.
        "maps.commute_routes" => {
            x.records("Commute routes/Commute routes.json", FileLayout::wrapped("{\"trips\":[", "]}"), all, |s, b| {
                commute_trip(&mut s.rng, b)
            })
        }
        // Page `maps` (field table not readable); no real file seen. GUESS throughout: folder and
        // file after Takeout's naming, a JSON array of commute mode preferences.
        "maps.commute_settings" => {
            x.records("Commute settings/Commute settings.json", FileLayout::json_array(), all, |s, b| {
                commute_setting(&mut s.rng, b)
            })
        }
        // Page `maps` (field table not readable). Folder and file: Takeout (a real export's file
        // listing; frankweiler's Takeout notes). Fields GUESS: make, model and connector types.
        "maps.ev_profile" => x.records(
            "Electric vehicle settings/Electric vehicle settings.json",
            FileLayout::json_array(),
            all,
            |s, b| ev_profile(&mut s.rng, b),
        ),
        // Page `maps`, "Answers to automated questions" (format JSON; the field table was cut
        // off). Takeout, as `14_parse_automated_answers.py` and AravindKurapati/querencia read
        // it: one `<epoch ms>.json` per answer, `{placeUrl, question, selectedChoice}`.
        "maps.factual_contributions" => x.files(
            FileLayout::wrapped("", ""),
            all,
            |s, name| {
                let _ = write!(name, "Answers to automated questions/{}.json", s.time.div_euclid(1000));
            },
            |s, _, b| automated_answer(&mut s.rng, b),
        ),
        // Page `maps`, "Added dishes, products, activities." (fields `photo_url`, `text`,
        // `created`, as the current page names them). Folder, file and the `contributions`
        // wrapper: Takeout, as two importers read it.
        "maps.offering_contributions" => x.records(
            "Added dishes, products, activities/Added dishes, products, activities.json",
            FileLayout::wrapped("{\"contributions\":[", "]}"),
            all,
            |s, b| offering(&mut s.rng, s.time, b),
        ),
        // Page `maps` (JPG/PNG/MP4, field table not readable). Takeout, as
        // AravindKurapati/querencia's fixture and gen-maps-places.mjs read it: each photo or video
        // in `Photos and videos/` with a `<file name>.json` sidecar beside it.
        "maps.photos_videos" => x.bundle(photos_videos),
        // Page `maps` (field table not readable). Folder, file and the `answers` wrapper: Takeout
        // (a real export's file listing; gen-maps-places.mjs). The answers' keys are a GUESS,
        // after the place fields of `local_actions`.
        "maps.questions_answers" => x.records(
            "Questions and Answers/Questions and Answers.json",
            FileLayout::wrapped("{\"answers\":[", "]}"),
            all,
            |s, b| question_answer(&mut s.rng, s.time, b),
        ),
        // Page `local_actions`, "Reviews" (GeoJSON; fields read up to `location.name`, the rest
        // as azeezada/google-maps-saved's real `reviews.json` has them). Takeout's file is
        // `Maps (your places)/Reviews.json`.
        "maps.reviews" => x.records(
            "Reviews.json",
            FileLayout::wrapped("{\"type\":\"FeatureCollection\",\"features\":[", "]}"),
            all,
            |s, b| review(&mut s.rng, s.time, b),
        ),
        // Page `local_actions`, "Starred places" (GeoJSON; all nine fields read). File: Takeout's
        // `Maps (your places)/Saved Places.json`, whose `Comment` replaces `location` when Google
        // has no place data (azeezada/google-maps-saved's real `saved-places.json`).
        "maps.starred_places" => x.records(
            "Saved Places.json",
            FileLayout::wrapped("{\"type\":\"FeatureCollection\",\"features\":[", "]}"),
            all,
            |s, b| starred_place(&mut s.rng, s.time, b),
        ),
        // Page `maps` (field table not readable). Folder: Takeout (frankweiler's notes list an
        // empty `Vehicle profiles/`). File name and fields GUESS: make, model, engine type.
        "maps.vehicle_profile" => {
            x.records("Vehicle profiles/Vehicle profiles.json", FileLayout::json_array(), all, |s, b| {
                vehicle_profile(&mut s.rng, b)
            })
        }
        // Page `mymaps`, "Map": a KMZ holding `doc.kml` (and `images/` for custom icons, which
        // these maps do not use). Path: Takeout, as a KMZ parser's fixture has it:
        // `<Map name>/<Map name>.kmz`.
        "mymaps.maps" => my_maps(x),
        // Page `streetview`: "Uploaded 360 Image" (Image), "Video" (Video), "Sensor data" (JSON:
        // `gps_track` of `latitude`, `longitude`, `altitude`?, `capture_time`). No real export
        // seen: the file names and the sensor data as a sidecar of each upload are a GUESS.
        "streetview.imagery" => x.bundle(street_view),
        _ => generic::export(group, x),
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers, times and text in the forms these files use.

/// `v / 10^7` as a double prints it: trailing zeros dropped, one decimal kept (`-83.0895453`).
fn float7(b: &mut Vec<u8>, v: i64) {
    fixed7(b, v);
    while b.last() == Some(&b'0') && b[b.len() - 2] != b'.' {
        b.pop();
    }
}

/// `"geometry":{"coordinates":[lng,lat],"type":"Point"}`, with seven decimals (Google's
/// `Saved Places.json` and `Reviews.json`) or as doubles (`Labeled places.json`).
fn geometry(o: &mut Obj<'_>, lng: i64, lat: i64, seven: bool) {
    let b = o.key("geometry");
    b.extend_from_slice(b"{\"coordinates\":[");
    let number = if seven { fixed7 } else { float7 };
    number(b, lng);
    b.push(b',');
    number(b, lat);
    b.extend_from_slice(b"],\"type\":\"Point\"}");
}

/// `"location":{"address","country_code"?,"name"}`, keys sorted as Google writes them.
fn location(o: &mut Obj<'_>, pl: &Place, country: bool) {
    let mut l = Obj::new(o.key("location"));
    address(&mut l, "address", pl);
    if country {
        l.str("country_code", pl.city.code);
    }
    l.text("name", &pl.name);
    l.end();
}

fn hex_upper(b: &mut Vec<u8>, v: u64, digits: u32) {
    let from = b.len();
    hex(b, v, digits);
    b[from..].make_ascii_uppercase();
}

/// An address as a Maps `?q=`: spaces as `+`, commas kept, other punctuation percent-encoded.
fn maps_query(b: &mut Vec<u8>, pl: &Place) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    uint(b, pl.number);
    for part in [" ", pl.street, ", ", pl.city.name, ", ", pl.city.country] {
        for &c in part.as_bytes() {
            match c {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b',' | b'-' | b'.' => b.push(c),
                b' ' => b.push(b'+'),
                _ => b.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]),
            }
        }
    }
}

/// A UTC date and time of day.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

fn civil(micros: i64) -> Civil {
    let secs = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    Civil { year, month, day, hour: sod / 3600, minute: sod / 60 % 60, second: sod % 60 }
}

/// Java's `ISO_INSTANT` with microseconds, as `Reviews.json` writes `date`
/// (`2024-05-10T00:47:05.983704Z`).
fn iso_micros(b: &mut Vec<u8>, micros: i64) {
    rfc3339_ms(b, micros);
    b.pop();
    let us = micros.rem_euclid(1000);
    b.extend_from_slice(&[b'0' + (us / 100) as u8, b'0' + (us / 10 % 10) as u8, b'0' + (us % 10) as u8, b'Z']);
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `{"timestamp":"<epoch seconds>","formatted":"Jan 11, 2026, 5:05:01 PM UTC"}`, as photo
/// sidecars write times.
fn sidecar_time(o: &mut Obj<'_>, k: &str, micros: i64) {
    let c = civil(micros);
    let mut t = Obj::new(o.key(k));
    let b = t.key("timestamp");
    b.push(b'"');
    int(b, micros.div_euclid(1_000_000));
    b.push(b'"');
    let b = t.key("formatted");
    let hour12 = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
    let _ = write!(
        b,
        "\"{} {}, {}, {}:{:02}:{:02} {} UTC\"",
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year,
        hour12,
        c.minute,
        c.second,
        if c.hour < 12 { "AM" } else { "PM" }
    );
    t.end();
}

/// Escapes text for XML character data and attribute values.
fn xml(b: &mut Vec<u8>, text: &[&str]) {
    for part in text {
        for c in part.bytes() {
            match c {
                b'&' => b.extend_from_slice(b"&amp;"),
                b'<' => b.extend_from_slice(b"&lt;"),
                b'>' => b.extend_from_slice(b"&gt;"),
                b'"' => b.extend_from_slice(b"&quot;"),
                _ => b.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// maps.aliased_places, maps.starred_places, maps.reviews: GeoJSON features.

/// Labels people give places; free text otherwise (a person's name).
const LABELS: &[&str] = &["Home", "Work", "Home", "Work", "Gym", "Mum's", "School", "Parents", "Office"];
const PEOPLE: &[&str] = &["sara", "Alex", "Grandma", "Jonas", "Priya's flat", "Aiko", "Dentist", "Climbing"];

fn labeled_place(r: &mut Rng, b: &mut Vec<u8>) {
    let pl = place(r);
    let name = if r.chance(60) { r.pick(LABELS) } else { r.pick(PEOPLE) };
    let mut o = Obj::new(b);
    geometry(&mut o, pl.lng, pl.lat, false);
    let mut p = Obj::new(o.key("properties"));
    // "If possible, provides an address": some labels have none.
    if r.chance(85) {
        address(&mut p, "address", &pl);
    }
    p.str("name", name);
    p.end();
    o.str("type", "Feature");
    o.end();
}

/// How often Google has no place data for a starred place (percent).
const NO_LOCATION: u64 = 8;

fn starred_place(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let pl = place(r);
    let known = !r.chance(NO_LOCATION);
    let mut o = Obj::new(b);
    if known {
        geometry(&mut o, pl.lng, pl.lat, true);
    } else {
        o.key("geometry").extend_from_slice(b"{\"coordinates\":[0,0],\"type\":\"Point\"}");
    }
    let mut p = Obj::new(o.key("properties"));
    // `ISO_INSTANT`: seconds, with the fraction only when there is one.
    p.time_ms_if_any("date", t);
    let u = p.key("google_maps_url");
    if known {
        u.extend_from_slice(b"\"http://maps.google.com/?cid=");
        uint(u, r.next() >> 1);
    } else {
        u.extend_from_slice(b"\"http://maps.google.com/?q=");
        maps_query(u, &pl);
        u.extend_from_slice(b"&ftid=0x");
        hex(u, r.next(), 16);
        u.extend_from_slice(b":0x");
        hex(u, r.next(), 16);
    }
    u.push(b'"');
    if known {
        location(&mut p, &pl, true);
    } else {
        p.str("Comment", "No location information is available for this saved place");
    }
    p.end();
    o.str("type", "Feature");
    o.end();
}

/// A review's aspect question: rated 1–5, or one or several options chosen.
#[derive(Clone, Copy)]
enum Aspect {
    Rating(&'static str),
    One(&'static str, &'static [&'static str]),
    Many(&'static str, &'static [&'static str]),
}

const ASPECTS: &[Aspect] = &[
    Aspect::Rating("Food"),
    Aspect::Rating("Service"),
    Aspect::Rating("Atmosphere"),
    Aspect::One("Meal type", &["Lunch", "Dinner", "Brunch", "Breakfast"]),
    Aspect::One("Price per person", &["€1–10", "€10–20", "€20–30", "€30–50"]),
    Aspect::One("Trip type", &["Vacation", "Business"]),
    Aspect::Rating("Rooms"),
    Aspect::Many("Hotel highlights", &["Luxury", "Great value", "Romantic", "Quiet"]),
    Aspect::Many("Recommended dishes", &["Ramen", "Focaccia", "Tiramisu", "Falafel", "Pad thai"]),
];

const PLACE_REVIEWS: &[&str] = &[
    "Incredible service!",
    "Lovely atmosphere and great food.",
    "Service was slow on a busy night.",
    "Clean, quiet and central.",
    "Second visit and still impressed!",
    "A bit crowded at weekends.",
    "Best coffee in the area!",
    "Staff were \"very\" helpful.",
    "Opening hours changed recently.\nCheck before you go.",
    "Perfect for a rainy afternoon 🌧️",
];

fn review(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let pl = place(r);
    let draft = r.chance(10);
    let mut o = Obj::new(b);
    geometry(&mut o, pl.lng, pl.lat, true);
    let mut p = Obj::new(o.key("properties"));
    let d = p.key("date");
    d.push(b'"');
    iso_micros(d, t);
    d.push(b'"');
    let stars = r.pick(&[5, 5, 5, 4, 4, 3, 2, 1]);
    p.int(if draft { "five_star_rating_draft" } else { "five_star_rating_published" }, stars);
    let u = p.key("google_maps_url");
    u.extend_from_slice(b"\"https://www.google.com/maps/place//data=!4m2!3m1!1s0x0:0x");
    hex(u, r.next(), 16);
    u.push(b'"');
    location(&mut p, &pl, r.chance(90));
    if !draft && r.chance(50) {
        let q = p.key("questions");
        q.push(b'[');
        let first = r.below(ASPECTS.len() as u64) as usize;
        for i in 0..r.range(1, 3) as usize {
            if i > 0 {
                q.push(b',');
            }
            let mut a = Obj::new(q);
            match ASPECTS[(first + i) % ASPECTS.len()] {
                Aspect::Rating(k) => {
                    a.str("question", k);
                    a.int("rating", r.range(1, 5));
                }
                Aspect::One(k, options) => {
                    a.str("question", k);
                    a.str("selected_option", r.pick(options));
                }
                Aspect::Many(k, options) => {
                    a.str("question", k);
                    let n = r.range(1, 2) as usize;
                    let from = r.below(options.len() as u64) as usize;
                    let mut chosen = [""; 2];
                    for (j, c) in chosen.iter_mut().enumerate().take(n) {
                        *c = options[(from + j) % options.len()];
                    }
                    a.strs("selected_options", &chosen[..n]);
                }
            }
            a.end();
        }
        q.push(b']');
    }
    // The page's summary names draft and published text; the draft's key is a GUESS.
    if draft && r.chance(50) {
        p.str("review_text_draft", r.pick(PLACE_REVIEWS));
    } else if !draft && r.chance(70) {
        p.text("review_text_published", &[r.pick(PLACE_REVIEWS), " ", r.pick(PLACE_REVIEWS), ""]);
    }
    p.end();
    o.str("type", "Feature");
    o.end();
}

// ---------------------------------------------------------------------------------------------
// maps.commute_routes, maps.commute_settings, maps.ev_profile, maps.vehicle_profile.

fn lat_lng(o: &mut Obj<'_>, lat: i64, lng: i64) {
    let mut l = Obj::new(o.key("lat_lng"));
    float7(l.key("latitude"), lat);
    float7(l.key("longitude"), lng);
    l.end();
}

/// A place visit of a trip: `{"id", "place": {"lat_lng", "semantic_type"}}`.
fn visit(b: &mut Vec<u8>, id: &str, lat: i64, lng: i64, semantic: &str) {
    let mut v = Obj::new(b);
    v.str("id", id);
    let mut p = Obj::new(v.key("place"));
    lat_lng(&mut p, lat, lng);
    p.str("semantic_type", semantic);
    p.end();
    v.end();
}

/// `TYPE_UNKNOWN` is the value seen in real files; home and work are a GUESS.
const SEMANTIC_TYPES: &[&str] = &["TYPE_UNKNOWN", "TYPE_UNKNOWN", "TYPE_UNKNOWN", "TYPE_HOME", "TYPE_WORK"];
const STOP_SUFFIXES: &[&str] = &[" Station", " stop", " (Stop B)", " Interchange"];

fn commute_trip(r: &mut Rng, b: &mut Vec<u8>) {
    let from = place(r);
    let (to_lat, to_lng) = (from.city.lat + r.range(-300_000, 300_000), from.city.lng + r.range(-450_000, 450_000));
    let mut o = Obj::new(b);
    let id = o.key("id");
    id.push(b'"');
    hex_upper(id, r.next(), 16);
    id.push(b'"');
    // The origin is often unknown: `{"id": ""}` and transitions from `""`.
    let origin = if r.chance(35) { "" } else { "SOURCE_ID" };
    let v = o.key("place_visit");
    v.push(b'[');
    if origin.is_empty() {
        v.extend_from_slice(b"{\"id\":\"\"}");
    } else {
        visit(v, origin, from.lat, from.lng, r.pick(SEMANTIC_TYPES));
    }
    v.push(b',');
    visit(v, "DESTINATION_ID", to_lat, to_lng, r.pick(SEMANTIC_TYPES));
    v.push(b']');
    let tr = o.key("transition");
    tr.push(b'[');
    let mut t = Obj::new(tr);
    let mut route = Obj::new(t.key("route"));
    if r.chance(40) {
        route.str("travel_mode", "TRANSIT");
        let l = route.key("transit");
        l.extend_from_slice(b"{\"route\":{\"leg\":[");
        let rides = r.range(1, 2);
        for i in 0..=rides + 1 {
            if i > 0 {
                l.push(b',');
            }
            let mut leg = Obj::new(l);
            let last = i == rides + 1;
            leg.str("mode", if i == 0 || last { "WALKING" } else { "TRANSIT" });
            // The last walk, to the destination, names none.
            if !last {
                leg.text("destination", &[r.pick(STREETS), r.pick(STOP_SUFFIXES), "", ""]);
            }
            leg.end();
        }
        l.extend_from_slice(b"]}}");
    } else {
        route.str("travel_mode", "DRIVE");
    }
    route.end();
    let from_id: &[u8] = if origin.is_empty() { b"{\"visit_id\":\"\"}" } else { b"{\"visit_id\":\"SOURCE_ID\"}" };
    t.key("origin").extend_from_slice(from_id);
    t.key("destination").extend_from_slice(b"{\"visit_id\":\"DESTINATION_ID\"}");
    t.end();
    tr.push(b']');
    o.end();
}

const COMMUTE_MODES: &[&str] = &["DRIVE", "DRIVE", "TRANSIT", "TRANSIT", "TWO_WHEELER", "BICYCLE", "WALK"];
const WEEKDAYS: &[&str] = &["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

/// GUESS (nothing of this group is known): a commute's mode, days and times of day.
fn commute_setting(r: &mut Rng, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.str("travel_mode", r.pick(COMMUTE_MODES));
    let days = r.range(3, 6) as usize;
    o.strs("commute_days", &WEEKDAYS[..days]);
    for (k, from_hour) in [("departure_time", 6), ("return_time", 15)] {
        let minutes = from_hour * 60 + r.below(4 * 12) * 5;
        let _ = write!(o.key(k), "\"{:02}:{:02}\"", minutes / 60, minutes % 60);
    }
    o.end();
}

const EVS: &[(&str, &[&str])] = &[
    ("Volkswagen", &["ID.3", "ID.4"]),
    ("Tesla", &["Model 3", "Model Y"]),
    ("Renault", &["Zoe", "Megane E-Tech"]),
    ("Kia", &["EV6", "Niro EV"]),
    ("Hyundai", &["Ioniq 5", "Kona Electric"]),
    ("Nissan", &["Leaf"]),
];
const CONNECTORS: &[&str] = &["CCS_COMBO_2", "TYPE_2", "CHADEMO", "CCS_COMBO_1", "J1772", "NACS"];

/// GUESS (the schema survey says "EV connector prefs"): make, model and connector types.
fn ev_profile(r: &mut Rng, b: &mut Vec<u8>) {
    let (make, models) = r.pick(EVS);
    let mut o = Obj::new(b);
    o.str("make", make);
    o.str("model", r.pick(models));
    let from = r.below(CONNECTORS.len() as u64 - 1) as usize;
    o.strs("connector_types", &CONNECTORS[from..from + r.range(1, 2) as usize]);
    o.end();
}

const CARS: &[(&str, &[&str])] = &[
    ("Volkswagen", &["Golf", "Polo", "Passat"]),
    ("Toyota", &["Corolla", "Yaris", "RAV4"]),
    ("Renault", &["Clio", "Captur"]),
    ("Ford", &["Focus", "Fiesta", "Kuga"]),
    ("Škoda", &["Octavia", "Fabia"]),
    ("Honda", &["Civic", "Jazz"]),
];
const ENGINES: &[&str] = &["GASOLINE", "GASOLINE", "DIESEL", "HYBRID", "PLUG_IN_HYBRID", "ELECTRIC"];

/// GUESS (the schema survey says "Vehicle make/model"): make, model and engine type.
fn vehicle_profile(r: &mut Rng, b: &mut Vec<u8>) {
    let (make, models) = r.pick(CARS);
    let mut o = Obj::new(b);
    o.str("make", make);
    o.str("model", r.pick(models));
    o.str("engine_type", r.pick(ENGINES));
    o.end();
}

// ---------------------------------------------------------------------------------------------
// maps.factual_contributions, maps.offering_contributions, maps.questions_answers.

const AUTOMATED_QUESTIONS: &[&str] = &[
    "Is this place popular for lunch?",
    "Does this place have outdoor seating?",
    "Is this place good for kids?",
    "Does this place accept credit cards?",
    "Does this place have a wheelchair accessible entrance?",
    "Does this place offer takeout?",
    "Is this place quiet?",
    "Does this place serve vegetarian food?",
];

fn automated_answer(r: &mut Rng, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    let u = o.key("placeUrl");
    u.extend_from_slice(b"\"https://google.com/maps/?cid=0x");
    hex(u, r.next(), 16);
    u.extend_from_slice(b":0x");
    hex(u, r.next(), 16);
    u.push(b'"');
    // Real files hold "Unknown" where Google lost the question.
    if r.chance(5) {
        o.str("question", "Unknown");
        o.str("selectedChoice", "Unknown");
    } else {
        o.str("question", r.pick(AUTOMATED_QUESTIONS));
        o.str("selectedChoice", r.pick(&["Yes", "Yes", "Yes", "No"]));
    }
    o.end();
}

const ACTIVITIES: &[&str] = &["Kayaking", "Wine tasting", "Guided tour", "Yoga class", "Bouldering", "Pottery"];

fn offering(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.random_id("photo_url", r, "https://lh3.googleusercontent.com/p/AF1Qip", 38, BASE64URL);
    let text = match r.below(3) {
        0 => r.pick(ACTIVITIES),
        1 => r.pick(THINGS),
        _ => r.pick(FOODS),
    };
    o.str("text", text);
    o.time("created", t);
    o.end();
}

const QUESTIONS: &[(&str, &str)] = &[
    ("Is there parking nearby?", "Yes, there's a car park behind the building."),
    ("Do they take reservations?", "Only for groups of six or more."),
    ("Is it dog friendly?", "Yes, they even have water bowls."),
    ("Are there vegan options?", "A few, ask for the seasonal menu."),
    ("Is it wheelchair accessible?", "Yes, step-free entrance on the side."),
    ("Is it open on Sundays?", "Mornings only."),
];

/// GUESS (the element keys are unknown): the place, the question and the user's answer.
fn question_answer(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let pl = place(r);
    let (question, answer) = r.pick(QUESTIONS);
    let mut o = Obj::new(b);
    o.time("date", t);
    let u = o.key("google_maps_url");
    u.extend_from_slice(b"\"http://maps.google.com/?cid=");
    uint(u, r.next() >> 1);
    u.push(b'"');
    location(&mut o, &pl, true);
    o.str("question", question);
    o.str("answer", answer);
    o.end();
}

// ---------------------------------------------------------------------------------------------
// maps.photos_videos and streetview.imagery: media with their metadata beside them.

/// `Photos and videos/2026-01-11-1a2b3c4d.jpg` (or `.mp4`): the upload date and 8 hex digits.
fn photo_name(s: &mut Slot, name: &mut String) {
    let c = civil(s.time);
    let id = s.rng.next() >> 32;
    let ext = if s.pick >= 80 { "mp4" } else { "jpg" };
    let _ = write!(name, "Photos and videos/{:04}-{:02}-{:02}-{id:08x}.{ext}", c.year, c.month, c.day);
}

fn photos_videos(x: &mut Export<'_>) -> Result<(), SourceError> {
    x.media(|s| s.pick < 80, photo_name, |s, b| jpeg(b, s.rng.next()))?;
    x.media(|s| s.pick >= 80, photo_name, |s, b| mp4(b, s.rng.next()))?;
    x.files(
        FileLayout::wrapped("", ""),
        all,
        |s, name| {
            photo_name(s, name);
            name.push_str(".json");
        },
        |s, path, b| photo_sidecar(&mut s.rng, s.time, path, b),
    )
}

/// `{title, imageViews, creationTime, photoTakenTime, geoData, geoDataExif}` of the media file
/// whose sidecar is at `path`.
fn photo_sidecar(r: &mut Rng, t: i64, path: &str, b: &mut Vec<u8>) {
    let title = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".json");
    let pl = place(r);
    let taken = t - r.range(0, 14 * 86_400) * 1_000_000;
    let mut o = Obj::new(b);
    o.str("title", title);
    let v = o.key("imageViews");
    v.push(b'"');
    uint(v, r.below(40_000));
    v.push(b'"');
    sidecar_time(&mut o, "creationTime", t);
    sidecar_time(&mut o, "photoTakenTime", taken);
    let altitude = r.below(3000);
    // The place's position, and the camera's GPS when it recorded one (0.0 otherwise).
    let exif = r.chance(70);
    for (k, known) in [("geoData", true), ("geoDataExif", exif)] {
        let mut g = Obj::new(o.key(k));
        let (lat, lng, alt) = if known { (pl.lat, pl.lng, altitude) } else { (0, 0, 0) };
        float7(g.key("latitude"), lat);
        float7(g.key("longitude"), lng);
        let a = g.key("altitude");
        uint(a, alt / 10);
        a.push(b'.');
        uint(a, alt % 10);
        g.end();
    }
    o.end();
}

/// `PANO_20240501_093000.jpg` for a 360° image, `VID_20240501_093000.mp4` for a video.
fn street_view_name(s: &mut Slot, name: &mut String) {
    let c = civil(s.time);
    let (prefix, ext) = if s.pick >= 65 { ("VID", "mp4") } else { ("PANO", "jpg") };
    let _ = write!(
        name,
        "{prefix}_{:04}{:02}{:02}_{:02}{:02}{:02}.{ext}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

fn street_view(x: &mut Export<'_>) -> Result<(), SourceError> {
    x.media(|s| s.pick < 65, street_view_name, |s, b| jpeg(b, s.rng.next()))?;
    x.media(|s| s.pick >= 65, street_view_name, |s, b| mp4(b, s.rng.next()))?;
    x.files(
        FileLayout::wrapped("", ""),
        all,
        |s, name| {
            street_view_name(s, name);
            name.push_str(".json");
        },
        |s, _, b| sensor_data(&mut s.rng, s.time, s.pick >= 65, b),
    )
}

/// `{"gps_track": [{latitude, longitude, altitude?, capture_time}]}`: one fix for an image, one a
/// second for a video, ending at the upload's time.
fn sensor_data(r: &mut Rng, t: i64, video: bool, b: &mut Vec<u8>) {
    let pl = place(r);
    let fixes = if video { r.range(5, 30) } else { 1 };
    let (dlat, dlng) = (r.range(-1_000, 1_000), r.range(-1_000, 1_000));
    let altitude = r.chance(80).then(|| r.range(0, 2500));
    b.extend_from_slice(b"{\"gps_track\":[");
    for i in 0..fixes {
        if i > 0 {
            b.push(b',');
        }
        let mut f = Obj::new(b);
        float7(f.key("latitude"), pl.lat + i * dlat);
        float7(f.key("longitude"), pl.lng + i * dlng);
        if let Some(a) = altitude {
            let k = f.key("altitude");
            let _ = write!(k, "{}.{}", a / 10 + i / 4, a % 10);
        }
        f.time("capture_time", t - (fixes - 1 - i) * 1_000_000);
        f.end();
    }
    b.extend_from_slice(b"]}");
}

// ---------------------------------------------------------------------------------------------
// mymaps.maps: one KMZ per map.

const MAP_KINDS: &[&str] = &[" trip", " food tour", " running routes", " weekend", " with kids"];
const LAYERS: &[&str] = &["Untitled layer", "Places", "Food", "Sights", "Day 1", "Day 2"];

/// The map's title, e.g. "Lisbon food tour 2024", and its city.
fn map_title(r: &mut Rng) -> (Text, City) {
    let c = r.pick(CITIES);
    ([c.name, r.pick(MAP_KINDS), " ", r.pick(YEARS)], c)
}

fn my_maps(x: &mut Export<'_>) -> Result<(), SourceError> {
    let mut kml = Vec::new();
    x.media(
        all,
        |s, name| {
            // The content draws the title again: peek at it on a copy of the generator.
            let (title, _) = map_title(&mut s.rng.clone());
            let title = title.concat();
            let _ = write!(name, "{title}/{title}.kmz");
        },
        |s, b| {
            kml.clear();
            let (title, city) = map_title(&mut s.rng);
            my_map_kml(&mut s.rng, &title, city, &mut kml);
            kmz(b, &kml);
        },
    )
}

/// A My Maps map as KML 2.2: a Document with a style and one layer (Folder) of Placemarks,
/// points and sometimes a route.
fn my_map_kml(r: &mut Rng, title: &Text, city: City, b: &mut Vec<u8>) {
    const STYLE: &str = "icon-1899-0288D1";
    b.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n  <Document>\n    <name>");
    xml(b, title);
    b.extend_from_slice(b"</name>\n    <description>");
    xml(b, &["Places to visit in ", city.name, ", ", city.country]);
    let _ = write!(
        b,
        "</description>\n    <Style id=\"{STYLE}\">\n      <IconStyle>\n        <color>ffd18802</color>\n        \
         <scale>1</scale>\n        <Icon>\n          \
         <href>https://www.gstatic.com/mapspro/images/stock/503-wht-blank_maps.png</href>\n        </Icon>\n      \
         </IconStyle>\n    </Style>\n    <Folder>\n      <name>"
    );
    xml(b, &[r.pick(LAYERS)]);
    b.extend_from_slice(b"</name>\n");
    for _ in 0..r.range(3, 10) {
        let pl = place_in(r, city);
        b.extend_from_slice(b"      <Placemark>\n        <name>");
        xml(b, &pl.name);
        let _ = write!(b, "</name>\n        <description>{} ", pl.number);
        xml(b, &[pl.street, ", ", pl.city.name, ""]);
        let _ = write!(
            b,
            "</description>\n        <styleUrl>#{STYLE}</styleUrl>\n        <Point>\n          <coordinates>"
        );
        fixed7(b, pl.lng);
        b.push(b',');
        fixed7(b, pl.lat);
        b.extend_from_slice(b",0</coordinates>\n        </Point>\n      </Placemark>\n");
    }
    if r.chance(30) {
        b.extend_from_slice(b"      <Placemark>\n        <name>Walking route</name>\n        <LineString>\n          <tessellate>1</tessellate>\n          <coordinates>");
        let (lng, lat) = (city.lng + r.range(-50_000, 50_000), city.lat + r.range(-50_000, 50_000));
        for i in 0..r.range(2, 6) {
            if i > 0 {
                b.push(b' ');
            }
            fixed7(b, lng + i * r.range(-5_000, 5_000));
            b.push(b',');
            fixed7(b, lat + i * r.range(-5_000, 5_000));
            b.extend_from_slice(b",0");
        }
        b.extend_from_slice(b"</coordinates>\n        </LineString>\n      </Placemark>\n");
    }
    b.extend_from_slice(b"    </Folder>\n  </Document>\n</kml>\n");
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::io::Read as _;

    use serde_json::Value;

    use super::super::test_sink::*;
    use super::*;

    fn files(name: &str, records: u64) -> Vec<File> {
        run_all(&emulator(records, 0), name, "alice", None, EXPORT)
    }

    fn is_number(v: &Value) -> bool {
        v.is_number()
    }

    fn assert_timestamp(v: &Value) {
        let s = v.as_str().unwrap_or_else(|| panic!("{v} is a string"));
        dataport_types::Timestamp::parse(s).unwrap_or_else(|_| panic!("{s} is RFC 3339"));
    }

    fn features(doc: &Value) -> &Vec<Value> {
        assert_eq!(doc["type"], "FeatureCollection");
        let fs = doc["features"].as_array().expect("features");
        for f in fs {
            assert_eq!(f["type"], "Feature", "{f}");
            assert_eq!(f["geometry"]["type"], "Point", "{f}");
            let c = f["geometry"]["coordinates"].as_array().expect("coordinates");
            assert_eq!(c.len(), 2, "{f}");
            let (lng, lat) = (c[0].as_f64().expect("lng"), c[1].as_f64().expect("lat"));
            assert!((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat), "{f}");
        }
        fs
    }

    #[test]
    fn aliased_places_are_labeled_places_geojson() {
        let fs = files("maps.aliased_places", 100);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].name, "My labeled places/Labeled places.json");
        let doc = fs[0].json();
        let features = features(&doc);
        assert_eq!(features.len(), fs[0].records.len());
        let mut addresses = 0;
        for f in features {
            let p = f["properties"].as_object().expect("properties");
            assert!(p["name"].is_string(), "{f}");
            addresses += usize::from(p.get("address").is_some_and(Value::is_string));
            assert!(p.keys().all(|k| k == "name" || k == "address"), "{f}");
            assert!(f.get("date").is_none() && p.get("date").is_none(), "no date");
        }
        assert!(addresses > 50 && addresses < 100, "most but not all have an address: {addresses}");
        // Keys sorted as Google writes them.
        let text = String::from_utf8(fs[0].document()).expect("UTF-8");
        assert!(text.starts_with("{\"features\":[{\"geometry\":{\"coordinates\":["), "{}", &text[..60]);
        assert!(text.ends_with("],\"type\":\"FeatureCollection\"}"));
    }

    #[test]
    fn starred_places_are_saved_places_geojson() {
        let fs = files("maps.starred_places", 200);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].name, "Saved Places.json");
        let doc = fs[0].json();
        let (mut located, mut comments) = (0, 0);
        let mut last = i64::MAX;
        for f in features(&doc) {
            let p = f["properties"].as_object().expect("properties");
            let date = p["date"].as_str().expect("date");
            let t = dataport_types::Timestamp::parse(date).expect("ISO_INSTANT").micros();
            assert!(t < last, "newest first");
            last = t;
            let url = p["google_maps_url"].as_str().expect("url");
            if let Some(l) = p.get("location") {
                located += 1;
                for k in ["name", "address", "country_code"] {
                    assert!(l[k].is_string(), "{k}: {f}");
                }
                assert!(url.starts_with("http://maps.google.com/?cid="), "{url}");
                assert!(url["http://maps.google.com/?cid=".len()..].bytes().all(|c| c.is_ascii_digit()), "{url}");
                assert!(p.get("Comment").is_none());
            } else {
                comments += 1;
                assert_eq!(p["Comment"], "No location information is available for this saved place");
                assert_eq!(f["geometry"]["coordinates"], serde_json::json!([0, 0]));
                assert!(url.starts_with("http://maps.google.com/?q=") && url.contains("&ftid=0x"), "{url}");
                assert!(!url.contains(' '), "{url}");
            }
            let keys: Vec<&str> = p.keys().map(String::as_str).collect();
            assert!(keys.len() == 3 && keys[..2] == ["date", "google_maps_url"], "{keys:?}");
        }
        assert!(located > 150 && comments > 3, "{located} located, {comments} without location");
    }

    #[test]
    fn starred_places_keep_times_of_the_window_and_their_order() {
        let emu = emulator(100, 3);
        let full = run(&emu, "maps.starred_places", "alice", None, EXPORT);
        let ts = times("maps.starred_places", &full);
        assert_eq!(ts.len(), full.records.len());
        assert!(ts.windows(2).all(|w| w[0] > w[1]));
        let empty = run(&emu, "maps.starred_places", "alice", Some(EXPORT), EXPORT);
        assert_eq!(empty.json(), serde_json::json!({"type": "FeatureCollection", "features": []}));
    }

    #[test]
    fn reviews_are_geojson_with_ratings_and_questions() {
        let fs = files("maps.reviews", 300);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].name, "Reviews.json");
        let doc = fs[0].json();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for f in features(&doc) {
            let p = f["properties"].as_object().expect("properties");
            let date = p["date"].as_str().expect("date");
            assert!(date.len() == 27 && date.ends_with('Z'), "microseconds: {date}");
            assert_timestamp(&p["date"]);
            let url = p["google_maps_url"].as_str().expect("url");
            assert!(url.starts_with("https://www.google.com/maps/place//data=!4m2!3m1!1s0x0:0x"), "{url}");
            assert!(p["location"]["name"].is_string() && p["location"]["address"].is_string(), "{f}");
            let rated = ["five_star_rating_published", "five_star_rating_draft"]
                .iter()
                .filter(|k| p.get(**k).and_then(Value::as_i64).is_some_and(|v| (1..=5).contains(&v)))
                .count();
            assert_eq!(rated, 1, "{f}");
            for q in p.get("questions").and_then(Value::as_array).into_iter().flatten() {
                assert!(q["question"].is_string(), "{q}");
                assert!(
                    q.get("rating").is_some_and(Value::is_i64)
                        || q.get("selected_option").is_some_and(Value::is_string)
                        || q.get("selected_options").is_some_and(Value::is_array),
                    "{q}"
                );
            }
            let keys: Vec<&String> = p.keys().collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted: {keys:?}");
            for k in p.keys() {
                *seen.entry(k.as_str()).or_default() += 1;
            }
            if p["location"].get("country_code").is_some() {
                *seen.entry("country_code").or_default() += 1;
            }
        }
        for k in [
            "five_star_rating_published",
            "five_star_rating_draft",
            "review_text_published",
            "review_text_draft",
            "questions",
            "country_code",
        ] {
            assert!(seen.get(k).is_some_and(|&n| n > 0 && n < 300), "{k}: {seen:?}");
        }
    }

    #[test]
    fn commute_routes_are_trips() {
        let fs = files("maps.commute_routes", 100);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].name, "Commute routes/Commute routes.json");
        let doc = fs[0].json();
        let trips = doc["trips"].as_array().expect("trips");
        assert_eq!(trips.len(), fs[0].records.len());
        let mut modes = HashSet::new();
        for t in trips {
            let id = t["id"].as_str().expect("id");
            assert!(id.len() == 16 && id.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{id}");
            let visits = t["place_visit"].as_array().expect("place_visit");
            let ids: Vec<&str> = visits.iter().map(|v| v["id"].as_str().expect("visit id")).collect();
            for v in visits {
                if let Some(p) = v.get("place") {
                    assert!(is_number(&p["lat_lng"]["latitude"]) && is_number(&p["lat_lng"]["longitude"]), "{v}");
                    assert!(p["semantic_type"].as_str().expect("semantic_type").starts_with("TYPE_"), "{v}");
                }
            }
            for tr in t["transition"].as_array().expect("transition") {
                let mode = tr["route"]["travel_mode"].as_str().expect("travel_mode");
                modes.insert(mode.to_owned());
                if mode == "TRANSIT" {
                    let legs = tr["route"]["transit"]["route"]["leg"].as_array().expect("legs");
                    assert!(legs.iter().all(|l| l["mode"] == "WALKING" || l["mode"] == "TRANSIT"), "{tr}");
                    assert!(legs.last().expect("a leg").get("destination").is_none(), "{tr}");
                }
                for end in ["origin", "destination"] {
                    assert!(ids.contains(&tr[end]["visit_id"].as_str().expect("visit_id")), "{tr}");
                }
            }
        }
        assert_eq!(modes, HashSet::from(["DRIVE".to_owned(), "TRANSIT".to_owned()]));
    }

    #[test]
    fn settings_and_profiles_are_json_arrays_in_their_folders() {
        for (name, path, keys) in [
            (
                "maps.commute_settings",
                "Commute settings/Commute settings.json",
                &["travel_mode", "commute_days", "departure_time", "return_time"][..],
            ),
            (
                "maps.ev_profile",
                "Electric vehicle settings/Electric vehicle settings.json",
                &["make", "model", "connector_types"][..],
            ),
            ("maps.vehicle_profile", "Vehicle profiles/Vehicle profiles.json", &["make", "model", "engine_type"][..]),
        ] {
            let fs = files(name, 50);
            assert_eq!(fs.len(), 1, "{name}");
            assert_eq!(fs[0].name, path);
            let doc = fs[0].json();
            let records = doc.as_array().expect("array");
            assert_eq!(records.len(), fs[0].records.len());
            for r in records {
                let o = r.as_object().expect("object");
                assert_eq!(o.keys().map(String::as_str).collect::<HashSet<_>>(), keys.iter().copied().collect(), "{r}");
            }
        }
    }

    #[test]
    fn factual_contributions_are_one_answer_per_file() {
        let fs = files("maps.factual_contributions", 50);
        assert!((49..=51).contains(&fs.len()), "{}", fs.len());
        let mut last = i64::MAX;
        for f in &fs {
            let stem = f
                .name
                .strip_prefix("Answers to automated questions/")
                .and_then(|n| n.strip_suffix(".json"))
                .unwrap_or_else(|| panic!("{}", f.name));
            let ms: i64 = stem.parse().expect("epoch milliseconds");
            assert!(ms < last && (EXPORT / 1000 - HISTORY_SECONDS * 1000..EXPORT / 1000).contains(&ms), "{ms}");
            last = ms;
            assert!(f.layout.compress, "a data file");
            let doc = f.json();
            let o = doc.as_object().expect("one object");
            assert_eq!(o.keys().collect::<Vec<_>>(), ["placeUrl", "question", "selectedChoice"]);
            assert!(doc["placeUrl"].as_str().expect("placeUrl").starts_with("https://google.com/maps/?cid=0x"));
            assert!(doc["question"].is_string() && doc["selectedChoice"].is_string());
        }
    }

    #[test]
    fn offering_contributions_and_questions_are_wrapped_arrays() {
        let fs = files("maps.offering_contributions", 50);
        assert_eq!(fs[0].name, "Added dishes, products, activities/Added dishes, products, activities.json");
        let doc = fs[0].json();
        let cs = doc["contributions"].as_array().expect("contributions");
        assert_eq!(cs.len(), fs[0].records.len());
        for c in cs {
            assert!(c["photo_url"].as_str().expect("photo_url").starts_with("https://"), "{c}");
            assert!(c["text"].is_string(), "{c}");
            assert_timestamp(&c["created"]);
        }
        let fs = files("maps.questions_answers", 50);
        assert_eq!(fs[0].name, "Questions and Answers/Questions and Answers.json");
        let doc = fs[0].json();
        assert_eq!(doc["answers"].as_array().expect("answers").len(), fs[0].records.len());
        for name in ["maps.offering_contributions", "maps.questions_answers"] {
            let empty = run(&emulator(50, 0), name, "alice", Some(EXPORT), EXPORT).json();
            assert!(empty.as_object().expect("object").values().all(|v| v == &serde_json::json!([])), "{empty}");
        }
    }

    /// The media files of a group and the JSON beside each, by name.
    fn media_and_sidecars(fs: &[File]) -> (Vec<&File>, HashMap<&str, Value>) {
        let media: Vec<&File> = fs.iter().filter(|f| f.layout == FileLayout::media()).collect();
        let sidecars = fs
            .iter()
            .filter(|f| f.layout != FileLayout::media())
            .map(|f| (f.name.strip_suffix(".json").expect("a .json sidecar"), f.json()))
            .collect();
        (media, sidecars)
    }

    fn check_media(f: &File) {
        let bytes = f.document();
        if f.name.ends_with(".jpg") {
            assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]), "{}", f.name);
        } else {
            assert!(f.name.ends_with(".mp4"), "{}", f.name);
            assert_eq!(&bytes[4..8], b"ftyp", "{}", f.name);
        }
    }

    #[test]
    fn maps_photos_and_videos_have_sidecars() {
        let fs = files("maps.photos_videos", 60);
        let (media, sidecars) = media_and_sidecars(&fs);
        assert_eq!(media.len(), sidecars.len());
        assert!(media.iter().any(|f| f.name.ends_with(".jpg")) && media.iter().any(|f| f.name.ends_with(".mp4")));
        let mut ids = HashSet::new();
        for f in &media {
            check_media(f);
            assert!(ids.insert(f.document()), "distinct files");
            let stem = f.name.strip_prefix("Photos and videos/").expect("folder");
            assert_eq!(stem.len(), "2026-01-11-1a2b3c4d.jpg".len(), "{stem}");
            let s = &sidecars[f.name.as_str()];
            assert_eq!(s["title"], stem, "the sidecar names its file");
            let taken = s["photoTakenTime"]["timestamp"].as_str().expect("timestamp").parse::<i64>().expect("seconds");
            let created = s["creationTime"]["timestamp"].as_str().expect("timestamp").parse::<i64>().expect("seconds");
            assert!(taken <= created);
            let formatted = s["creationTime"]["formatted"].as_str().expect("formatted");
            assert!(formatted.ends_with(" UTC") && formatted.contains(", "), "{formatted}");
            assert!(s["imageViews"].is_string());
            for g in ["geoData", "geoDataExif"] {
                for k in ["latitude", "longitude", "altitude"] {
                    assert!(s[g][k].is_f64(), "{g}.{k}: {s}");
                }
            }
            assert_eq!(&stem[..10], &formatted_date(created), "named after the upload date");
        }
    }

    fn formatted_date(secs: i64) -> String {
        let c = civil(secs * 1_000_000);
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
    }

    #[test]
    fn street_view_uploads_have_sensor_data() {
        let fs = files("streetview.imagery", 60);
        let (media, sidecars) = media_and_sidecars(&fs);
        assert_eq!(media.len(), sidecars.len());
        assert!(media.iter().any(|f| f.name.ends_with(".jpg")) && media.iter().any(|f| f.name.ends_with(".mp4")));
        let mut altitudes = 0;
        for f in &media {
            check_media(f);
            assert!(f.name.starts_with("PANO_") || f.name.starts_with("VID_"), "{}", f.name);
            let track = sidecars[f.name.as_str()]["gps_track"].as_array().expect("gps_track");
            assert!(if f.name.ends_with(".jpg") { track.len() == 1 } else { track.len() >= 5 });
            for fix in track {
                assert!(fix["latitude"].is_f64() && fix["longitude"].is_f64(), "{fix}");
                assert_timestamp(&fix["capture_time"]);
                altitudes += usize::from(fix.get("altitude").is_some_and(Value::is_f64));
            }
        }
        assert!(altitudes > 0);
    }

    /// Checks that every start tag has its end tag (a minimal well-formedness check).
    fn balanced(xml: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut tags = Vec::new();
        for piece in xml.split('<').skip(1) {
            let tag = &piece[..piece.find('>').expect("tag end")];
            if tag.starts_with('?') || tag.ends_with('/') {
                continue;
            }
            if let Some(end) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(end), "{xml}");
            } else {
                let name = tag.split(' ').next().expect("name").to_owned();
                tags.push(name.clone());
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "{stack:?}");
        tags
    }

    #[test]
    fn my_maps_are_kmz_files_of_kml() {
        let fs = files("mymaps.maps", 30);
        assert!((29..=31).contains(&fs.len()));
        let mut routes = 0;
        for f in &fs {
            assert_eq!(f.layout, FileLayout::media(), "stored as media");
            let (dir, file) = f.name.split_once('/').expect("<Map name>/<Map name>.kmz");
            assert_eq!(file, format!("{dir}.kmz"));
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(f.document())).expect("a ZIP");
            let mut kml = String::new();
            zip.by_name("doc.kml").expect("doc.kml").read_to_string(&mut kml).expect("UTF-8");
            assert!(kml.starts_with("<?xml") && kml.contains("<kml xmlns=\"http://www.opengis.net/kml/2.2\">"));
            assert!(kml.contains(&format!("<Document>\n    <name>{dir}</name>")), "{kml}");
            let tags = balanced(&kml);
            assert!(tags.iter().filter(|t| *t == "Point").count() >= 3);
            routes += usize::from(tags.iter().any(|t| t == "LineString"));
            for c in kml.split("<coordinates>").skip(1) {
                let c = &c[..c.find('<').expect("end")];
                for point in c.split(' ') {
                    let xyz: Vec<f64> = point.split(',').map(|v| v.parse().expect("number")).collect();
                    assert!(xyz.len() == 3 && (-180.0..=180.0).contains(&xyz[0]) && (-90.0..=90.0).contains(&xyz[1]));
                }
            }
        }
        assert!(routes > 0);
    }

    #[test]
    fn the_same_inputs_give_the_same_files_and_empty_windows_valid_ones() {
        for name in [
            "maps.aliased_places",
            "maps.commute_routes",
            "maps.commute_settings",
            "maps.ev_profile",
            "maps.factual_contributions",
            "maps.offering_contributions",
            "maps.photos_videos",
            "maps.questions_answers",
            "maps.reviews",
            "maps.starred_places",
            "maps.vehicle_profile",
            "mymaps.maps",
            "streetview.imagery",
        ] {
            let a = run_all(&emulator(20, 5), name, "alice", None, EXPORT);
            assert!(!a.is_empty(), "{name}");
            assert_eq!(a, run_all(&emulator(20, 5), name, "alice", None, EXPORT), "{name}");
            assert_ne!(a, run_all(&emulator(20, 5), name, "bob", None, EXPORT), "{name}");
            for f in run_all(&emulator(20, 5), name, "alice", Some(EXPORT), EXPORT) {
                f.json();
            }
        }
    }

    #[test]
    fn helpers_write_googles_forms() {
        let mut b = Vec::new();
        float7(&mut b, -830_895_453);
        b.push(b' ');
        float7(&mut b, 425_000_000);
        b.push(b' ');
        float7(&mut b, 0);
        assert_eq!(b, b"-83.0895453 42.5 0.0");
        b.clear();
        iso_micros(&mut b, 1_715_302_025_983_704);
        assert_eq!(b, b"2024-05-10T00:47:05.983704Z");
        b.clear();
        let mut o = Obj::new(&mut b);
        sidecar_time(&mut o, "t", 1_768_151_101_000_000);
        o.end();
        assert_eq!(
            String::from_utf8(b).expect("UTF-8"),
            r#"{"t":{"timestamp":"1768151101","formatted":"Jan 11, 2026, 5:05:01 PM UTC"}}"#
        );
    }
}
