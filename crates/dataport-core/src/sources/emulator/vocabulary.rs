//! The building blocks of content: places, pages, channels, products, and the word lists behind them.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct City {
    pub(super) name: &'static str,
    pub(super) country: &'static str,
    pub(super) code: &'static str,
    pub(super) lat: i64,
    pub(super) lng: i64,
}

pub(super) const fn city(name: &'static str, country: &'static str, code: &'static str, lat: i64, lng: i64) -> City {
    City { name, country, code, lat, lng }
}

pub(super) const CITIES: &[City] = &[
    city("London", "United Kingdom", "GB", 515_072_000, -1_276_000),
    city("Paris", "France", "FR", 488_566_000, 23_522_000),
    city("Berlin", "Germany", "DE", 525_200_000, 134_050_000),
    city("Madrid", "Spain", "ES", 404_168_000, -37_038_000),
    city("Rome", "Italy", "IT", 419_028_000, 124_964_000),
    city("Amsterdam", "Netherlands", "NL", 523_676_000, 49_041_000),
    city("Vienna", "Austria", "AT", 482_082_000, 163_738_000),
    city("Stockholm", "Sweden", "SE", 593_293_000, 180_686_000),
    city("Warsaw", "Poland", "PL", 522_297_000, 210_122_000),
    city("Lisbon", "Portugal", "PT", 387_223_000, -91_393_000),
    city("Dublin", "Ireland", "IE", 533_498_000, -62_603_000),
    city("Zürich", "Switzerland", "CH", 473_769_000, 85_417_000),
    city("New York", "United States", "US", 407_128_000, -740_060_000),
    city("San Francisco", "United States", "US", 377_749_000, -1_224_194_000),
    city("Chicago", "United States", "US", 418_781_000, -876_298_000),
    city("Toronto", "Canada", "CA", 436_532_000, -793_832_000),
    city("Mexico City", "Mexico", "MX", 194_326_000, -991_332_000),
    city("São Paulo", "Brazil", "BR", -235_505_000, -466_333_000),
    city("Buenos Aires", "Argentina", "AR", -346_037_000, -583_816_000),
    city("Tokyo", "Japan", "JP", 356_762_000, 1_396_503_000),
    city("Seoul", "South Korea", "KR", 375_665_000, 1_269_780_000),
    city("Singapore", "Singapore", "SG", 13_521_000, 1_038_198_000),
    city("Sydney", "Australia", "AU", -338_688_000, 1_512_093_000),
    city("Cape Town", "South Africa", "ZA", -339_249_000, 184_241_000),
    city("Mumbai", "India", "IN", 190_760_000, 728_777_000),
    city("Nairobi", "Kenya", "KE", -12_921_000, 368_219_000),
];

pub(super) const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Main Street",
    "Church Lane",
    "Park Avenue",
    "Mill Road",
    "Market Square",
    "Oak Street",
    "Harbour Way",
    "King Street",
    "Elm Grove",
    "River Walk",
    "Bridge Street",
    "Garden Row",
    "Victoria Road",
    "Canal Street",
];

pub(super) const PLACE_ADJECTIVES: &[&str] = &[
    "Golden", "Blue", "Old", "Little", "Green", "Red", "Silver", "Northern", "Corner", "Royal", "Lucky", "Quiet",
    "Hidden", "Sunny",
];
pub(super) const PLACE_NOUNS: &[&str] = &[
    "Fox", "Harbour", "Mill", "Oak", "Lantern", "Bridge", "Garden", "Anchor", "Owl", "Orchard", "Tower", "Sparrow",
    "Fig", "Compass",
];
pub(super) const PLACE_KINDS: &[&str] = &[
    " Café",
    " Bakery",
    " Books",
    " Bistro",
    " Pizzeria",
    " Market",
    " Gym",
    " Hotel",
    " Museum",
    " Cinema",
    " Records",
    " Ramen Bar",
    " Wine Bar",
    " Pharmacy",
    " Gallery",
    " Bike Shop",
];

