//! Groups the schema reference does not document (and groups of an operator's catalogue bound to
//! the emulator): `<last name segment>.json` in the group's folder, a JSON array of plausible
//! records `{id, time, …}` (SPEC §8.1), or NDJSON when the catalogue asks for it.

use super::*;

/// Writes the group's one file.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    let name = group.name.as_str();
    let flavor = Flavor::of(name);
    let last = name.rsplit('.').next().unwrap_or(name);
    let (file, layout) = if group.format == Format::Ndjson {
        (format!("{last}.ndjson"), FileLayout::ndjson())
    } else {
        (format!("{last}.json"), FileLayout::json_array())
    };
    x.records(&file, layout, all, |s, b| generic(flavor, &mut s.rng, s.time, b))
}

/// The record style of a group that has no special Google shape.
#[derive(Clone, Copy, Debug)]
pub(super) enum Flavor {
    /// title, url and a group-specific label.
    Link(&'static str, &'static [&'static str]),
    Alert,
    Autofill,
    Word,
    Extension,
    Setting(&'static [&'static str]),
    AliasedPlace,
    Route,
    Vehicle(bool),
    Contribution(&'static [&'static str]),
    PlaceMedia,
    QuestionAnswer,
    PlaceReview,
    ProductReview,
    MediaReview,
    /// A comment on a search result page.
    SearchComment,
    /// A comment under a video: the URL prefix to which an 11-character id is appended.
    Comment(&'static str),
    MediaTitle(&'static str),
    StreamingProvider,
    MyMap,
    CameraEvent,
    CameraFeature,
    CameraVideo,
    NestHome,
    Device(&'static [&'static str]),
    /// A purchase of one of the items from the merchant.
    Order(&'static [&'static str], Merchant),
    App(&'static str, &'static [&'static str]),
    PlaySubscription,
    Points,
    Promotion(&'static str),
    Address,
    Channel,
    Video(&'static str),
    Playlist(&'static str),
    Conversation,
    Music,
    Playable,
    Post,
    StreetView,
}

/// Who sold an [`Flavor::Order`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Merchant {
    Named(&'static str),
    /// A made-up local business.
    Place,
    /// A YouTube channel's shop.
    Channel,
}

impl Flavor {
    pub(super) fn of(group: &str) -> Self {
        match group {
            "alerts.subscriptions" => Self::Alert,
            "chrome.autofill" => Self::Autofill,
            "chrome.bookmarks" => Self::Link("folder", &["Bookmarks bar", "Other bookmarks", "Mobile bookmarks"]),
            "chrome.dictionary" => Self::Word,
            "chrome.extensions" => Self::Extension,
            "chrome.reading_list" => Self::Link("status", &["UNREAD", "READ"]),
            "chrome.settings" => Self::Setting(CHROME_SETTINGS),
            "discover.follows" => Self::Link("kind", &["Topic", "Publisher", "Team", "Place"]),
            "discover.likes" => Self::Link("source", &["Discover", "Google app", "Chrome new tab"]),
            "discover.not_interested" => {
                Self::Link("reason", &["Not interested in this story", "Not interested in this publisher"])
            }
            "maps.aliased_places" => Self::AliasedPlace,
            "maps.commute_routes" => Self::Route,
            "maps.commute_settings" => Self::Setting(COMMUTE_SETTINGS),
            "maps.ev_profile" => Self::Vehicle(true),
            "maps.vehicle_profile" => Self::Vehicle(false),
            "maps.factual_contributions" => Self::Contribution(FACTUAL_EDITS),
            "maps.offering_contributions" => Self::Contribution(OFFERING_EDITS),
            "maps.photos_videos" => Self::PlaceMedia,
            "maps.questions_answers" => Self::QuestionAnswer,
            "maps.reviews" => Self::PlaceReview,
            "mymaps.maps" => Self::MyMap,
            "nest.camera_event" => Self::CameraEvent,
            "nest.camera_feature" => Self::CameraFeature,
            "nest.camera_video" => Self::CameraVideo,
            "nest.store" => Self::Order(NEST_PRODUCTS, Merchant::Named("Google Store")),
            "nest.user" => Self::NestHome,
            "order_reserve.purchases_reservations" => Self::Order(RESERVATIONS, Merchant::Place),
            "pixel.device_data" => Self::Device(PIXELS),
            "play.devices" => Self::Device(PHONES),
            "play.grouping" => Self::App("group", &["Games", "Work", "Social", "Travel", "Health"]),
            "play.installs" => Self::App("device", PHONES),
            "play.library" => Self::App("type", &["APP", "APP", "GAME", "BOOK", "MOVIE"]),
            "play.playpoints" => Self::Points,
            "play.promotions" => Self::Promotion("PROMOTION"),
            "play.purchases" => Self::Order(PLAY_ITEMS, Merchant::Named("Google Play")),
            "play.redemptions" => Self::Promotion("GIFT_CARD"),
            "play.subscriptions" => Self::PlaySubscription,
            "play.usersettings" => Self::Setting(PLAY_SETTINGS),
            "saved.collections" => Self::Link("collection", &["Favourite places", "Want to go", "Recipes", "To read"]),
            "search_ugc.comments" => Self::SearchComment,
            "search_ugc.media.reviews_and_stars" => Self::MediaReview,
            "search_ugc.media.streaming_video_providers" => Self::StreamingProvider,
            "search_ugc.media.thumbs" => Self::MediaTitle("thumbs"),
            "search_ugc.media.watched" => Self::MediaTitle("watched"),
            "searchnotifications.settings" => Self::Setting(SEARCH_NOTIFICATION_SETTINGS),
            "searchnotifications.subscriptions" => Self::Link("frequency", &["DAILY", "WEEKLY", "AS_IT_HAPPENS"]),
            "shopping.addresses" => Self::Address,
            "shopping.reviews" => Self::ProductReview,
            "streetview.imagery" => Self::StreetView,
            "youtube.channel" => Self::Channel,
            "youtube.clips" => Self::Video("public"),
            "youtube.comments" => Self::Comment("https://www.youtube.com/watch?v="),
            "youtube.conversations" => Self::Conversation,
            "youtube.live_chat" => Self::Comment("https://www.youtube.com/live/"),
            "youtube.music" => Self::Music,
            "youtube.playable" => Self::Playable,
            "youtube.posts" => Self::Post,
            "youtube.private_playlists" => Self::Playlist("private"),
            "youtube.private_videos" => Self::Video("private"),
            "youtube.public_playlists" => Self::Playlist("public"),
            "youtube.public_videos" => Self::Video("public"),
            "youtube.shopping" => Self::Order(YOUTUBE_ITEMS, Merchant::Channel),
            "youtube.unlisted_playlists" => Self::Playlist("unlisted"),
            "youtube.unlisted_videos" => Self::Video("unlisted"),
            _ => Self::Link("source", &["dataport emulator"]),
        }
    }
}

pub(super) const CHROME_SETTINGS: &[&str] = &[
    "browser.show_home_button",
    "bookmark_bar.show_on_all_tabs",
    "search.suggest_enabled",
    "safebrowsing.enhanced",
    "translate.enabled",
    "autofill.profile_enabled",
    "download.prompt_for_download",
    "browser.clear_data.on_exit",
];
pub(super) const COMMUTE_SETTINGS: &[&str] =
    &["commute_days", "preferred_departure_time", "travel_mode", "notifications_enabled", "avoid_tolls"];
pub(super) const PLAY_SETTINGS: &[&str] = &[
    "auto_update_apps",
    "parental_controls",
    "purchase_authentication",
    "app_download_preference",
    "theme",
    "notifications.updates",
];
pub(super) const SEARCH_NOTIFICATION_SETTINGS: &[&str] =
    &["sports_scores", "weather_alerts", "trending_searches", "flight_updates", "package_tracking"];
pub(super) const SETTING_VALUES: &[&str] = &["true", "false", "true", "WIFI_ONLY", "ALWAYS", "NEVER", "SYSTEM_DEFAULT"];
pub(super) const FACTUAL_EDITS: &[&str] = &[
    "Added opening hours",
    "Corrected the address",
    "Marked as permanently closed",
    "Added a phone number",
    "Updated the website",
    "Moved the map pin",
];
pub(super) const OFFERING_EDITS: &[&str] = &[
    "Added a menu item",
    "Marked as offering vegan options",
    "Added a wheelchair-accessible entrance",
    "Marked as accepting card payments",
    "Added outdoor seating",
];
pub(super) const CONTRIBUTION_STATES: &[&str] = &["PUBLISHED", "PUBLISHED", "PENDING", "NOT_APPLIED"];
pub(super) const NEST_PRODUCTS: &[&str] =
    &["Nest Learning Thermostat", "Nest Cam (battery)", "Nest Doorbell", "Nest Wifi Pro", "Nest Hub (2nd gen)"];
pub(super) const RESERVATIONS: &[&str] =
    &["Table for 2", "Table for 4", "Haircut", "Takeaway order", "Museum tickets (2 adults)", "Yoga class"];
pub(super) const PLAY_ITEMS: &[&str] =
    &["Stardew Valley", "Monument Valley 2", "Google One 100 GB", "500 gems", "Premium upgrade", "Audiobook: Dune"];
pub(super) const YOUTUBE_ITEMS: &[&str] = &["Channel hoodie", "Enamel mug", "Sticker pack", "Poster (A2)", "Cap"];
pub(super) const PIXELS: &[&str] =
    &["Pixel 7a", "Pixel 8", "Pixel 8 Pro", "Pixel 9", "Pixel 9 Pro Fold", "Pixel Tablet"];
pub(super) const PHONES: &[&str] = &[
    "Google Pixel 8",
    "Samsung Galaxy S24",
    "OnePlus 12",
    "Fairphone 5",
    "Google Pixel Tablet",
    "Nokia G42",
    "Xiaomi 14",
];
pub(super) const ORDER_STATES: &[&str] = &["COMPLETED", "COMPLETED", "COMPLETED", "CONFIRMED", "CANCELLED", "REFUNDED"];
pub(super) const CAMERAS: &[&str] = &["Front door", "Backyard", "Garage", "Living room", "Driveway", "Nursery"];
pub(super) const CAMERA_EVENTS: &[&str] =
    &["PERSON", "MOTION", "MOTION", "SOUND", "PACKAGE_DELIVERED", "ANIMAL", "VEHICLE"];
pub(super) const CAMERA_FEATURES: &[&str] =
    &["Familiar face detection", "Activity zones", "Sightline", "Night vision", "Audio recording"];
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
pub(super) const EXTENSIONS: &[&str] = &[
    "uBlock Origin",
    "Bitwarden Password Manager",
    "Dark Reader",
    "Google Translate",
    "Grammarly",
    "React Developer Tools",
    "Privacy Badger",
    "Tampermonkey",
];
pub(super) const FIRST_NAMES: &[&str] =
    &["Alex", "Sam", "Maria", "Jonas", "Aiko", "Priya", "Lucas", "Fatima", "Noah", "Elena"];
pub(super) const LAST_NAMES: &[&str] =
    &["Smith", "García", "Müller", "Tanaka", "Okafor", "Kowalski", "Rossi", "Nguyen", "Silva", "O'Brien"];
pub(super) const ALIASES: &[&str] = &["Home", "Work", "Gym", "Mum's", "School", "Parents", "Office"];
pub(super) const TRAVEL_MODES: &[&str] = &["DRIVE", "TRANSIT", "BICYCLE", "WALK", "TWO_WHEELER"];
pub(super) const CAR_MAKES: &[(&str, &[&str])] = &[
    ("Volkswagen", &["ID.3", "Golf", "Polo"]),
    ("Tesla", &["Model 3", "Model Y"]),
    ("Renault", &["Zoe", "Clio", "Megane E-Tech"]),
    ("Toyota", &["Corolla", "Yaris", "bZ4X"]),
    ("Kia", &["EV6", "Niro"]),
];
pub(super) const PLUGS: &[&str] = &["CCS_COMBO_2", "TYPE_2", "CHADEMO", "J1772", "NACS"];
pub(super) const ENGINES: &[&str] = &["PETROL", "DIESEL", "HYBRID", "PLUG_IN_HYBRID", "ELECTRIC"];
pub(super) const QUESTIONS: &[&str] = &[
    "Is there parking nearby?",
    "Do they take reservations?",
    "Is it dog friendly?",
    "Are there vegan options?",
    "Is it wheelchair accessible?",
    "Is it open on Sundays?",
];
pub(super) const ANSWERS: &[&str] = &[
    "Yes, there's a car park behind the building.",
    "Only for groups of six or more.",
    "Yes, they even have water bowls.",
    "A few, ask for the seasonal menu.",
    "Yes, step-free entrance on the side.",
    "Mornings only.",
];
pub(super) const PROVIDERS: &[&str] =
    &["Netflix", "Prime Video", "Disney+", "Apple TV+", "YouTube Premium", "Max", "Mubi"];
pub(super) const CHANNEL_DESCRIPTIONS: &[&str] = &[
    "Weekly videos about things I'm learning.",
    "Travel, food and the occasional bike repair.",
    "Slow, calm, hands-on tutorials.",
    "Reviews without sponsors.",
];
pub(super) const PLAYLISTS: &[&str] = &[
    "Watch later",
    "Cooking",
    "Workout mix",
    "Rust talks",
    "Road trip",
    "Kids' songs",
    "Favourites",
    "Lo-fi for focus",
];
pub(super) const ARTISTS: &[&str] =
    &["The Paper Kites", "Nils Frahm", "Khruangbin", "Anoushka Shankar", "Bonobo", "Fleetwood Mac", "Rosalía"];
pub(super) const SONGS: &[&str] =
    &["Bloom", "Says", "White Gloves", "Love Letter", "Kerala", "Dreams", "Malamente", "Midnight Drive"];
pub(super) const MY_MAP_KINDS: &[&str] = &[" trip", " food tour", " running routes", " weekend", " with kids"];

pub(super) fn generic(f: Flavor, r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.id(r);
    o.time("time", t);
    match f {
        Flavor::Link(label, values) => {
            let pg = page(r);
            o.text("title", &pg.title);
            page_url(&mut o, "url", &pg);
            o.str(label, r.pick(values));
        }
        Flavor::Alert => {
            let q = search_query(r);
            o.text("query", &q);
            o.str("how_often", r.pick(&["As-it-happens", "At most once a day", "At most once a week"]));
            o.str("sources", r.pick(&["Automatic", "News", "Blogs", "Web", "Video"]));
            o.str("language", r.pick(&["English", "German", "French", "Spanish"]));
            o.str("region", r.pick(CITIES).country);
        }
        Flavor::Autofill => {
            let field = r.pick(&["full_name", "email", "city", "company", "street_address"]);
            o.str("name", field);
            let first = r.pick(FIRST_NAMES);
            let last = r.pick(LAST_NAMES);
            match field {
                "full_name" => o.text("value", &[first, " ", last, ""]),
                "email" => {
                    let b = o.key("value");
                    b.push(b'"');
                    email_part(b, first);
                    b.push(b'.');
                    email_part(b, last);
                    b.extend_from_slice(b"@example.com\"");
                }
                "city" => o.str("value", r.pick(CITIES).name),
                "company" => o.str("value", r.pick(BRANDS).0),
                _ => {
                    let b = o.key("value");
                    b.push(b'"');
                    uint(b, 1 + r.below(220));
                    b.push(b' ');
                    esc(b, r.pick(STREETS));
                    b.push(b'"');
                }
            }
            o.int("count", r.range(1, 120));
        }
        Flavor::Word => {
            o.str("word", r.pick(WORDS));
            o.str("language", r.pick(&["en-GB", "en-US", "de-DE"]));
        }
        Flavor::Extension => {
            o.str("name", r.pick(EXTENSIONS));
            o.random_id("extension_id", r, "", 32, b"abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghijklmnop");
            let b = o.key("version");
            b.push(b'"');
            uint(b, r.below(30));
            b.push(b'.');
            uint(b, r.below(20));
            b.push(b'.');
            uint(b, r.below(200));
            b.push(b'"');
            o.boolean("enabled", r.chance(85));
            o.boolean("incognito_enabled", r.chance(20));
        }
        Flavor::Setting(names) => {
            o.str("name", r.pick(names));
            o.str("value", r.pick(SETTING_VALUES));
        }
        Flavor::AliasedPlace => {
            let pl = place(r);
            o.str("alias", r.pick(ALIASES));
            address(&mut o, "address", &pl);
            coordinate(&mut o, "latitude", pl.lat);
            coordinate(&mut o, "longitude", pl.lng);
        }
        Flavor::Route => {
            let from = place(r);
            let to = place(r);
            address(&mut o, "origin", &from);
            address(&mut o, "destination", &to);
            o.str("travel_mode", r.pick(TRAVEL_MODES));
            let b = o.key("departure_time");
            let minutes = 6 * 60 + r.below(4 * 12) * 5;
            b.extend_from_slice(&[
                b'"',
                b'0' + (minutes / 600) as u8,
                b'0' + (minutes / 60 % 10) as u8,
                b':',
                b'0' + (minutes % 60 / 10) as u8,
                b'0' + (minutes % 10) as u8,
                b'"',
            ]);
        }
        Flavor::Vehicle(electric) => {
            let (make, models) = r.pick(CAR_MAKES);
            o.str("make", make);
            o.str("model", r.pick(models));
            if electric {
                o.str("plug_type", r.pick(PLUGS));
                o.int("battery_kwh", r.range(40, 100));
            } else {
                o.str("engine_type", r.pick(ENGINES));
            }
        }
        Flavor::Contribution(edits) => {
            let pl = place(r);
            o.text("place", &pl.name);
            address(&mut o, "address", &pl);
            o.str("edit", r.pick(edits));
            o.str("status", r.pick(CONTRIBUTION_STATES));
        }
        Flavor::PlaceMedia => {
            let pl = place(r);
            o.text("place", &pl.name);
            o.random_id("url", r, "https://lh3.googleusercontent.com/p/AF1Qip", 38, BASE64URL);
            o.str("media_type", r.pick(&["PHOTO", "PHOTO", "PHOTO", "VIDEO"]));
            o.int("views", r.range(0, 25_000));
        }
        Flavor::QuestionAnswer => {
            let pl = place(r);
            let q = r.below(QUESTIONS.len() as u64) as usize;
            o.text("place", &pl.name);
            o.str("question", QUESTIONS[q]);
            o.str("answer", ANSWERS[q]);
        }
        Flavor::PlaceReview => {
            let pl = place(r);
            o.text("place", &pl.name);
            address(&mut o, "address", &pl);
            o.int("rating", r.range(1, 5));
            o.text("text", &[r.pick(REVIEW_SENTENCES), " ", r.pick(REVIEW_SENTENCES), ""]);
        }
        Flavor::ProductReview => {
            let thing = r.pick(THINGS);
            o.text("product", &[r.pick(BRANDS).0, " ", thing, ""]);
            o.int("rating", r.range(1, 5));
            o.text("text", &[r.pick(REVIEW_SENTENCES), " ", r.pick(REVIEW_SENTENCES), ""]);
        }
        Flavor::MediaReview => {
            o.str("title", r.pick(MOVIES));
            o.str("media_type", r.pick(&["MOVIE", "TV_SHOW"]));
            o.int("stars", r.range(1, 5));
            o.text("review", &[r.pick(REVIEW_SENTENCES), "", "", ""]);
        }
        Flavor::SearchComment => {
            o.str("text", r.pick(REVIEW_SENTENCES));
            o.url_q("url", "https://www.google.com/search?q=", &search_query(r), "");
        }
        Flavor::Comment(url_prefix) => {
            o.str("text", r.pick(MESSAGES));
            o.random_id("url", r, url_prefix, 11, BASE64URL);
        }
        Flavor::MediaTitle(kind) => {
            o.str("title", r.pick(MOVIES));
            o.str("media_type", r.pick(&["MOVIE", "TV_SHOW"]));
            if kind == "thumbs" {
                o.str("thumbs", r.pick(&["UP", "UP", "DOWN"]));
            } else {
                o.str("provider", r.pick(PROVIDERS));
            }
        }
        Flavor::StreamingProvider => {
            o.str("provider", r.pick(PROVIDERS));
            o.boolean("subscribed", r.chance(70));
        }
        Flavor::MyMap => {
            let c = r.pick(CITIES);
            o.text("title", &[c.name, r.pick(MY_MAP_KINDS), " ", r.pick(YEARS)]);
            o.text("description", &["Places to visit in ", c.name, ", ", c.country]);
            o.random_id("url", r, "https://www.google.com/maps/d/edit?mid=1", 32, BASE64URL);
            o.int("places", r.range(1, 60));
        }
        Flavor::CameraEvent => {
            o.str("camera", r.pick(CAMERAS));
            o.str("event_type", r.pick(CAMERA_EVENTS));
            o.int("duration_seconds", r.range(3, 180));
        }
        Flavor::CameraFeature => {
            o.str("camera", r.pick(CAMERAS));
            o.str("feature", r.pick(CAMERA_FEATURES));
            o.boolean("enabled", r.chance(60));
        }
        Flavor::CameraVideo => {
            o.str("camera", r.pick(CAMERAS));
            o.random_id("clip_url", r, "https://home.google.com/clips/", 24, BASE64URL);
            o.int("duration_seconds", r.range(5, 600));
        }
        Flavor::NestHome => {
            let pl = place(r);
            o.str("home", r.pick(&["Home", "Beach house", "Cabin", "Flat", "Parents' house"]));
            o.str("role", r.pick(&["OWNER", "MEMBER", "MEMBER"]));
            address(&mut o, "address", &pl);
        }
        Flavor::Device(models) => {
            o.str("model", r.pick(models));
            let b = o.key("android_version");
            b.push(b'"');
            uint(b, r.range(12, 15) as u64);
            b.push(b'"');
            o.random_id("device_id", r, "", 16, b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
            o.int("battery_health_percent", r.range(70, 100));
        }
        Flavor::Order(items, merchant) => {
            o.str("item", r.pick(items));
            o.price(r, 99, 40_000);
            o.str("status", r.pick(ORDER_STATES));
            match merchant {
                Merchant::Named(m) => o.str("merchant", m),
                Merchant::Place => o.text("merchant", &place(r).name),
                Merchant::Channel => o.str("merchant", r.pick(CHANNELS)),
            }
        }
        Flavor::App(label, values) => {
            let (title, package) = r.pick(APPS);
            o.str("title", title);
            o.str("package", package);
            o.str(label, r.pick(values));
        }
        Flavor::PlaySubscription => {
            let (title, package) = r.pick(APPS);
            o.text("title", &[title, " Premium", "", ""]);
            o.str("package", package);
            o.str("state", r.pick(&["ACTIVE", "ACTIVE", "CANCELLED", "EXPIRED"]));
            o.price(r, 99, 12_000);
        }
        Flavor::Points => {
            o.int("points", r.range(1, 500));
            o.str("reason", r.pick(&["Purchase", "Weekly prize", "Level-up bonus", "Promotion", "Redeemed"]));
            o.str("level", r.pick(&["Bronze", "Silver", "Gold", "Platinum"]));
        }
        Flavor::Promotion(kind) => {
            o.str("kind", kind);
            o.random_id("code", r, "", 16, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGHJKLMNPQRSTUVWXYZ23456789");
            o.text("title", &[r.pick(&["1 month free of ", "€5 off ", "Bonus for "]), r.pick(APPS).0, "", ""]);
            o.price(r, 100, 5_000);
        }
        Flavor::Address => {
            let pl = place(r);
            o.text("name", &[r.pick(FIRST_NAMES), " ", r.pick(LAST_NAMES), ""]);
            address(&mut o, "address", &pl);
            o.str("country_code", pl.city.code);
            let b = o.key("phone");
            b.extend_from_slice(b"\"+");
            uint(b, 1 + r.below(98));
            b.push(b' ');
            uint(b, 100_000_000 + r.below(900_000_000));
            b.push(b'"');
        }
        Flavor::Channel => {
            let ch = r.below(CHANNELS.len() as u64) as usize;
            o.str("title", CHANNELS[ch]);
            let b = o.key("url");
            b.extend_from_slice(b"\"https://www.youtube.com/channel/");
            channel_id(b, ch);
            b.push(b'"');
            o.str("description", r.pick(CHANNEL_DESCRIPTIONS));
            o.str("country", r.pick(CITIES).code);
        }
        Flavor::Video(privacy) => {
            o.text("title", &video_title(r));
            watch_url(&mut o, "url", r, "www.youtube.com");
            o.str("privacy", privacy);
            o.int("duration_seconds", r.range(15, 3600));
        }
        Flavor::Playlist(visibility) => {
            o.str("title", r.pick(PLAYLISTS));
            o.random_id("url", r, "https://www.youtube.com/playlist?list=PL", 32, BASE64URL);
            o.str("visibility", visibility);
            o.int("video_count", r.range(1, 250));
        }
        Flavor::Conversation => {
            o.text("participant", &[r.pick(FIRST_NAMES), " ", r.pick(LAST_NAMES), ""]);
            o.str("text", r.pick(MESSAGES));
            watch_url(&mut o, "shared_video", r, "www.youtube.com");
        }
        Flavor::Music => {
            o.str("title", r.pick(SONGS));
            o.str("artist", r.pick(ARTISTS));
            watch_url(&mut o, "url", r, "music.youtube.com");
            o.str("action", r.pick(&["LIKED", "ADDED_TO_LIBRARY", "PLAYED"]));
        }
        Flavor::Playable => {
            o.str("title", r.pick(GAMES));
            o.random_id("url", r, "https://www.youtube.com/playables/", 11, BASE64URL);
            o.int("high_score", r.range(0, 1_000_000));
        }
        Flavor::Post => {
            o.text("text", &[r.pick(MESSAGES), " ", r.pick(REVIEW_SENTENCES), ""]);
            o.random_id("url", r, "https://www.youtube.com/post/Ugk", 23, BASE64URL);
            o.int("likes", r.range(0, 5000));
        }
        Flavor::StreetView => {
            let pl = place(r);
            o.random_id("url", r, "https://www.google.com/maps/@?api=1&map_action=pano&pano=", 22, BASE64URL);
            coordinate(&mut o, "latitude", pl.lat);
            coordinate(&mut o, "longitude", pl.lng);
            o.int("views", r.range(0, 100_000));
        }
    }
    o.end();
}