/// A made-up business somewhere in one of [`CITIES`]; `name` is e.g. "Golden Fox Café".
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    pub(super) name: Text,
    pub(super) city: City,
    pub(super) street: &'static str,
    pub(super) number: u64,
    pub(super) lat: i64,
    pub(super) lng: i64,
}

pub(super) fn place(r: &mut Rng) -> Place {
    let city = r.pick(CITIES);
    place_in(r, city)
}

/// A made-up place in `city`.
pub(super) fn place_in(r: &mut Rng, city: City) -> Place {
    Place {
        name: [r.pick(PLACE_ADJECTIVES), " ", r.pick(PLACE_NOUNS), r.pick(PLACE_KINDS)],
        city,
        street: r.pick(STREETS),
        number: 1 + r.below(220),
        lat: city.lat + r.range(-400_000, 400_000),
        lng: city.lng + r.range(-600_000, 600_000),
    }
}

/// Writes `"address":"12 High Street, London, United Kingdom"`.
pub(super) fn address(o: &mut Obj<'_>, k: &str, p: &Place) {
    let b = o.key(k);
    b.push(b'"');
    uint(b, p.number);
    b.push(b' ');
    esc(b, p.street);
    b.extend_from_slice(b", ");
    esc(b, p.city.name);
    b.extend_from_slice(b", ");
    esc(b, p.city.country);
    b.push(b'"');
}

pub(super) const HOWTO: &[&str] = &[
    "fix a leaking tap",
    "make sourdough bread",
    "tie a bowline knot",
    "change a bike tyre",
    "remove rust from tools",
    "reset a wifi router",
    "grow tomatoes indoors",
    "write a cover letter",
    "clean a cast iron pan",
    "fold a fitted sheet",
    "start a compost bin",
    "replace a light switch",
    "learn to touch type",
    "unclog a drain",
    "train a puppy to sit",
    "descale a kettle",
    "read a topographic map",
    "sharpen a kitchen knife",
];
pub(super) const THINGS: &[&str] = &[
    "coffee grinder",
    "running shoes",
    "standing desk",
    "noise cancelling headphones",
    "mechanical keyboard",
    "e-bike",
    "air fryer",
    "hiking boots",
    "espresso machine",
    "robot vacuum",
    "camping tent",
    "mattress",
    "rain jacket",
    "smart watch",
    "electric toothbrush",
    "cast iron skillet",
    "4k monitor",
    "backpack",
];
pub(super) const FOODS: &[&str] = &[
    "banana bread",
    "pad thai",
    "shakshuka",
    "lasagna",
    "ramen",
    "falafel",
    "paella",
    "chili con carne",
    "carrot cake",
    "mushroom risotto",
    "chicken tikka masala",
    "focaccia",
    "miso soup",
    "apple crumble",
    "tacos al pastor",
    "dal",
];
pub(super) const TOPICS: &[&str] = &[
    "rust",
    "python",
    "kubernetes",
    "postgres",
    "photosynthesis",
    "black holes",
    "the roman empire",
    "compound interest",
    "climate change",
    "quantum computing",
    "machine learning",
    "the french revolution",
    "plate tectonics",
    "jazz harmony",
    "oauth",
    "sqlite",
];
pub(super) const TOPIC_SUFFIXES: &[&str] =
    &["tutorial", "explained", "for beginners", "history", "examples", "cheat sheet", "book", "course"];
pub(super) const YEARS: &[&str] = &["2021", "2022", "2023", "2024", "2025"];
pub(super) const WIKI: &[&str] = &[
    "Black hole",
    "Roman Empire",
    "Photosynthesis",
    "Compound interest",
    "Rust (programming language)",
    "Plate tectonics",
    "French Revolution",
    "Quantum computing",
    "Jazz",
    "Ada Lovelace",
    "Great Barrier Reef",
    "Sourdough",
    "Mount Kilimanjaro",
    "Bauhaus",
];
pub(super) const HEADLINES: &[&str] = &[
    "City council approves new cycle lanes",
    "Scientists map the ocean floor in record detail",
    "Heatwave expected to break records this weekend",
    "Local bakery wins national award",
    "Rail strike: what you need to know",
    "The quiet comeback of the paper notebook",
    "New exoplanet found in habitable zone",
    "Why everyone is talking about four-day weeks",
    "Museum reopens after five-year renovation",
    "Markets rally as inflation cools",
    "Ten walks to try this autumn",
    "Inside the race to build better batteries",
];
pub(super) const REPOS: &[&str] = &[
    "tokio-rs/axum",
    "serde-rs/json",
    "rust-lang/rust",
    "atuinsh/atuin",
    "deuxfleurs-org/garage",
    "sqlite/sqlite",
    "python/cpython",
    "torvalds/linux",
    "BurntSushi/ripgrep",
    "sharkdp/bat",
];

/// A web page: title, host and path.
#[derive(Clone, Copy, Debug)]
pub(super) struct Page {
    pub(super) title: Text,
    pub(super) host: &'static str,
    pub(super) path: &'static str,
    /// Digits before the slug (question ids), 0 for none.
    pub(super) number: u64,
    pub(super) slug: Text,
    pub(super) sep: u8,
    pub(super) lower: bool,
}

pub(super) fn page(r: &mut Rng) -> Page {
    let plain = |title: Text, host: &'static str, path: &'static str, slug: Text| Page {
        title,
        host,
        path,
        number: 0,
        slug,
        sep: b'-',
        lower: true,
    };
    match r.below(8) {
        0 => {
            let w = r.pick(WIKI);
            Page { sep: b'_', lower: false, ..plain([w, " - Wikipedia", "", ""], "en.wikipedia.org", "/wiki/", one(w)) }
        }
        1 => {
            let f = r.pick(FOODS);
            plain(["Easy ", f, " recipe | BBC Good Food", ""], "www.bbcgoodfood.com", "/recipes/", one(f))
        }
        2 => {
            let h = r.pick(HOWTO);
            Page {
                number: 10_000_000 + r.below(70_000_000),
                ..plain(["How to ", h, "? - Stack Overflow", ""], "stackoverflow.com", "/questions/", one(h))
            }
        }
        3 => {
            let h = r.pick(HEADLINES);
            plain([h, " | The Guardian", "", ""], "www.theguardian.com", "/world/2024/", one(h))
        }
        4 => {
            let repo = r.pick(REPOS);
            Page { sep: b'/', lower: false, ..plain(["GitHub - ", repo, "", ""], "github.com", "/", one(repo)) }
        }
        5 => {
            let c = r.pick(CITIES);
            plain(
                ["Things to do in ", c.name, " | Lonely Planet", ""],
                "www.lonelyplanet.com",
                "/",
                [c.country, " ", c.name, ""],
            )
        }
        6 => {
            let t = r.pick(THINGS);
            plain(["The best ", t, " ", r.pick(YEARS)], "www.techradar.com", "/best/", one(t))
        }
        _ => {
            let t = r.pick(TOPICS);
            plain(["Learn ", t, " - ", r.pick(TOPIC_SUFFIXES)], "dev.to", "/", [t, " ", "guide", ""])
        }
    }
}

pub(super) fn page_url(o: &mut Obj<'_>, k: &str, p: &Page) {
    let b = o.key(k);
    b.push(b'"');
    page_href(b, p);
    b.push(b'"');
}

/// Appends the page's URL as it is (no quotes, no escaping): it holds only URL-safe characters,
/// so it can stand in a CSV field or an HTML attribute as well as in JSON.
pub(super) fn page_href(b: &mut Vec<u8>, p: &Page) {
    b.extend_from_slice(b"https://");
    b.extend_from_slice(p.host.as_bytes());
    b.extend_from_slice(p.path.as_bytes());
    if p.number != 0 {
        uint(b, p.number);
        b.push(b'/');
    }
    slug(b, &p.slug, p.sep, p.lower);
}

pub(super) fn search_query(r: &mut Rng) -> Text {
    match r.below(9) {
        0 => ["how to ", r.pick(HOWTO), "", ""],
        1 => ["best ", r.pick(THINGS), " ", r.pick(YEARS)],
        2 => [r.pick(THINGS), " reviews", "", ""],
        3 => [r.pick(CITIES).name, " weather", "", ""],
        4 => ["things to do in ", r.pick(CITIES).name, "", ""],
        5 => [r.pick(FOODS), " recipe", "", ""],
        6 => ["flights to ", r.pick(CITIES).name, "", ""],
        7 => ["what is ", r.pick(TOPICS), "", ""],
        _ => [r.pick(TOPICS), " ", r.pick(TOPIC_SUFFIXES), ""],
    }
}

pub(super) const CHANNELS: &[&str] = &[
    "Kitchen Table Science",
    "The Weekend Mechanic",
    "Pixel Pete",
    "Trail Running Diaries",
    "Cooking, Baking & More",
    "\"Retro\" Gaming Corner",
    "Slow Travel Films",
    "Rust in Production",
    "Garden Notes",
    "Daily Jazz Piano",
    "Urban Sketchers",
    "Budget Tech Reviews",
    "Mountain Weather Channel",
    "History in Five",
    "Calm Coding",
    "Bike Repair Basics",
    "The Night Sky",
    "Plant-Based Kitchen",
];

/// A channel's id, fixed per channel (it does not depend on the user): `UC` + 22 characters.
pub(super) fn channel_id(b: &mut Vec<u8>, channel: usize) {
    b.extend_from_slice(b"UC");
    random_chars(b, &mut Rng::new(mix(channel as u64 ^ 0x5943_4841_4E4E_454C)), 22, BASE64URL);
}

pub(super) const GAMES: &[&str] =
    &["Stardew Valley", "Minecraft", "Celeste", "Hollow Knight", "Factorio", "Mario Kart 8", "Tetris Effect", "Hades"];
pub(super) const VERDICTS: &[&str] =
    &["worth it?", "after 6 months", "the honest truth", "vs the competition", "unboxing"];
pub(super) const DURATIONS: &[&str] = &["10 minutes", "one video", "30 days", "an hour", "100 seconds"];

pub(super) fn video_title(r: &mut Rng) -> Text {
    match r.below(7) {
        0 => [r.pick(THINGS), " review: ", r.pick(VERDICTS), ""],
        1 => ["I tried making ", r.pick(FOODS), " from scratch", ""],
        2 => ["Learn ", r.pick(TOPICS), " in ", r.pick(DURATIONS)],
        3 => [r.pick(CITIES).name, " travel guide ", r.pick(YEARS), ""],
        4 => ["How to ", r.pick(HOWTO), "", ""],
        5 => [r.pick(GAMES), " gameplay - part ", r.pick(&["1", "2", "3", "4", "5", "6", "7", "8", "9"]), ""],
        _ => [r.pick(HEADLINES), " (explained)", "", ""],
    }
}

/// `"https://www.youtube.com/watch?v=<11 chars>"`.
pub(super) fn watch_url(o: &mut Obj<'_>, k: &str, r: &mut Rng, host: &str) {
    let b = o.key(k);
    b.extend_from_slice(b"\"https://");
    esc(b, host);
    b.extend_from_slice(b"/watch?v=");
    random_chars(b, r, 11, BASE64URL);
    b.push(b'"');
}

pub(super) const APPS: &[(&str, &str)] = &[
    ("Spotify: Music and Podcasts", "com.spotify.music"),
    ("WhatsApp Messenger", "com.whatsapp"),
    ("Duolingo: Language Lessons", "com.duolingo"),
    ("Google Maps", "com.google.android.apps.maps"),
    ("Strava: Run, Bike, Hike", "com.strava"),
    ("Signal Private Messenger", "org.thoughtcrime.securesms"),
    ("Firefox Fast & Private Browser", "org.mozilla.firefox"),
    ("Komoot: Hike, Bike & Run", "de.komoot.android"),
    ("Headspace: Meditation & Sleep", "com.getsomeheadspace.android"),
    ("Citymapper", "com.citymapper.app.release"),
    ("Stardew Valley", "com.chucklefish.stardewvalley"),
    ("Wikipedia", "org.wikipedia"),
    ("Google Photos", "com.google.android.apps.photos"),
    ("Pocket Casts", "au.com.shiftyjelly.pocketcasts"),
];

pub(super) const BRANDS: &[(&str, &str)] = &[
    ("Northwind Outdoor", "northwind.example"),
    ("Contoso Coffee", "contoso-coffee.example"),
    ("Fabrikam Shoes", "fabrikam.example"),
    ("Tailspin Travel", "tailspin.example"),
    ("Litware Audio", "litware.example"),
    ("Adventure Works Bikes", "adventure-works.example"),
    ("Woodgrove Bank", "woodgrove.example"),
    ("Proseware Software", "proseware.example"),
];
pub(super) const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "EUR", "USD"];

pub(super) const FIRST_NAMES: &[&str] =
    &["Alex", "Sam", "Maria", "Jonas", "Aiko", "Priya", "Lucas", "Fatima", "Noah", "Elena"];

pub(super) const LAST_NAMES: &[&str] =
    &["Smith", "García", "Müller", "Tanaka", "Okafor", "Kowalski", "Rossi", "Nguyen", "Silva", "O'Brien"];

pub(super) const WORDS: &[&str] = &[
    "dataport",
    "kubectl",
    "serde",
    "tokio",
    "Zürich",
    "shakshuka",
    "Kilimanjaro",
    "sqlite",
    "ripgrep",
    "axum",
    "gRPC",
    "focaccia",
];

pub(super) const CAMERAS: &[&str] = &["Front door", "Backyard", "Garage", "Living room", "Driveway", "Nursery"];

pub(super) const MOVIES: &[&str] = &[
    "The Long Summer",
    "Night Train to Lisbon",
    "Paper Moons",
    "The Cartographer",
    "Small Hours",
    "Harbour Lights",
    "A Quiet Orbit",
    "The Last Bakery",
    "Salt & Stone",
    "Northern Lines",
];

pub(super) const ARTISTS: &[&str] =
    &["The Paper Kites", "Nils Frahm", "Khruangbin", "Anoushka Shankar", "Bonobo", "Fleetwood Mac", "Rosalía"];

pub(super) const CHANNEL_DESCRIPTIONS: &[&str] = &[
    "Weekly videos about things I'm learning.",
    "Travel, food and the occasional bike repair.",
    "Slow, calm, hands-on tutorials.",
    "Reviews without sponsors.",
];

pub(super) const MESSAGES: &[&str] = &[
    "Great video, thanks!",
    "Which camera do you use?",
    "Watching from Lisbon 👋",
    "The part at 3:20 is gold.",
    "Can you do one on sourdough next?",
    "First time here, subscribed.",
    "This saved me hours.",
    "Does this still work in 2025?",
    "Love the editing \"style\".",
    "Line one.\nLine two.",
];

pub(super) const PROVIDERS: &[&str] =
    &["Netflix", "Prime Video", "Disney+", "Apple TV+", "YouTube Premium", "Max", "Mubi"];

pub(super) const REVIEW_SENTENCES: &[&str] = &[
    "Really good value for money.",
    "Exactly as described.",
    "Would recommend to friends.",
    "Took a while to arrive, but worth it.",
    "The battery could be better.",
    "Lovely atmosphere and great food.",
    "Service was slow on a busy night.",
    "Five stars, no notes.",
    "It's \"fine\", nothing special.",
    "Clean, quiet and central.",
    "Second visit and still impressed!",
    "Not for me, but well made.",
];

pub(super) const SONGS: &[&str] =
    &["Bloom", "Says", "White Gloves", "Love Letter", "Kerala", "Dreams", "Malamente", "Midnight Drive"];

pub(super) const YOUTUBE_ITEMS: &[&str] = &["Channel hoodie", "Enamel mug", "Sticker pack", "Poster (A2)", "Cap"];
