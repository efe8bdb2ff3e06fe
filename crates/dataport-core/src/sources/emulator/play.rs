//! Google Play Store (`play.*`), Nest (`nest.*`), Google Shopping (`shopping.*`), Order and
//! Reserve (`order_reserve.*`) and Pixel (`pixel.*`), after Google's schema reference:
//! <https://developers.google.com/data-portability/schema-reference/play>, `…/nest`,
//! `…/shopping`, `…/my_orders` and `…/pixel_telemetry`.
//!
//! None of these pages names a file. Where Google Takeout's files are known (from open-source
//! importers that read real exports) their names and shapes are used, as each section says; where
//! nothing is known, a plausible JSON array in the product's folder, marked as a guess.
//!
//! Per-account constants (the Play country, the devices, the Nest cameras, the user's name) are
//! drawn from the subject alone, so that every group of one account agrees on them.

use std::fmt::Write as _;

use super::*;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Writes the group's files.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    let a = Account::of(x.request.subject);
    let a = &a;
    match group.name.as_str() {
        // ---- Google Play Store: `Google Play Store/<Name>.json`, a JSON array of one-key wrappers.
        //
        // Installs: https://developers.google.com/data-portability/schema-reference/play
        // ("Installs": doc, deviceAttribute, firstInstallationTime, lastUpdateTime); file and
        // wrapper as Takeout has them (`Installs.json`, `[{"install": {...}}]`; google_takeout_parser).
        "play.installs" => {
            x.records("Installs.json", FileLayout::json_array(), all, |s, b| play_install(&mut s.rng, s.time, a, b))
        }
        // Library: …/schema-reference/play ("Library": doc, acquisitionTime); Takeout
        // `Library.json`, `[{"libraryDoc": {...}}]` (ALEAPP `playstore_library`).
        "play.library" => {
            x.records("Library.json", FileLayout::json_array(), all, |s, b| play_library(&mut s.rng, s.time, b))
        }
        // Purchases: …/schema-reference/play ("Purchases": doc, price, state, payment method,
        // time; only `doc` was readable). Takeout writes every purchase twice: `Purchase
        // History.json` `[{"purchaseHistory": {...}}]` (ALEAPP) and `Order History.json`
        // `[{"orderHistory": {...}}]` (a Go tool, a Dart parser): the same slots, the same purchase.
        "play.purchases" => {
            x.records("Purchase History.json", FileLayout::json_array(), all, |s, b| {
                purchase_history(&mut s.rng, s.time, a, b)
            })?;
            x.records("Order History.json", FileLayout::json_array(), all, |s, b| {
                order_history(&mut s.rng, s.time, a, b)
            })
        }
        // Subscriptions: the page's table was not readable; Takeout `Subscriptions.json`,
        // `[{"subscription": {doc, renewalDate, expirationDate, state, pricing[]}}]` (ALEAPP).
        "play.subscriptions" => x.records("Subscriptions.json", FileLayout::json_array(), all, |s, b| {
            play_subscription(&mut s.rng, s.time, a, b)
        }),
        // Devices: the page's table was not readable; Takeout `Devices.json`,
        // `[{"device": {mostRecentData{…}, deviceRegistrationTime, …}}]` (ALEAPP `playstore_devices`).
        "play.devices" => {
            x.records("Devices.json", FileLayout::json_array(), all, |s, b| play_device(&mut s.rng, s.time, a, b))
        }
        // Redemptions: …/schema-reference/play ("Redemptions": acquisition, device, userCountry,
        // ipCountry, billingCountry, status, redemptionChangeTime, formattedMoney,
        // moneyExpiredTime). Takeout names the file `Redemption History.json`
        // (google_takeout_parser); its wrapper key is a guess.
        "play.redemptions" => x.records("Redemption History.json", FileLayout::json_array(), all, |s, b| {
            play_redemption(&mut s.rng, s.time, a, b)
        }),
        // Promotions: fields not readable; Takeout names `Promotion History.json`
        // (google_takeout_parser). Wrapper and fields are guesses.
        "play.promotions" => x.records("Promotion History.json", FileLayout::json_array(), all, |s, b| {
            play_promotion(&mut s.rng, s.time, a, b)
        }),
        // Play Points ("membership and transaction history", Page Summary): no file known; guess.
        "play.playpoints" => x.records("Play Points History.json", FileLayout::json_array(), all, |s, b| {
            play_points(&mut s.rng, s.time, b)
        }),
        // Grouping tags ("created by app developers"): no file known; guess, after the Play
        // Grouping API's `Tag` {key, booleanValue | int64Value | stringValue | timeValue}.
        "play.grouping" => {
            x.records("Grouping Tags.json", FileLayout::json_array(), all, |s, b| play_grouping(&mut s.rng, s.time, b))
        }
        // User settings: one dashboard parser looks for `Play Settings.json`; fields are a guess.
        "play.usersettings" => x.records("Play Settings.json", FileLayout::json_array(), all, |s, b| {
            play_setting(&mut s.rng, s.time, a, b)
        }),

        // ---- Nest: https://developers.google.com/data-portability/schema-reference/nest lists
        // only the groups and their formats (camera_event "JSON, MP4, JPG", camera_video "MP4",
        // the others "JSON"); no fields. Takeout keeps camera media in
        // `Nest/camera/<CAMERA_ID>/video/<YYYY-MM-DD>/<YYYY_MM_DD_…>.mp4` (a mover script);
        // everything else here is a guess in that layout.
        "nest.camera_event" => camera_events(x, a),
        "nest.camera_video" => camera_videos(x, a),
        "nest.camera_feature" => {
            for c in 0..a.cameras() {
                let cam = a.camera(c);
                let path = format!("camera/{}/features.json", cam.id());
                x.records(
                    &path,
                    FileLayout::json_array(),
                    |s| a.camera_of(s) == c,
                    |s, b| camera_feature(&mut s.rng, s.time, &cam, b),
                )?;
            }
            Ok(())
        }
        // Nest Store: "saved payment details including contact information, … order history, and
        // subscription information" (the page's row): three guessed files.
        "nest.store" => {
            x.records(
                "store/orders.json",
                FileLayout::json_array(),
                |s| s.pick < 60,
                |s, b| nest_order(&mut s.rng, s.time, a, b),
            )?;
            x.records(
                "store/subscriptions.json",
                FileLayout::json_array(),
                |s| (60..80).contains(&s.pick),
                |s, b| nest_subscription(&mut s.rng, s.time, a, b),
            )?;
            x.records(
                "store/payment_methods.json",
                FileLayout::json_array(),
                |s| s.pick >= 80,
                |s, b| nest_payment_method(&mut s.rng, s.time, a, b),
            )
        }
        // Nest user: "name, email address, and profile picture, along with details about their
        // associated homes and devices" (the page's row): one guessed object whose `devices` are
        // the records.
        "nest.user" => {
            let layout = FileLayout::wrapped(&nest_user_head(a), "]}");
            x.records("user.json", layout, all, |s, b| nest_device(&mut s.rng, s.time, a, b))
        }

        // ---- Google Shopping: https://developers.google.com/data-portability/schema-reference/shopping
        // Reviews: "Product Reviews data" (creation_time, title, comment, rating) and "Merchant
        // Reviews data" (creation_time, comment, rating), CSV, in Takeout's folders
        // (`Product Reviews/`, `Merchant Reviews/`, Magnet CTF 2021 listing).
        "shopping.reviews" => {
            x.records(
                "Product Reviews/Product Reviews.csv",
                FileLayout::csv("creation_time,title,comment,rating"),
                |s| s.pick < 60,
                |s, b| product_review(&mut s.rng, s.time, b),
            )?;
            x.records(
                "Merchant Reviews/Merchant Reviews.csv",
                FileLayout::csv("creation_time,comment,rating"),
                |s| s.pick >= 60,
                |s, b| merchant_review(&mut s.rng, s.time, b),
            )
        }
        // Addresses: "shipping information like name, address, and phone number" (Page Summary);
        // no format or fields documented. Takeout's folder `Addresses/`; CSV like the reviews
        // (guess).
        "shopping.addresses" => x.records(
            "Addresses/Addresses.csv",
            FileLayout::csv("name,street_address,city,postal_code,country_code,phone_number"),
            all,
            |s, b| shipping_address(&mut s.rng, b),
        ),

        // ---- Purchases & Reservations:
        // https://developers.google.com/data-portability/schema-reference/my_orders ("Purchases":
        // customer.email, merchantOrderId, creationTime, orderStatus, transactionMerchant.name,
        // lineItem, …; "Reservations": only the Page Summary). Takeout writes one JSON object per
        // file: `Reservations/action_<id>.json` (a DuckDB ingest of a real export) and one file per
        // purchase (a parser; the name `Purchases/order_<id>.json` is a guess).
        "order_reserve.purchases_reservations" => {
            x.files(
                FileLayout::wrapped("", ""),
                |s| s.pick < 60,
                |s, p| {
                    let _ = write!(p, "Purchases/order_{}.json", order_number(&mut s.rng));
                },
                |s, _, b| order_purchase(&mut s.rng, s.time, a, b),
            )?;
            x.files(
                FileLayout::wrapped("", ""),
                |s| s.pick >= 60,
                |s, p| {
                    let _ = write!(p, "Reservations/action_{}.json", order_number(&mut s.rng));
                },
                |s, _, b| reservation(&mut s.rng, s.time, b),
            )
        }

        // ---- Pixel: https://developers.google.com/data-portability/schema-reference/pixel_telemetry
        // ("Usage and diagnostic data from eligible devices"; no format, no fields): a guess.
        "pixel.device_data" => {
            x.records("device_data.json", FileLayout::json_array(), all, |s, b| pixel_day(&mut s.rng, s.time, a, b))
        }
        _ => generic::export(group, x),
    }
}

// ---------------------------------------------------------------------------------------------
// The account: per-subject constants shared by every group.

#[derive(Clone, Copy, Debug)]
struct Country {
    code: &'static str,
    locale: &'static str,
    carriers: &'static [&'static str],
}

const fn country(code: &'static str, locale: &'static str, carriers: &'static [&'static str]) -> Country {
    Country { code, locale, carriers }
}

/// Google Play countries of accounts.
const COUNTRIES: &[Country] = &[
    country("US", "en_US", &["Verizon", "T-Mobile", "AT&T"]),
    country("GB", "en_GB", &["EE", "Vodafone UK", "O2 - UK", "Three"]),
    country("DE", "de_DE", &["Telekom.de", "Vodafone.de", "o2 - de"]),
    country("FR", "fr_FR", &["Orange F", "SFR", "Free"]),
    country("ES", "es_ES", &["Movistar", "Vodafone ES", "Orange"]),
    country("IT", "it_IT", &["TIM", "Vodafone IT", "WINDTRE"]),
    country("NL", "nl_NL", &["KPN", "Vodafone NL", "Odido"]),
    country("CA", "en_CA", &["Rogers", "Bell", "TELUS"]),
    country("AU", "en_AU", &["Telstra", "Optus", "Vodafone AU"]),
    country("IN", "en_IN", &["Jio", "airtel", "Vi India"]),
    country("BR", "pt_BR", &["VIVO", "Claro BR", "TIM BR"]),
    country("JP", "ja_JP", &["docomo", "au", "SoftBank"]),
];

/// The currency of a country: ISO code, the symbol Google Play prefixes, and a factor that turns
/// a euro-ish price into a plausible local one.
fn currency(code: &str) -> (&'static str, &'static str, u64) {
    match code {
        "US" => ("USD", "$", 1),
        "GB" => ("GBP", "£", 1),
        "CA" => ("CAD", "CA$", 1),
        "AU" => ("AUD", "A$", 1),
        "IN" => ("INR", "₹", 80),
        "BR" => ("BRL", "R$", 5),
        "JP" => ("JPY", "¥", 150),
        "KR" => ("KRW", "₩", 1300),
        "MX" => ("MXN", "MX$", 17),
        "AR" => ("ARS", "ARS ", 900),
        "SG" => ("SGD", "S$", 1),
        "ZA" => ("ZAR", "R", 18),
        "KE" => ("KES", "KSh", 130),
        "CH" => ("CHF", "CHF ", 1),
        "SE" => ("SEK", "SEK ", 10),
        "PL" => ("PLN", "PLN ", 4),
        _ => ("EUR", "€", 1),
    }
}

/// A phone or tablet as Google Play records it.
#[derive(Clone, Copy, Debug)]
struct Phone {
    manufacturer: &'static str,
    /// `modelName` / `model`.
    model: &'static str,
    /// The device's code name (`deviceName`).
    device: &'static str,
    product: &'static str,
    /// `deviceDisplayName`.
    display: &'static str,
    memory_gb: u64,
    sdk: i64,
    cellular: bool,
}

const fn phone(
    manufacturer: &'static str,
    model: &'static str,
    device: &'static str,
    product: &'static str,
    display: &'static str,
    memory_gb: u64,
    sdk: i64,
) -> Phone {
    Phone { manufacturer, model, device, product, display, memory_gb, sdk, cellular: true }
}

const PHONES: &[Phone] = &[
    phone("Google", "Pixel 8", "shiba", "shiba", "Google Pixel 8", 8, 34),
    phone("Google", "Pixel 6a", "bluejay", "bluejay", "Google Pixel 6a", 6, 33),
    phone("samsung", "SM-S921B", "e1s", "e1sxeea", "samsung Galaxy S24", 8, 34),
    phone("samsung", "SM-A546B", "a54x", "a54xnseea", "samsung Galaxy A54 5G", 6, 34),
    phone("OnePlus", "CPH2581", "OP5913L1", "CPH2581EEA", "OnePlus 12", 12, 34),
    phone("Fairphone", "FP5", "FP5", "FP5", "Fairphone 5", 8, 33),
    phone("motorola", "moto g(7) play", "channel", "channel_retail", "motorola moto g(7) play", 2, 29),
    phone("Xiaomi", "23127PN0CG", "houji", "houji_global", "Xiaomi 14", 12, 34),
    Phone {
        cellular: false,
        ..phone("Google", "Pixel Tablet", "tangorpro", "tangorpro", "Google Pixel Tablet", 8, 34)
    },
];

/// A Pixel phone: model, code name.
const PIXELS: &[(&str, &str)] = &[
    ("Pixel 6a", "bluejay"),
    ("Pixel 7a", "lynx"),
    ("Pixel 8", "shiba"),
    ("Pixel 8 Pro", "husky"),
    ("Pixel 9", "tokay"),
    ("Pixel 9 Pro Fold", "comet"),
];
/// Android version and a build of it.
const PIXEL_BUILDS: &[(&str, &str)] = &[
    ("14", "UQ1A.240205.004"),
    ("14", "AP2A.240805.005"),
    ("15", "AP4A.250105.002"),
    ("15", "BP1A.250305.019"),
    ("16", "BP2A.250605.031"),
];

/// A camera of the account.
#[derive(Clone, Copy, Debug)]
struct Camera {
    id: u64,
    name: &'static str,
}

impl Camera {
    /// 16 upper-case hex digits, as Nest device ids look in Takeout paths.
    fn id(&self) -> String {
        format!("{:016X}", self.id)
    }
}

#[derive(Clone, Copy, Debug)]
struct Account {
    key: u64,
    first: &'static str,
    last: &'static str,
    country: Country,
}

impl Account {
    fn of(subject: &str) -> Self {
        let key = timeline_key(0, subject, "account");
        let mut r = Rng::new(key);
        Self { key, first: r.pick(FIRST_NAMES), last: r.pick(LAST_NAMES), country: r.pick(COUNTRIES) }
    }

    /// A per-account draw, the same whatever the group.
    fn draw(&self, what: u64) -> Rng {
        Rng::new(mix(self.key ^ mix(what.wrapping_mul(GOLDEN))))
    }

    /// One of the account's three phones and tablets.
    fn phone(&self, i: u64) -> Phone {
        self.draw(0x100 + i).pick(PHONES)
    }

    fn carrier(&self) -> &'static str {
        self.draw(0x200).pick(self.country.carriers)
    }

    fn currency(&self) -> (&'static str, &'static str, u64) {
        currency(self.country.code)
    }

    /// The VAT or sales tax included in Play prices, percent.
    fn tax_rate(&self) -> u64 {
        match self.country.code {
            "US" | "CA" => 0,
            "GB" | "FR" | "IT" | "AU" | "BR" | "IN" => 20,
            "JP" => 10,
            _ => 21,
        }
    }

    /// Writes `first.last@gmail.com` (JSON- and CSV-safe).
    fn email(&self, b: &mut Vec<u8>) {
        email_part(b, self.first);
        b.push(b'.');
        email_part(b, self.last);
        b.extend_from_slice(b"@gmail.com");
    }

    /// Writes the display name of payment instrument `i` (of two); whether it is a card.
    fn instrument(&self, i: u64, b: &mut Vec<u8>) -> bool {
        let mut r = self.draw(0x300 + i);
        match r.below(5) {
            0 => b.extend_from_slice("Visa •••• ".as_bytes()),
            1 => b.extend_from_slice("Mastercard •••• ".as_bytes()),
            2 => b.extend_from_slice("American Express •••• ".as_bytes()),
            3 => {
                b.extend_from_slice(b"PayPal: ");
                self.email(b);
                return false;
            }
            _ => {
                b.extend_from_slice(b"Google Play balance");
                return false;
            }
        }
        uint(b, 1000 + r.below(9000));
        true
    }

    /// 2–4 cameras.
    fn cameras(&self) -> u64 {
        2 + self.key % 3
    }

    fn camera(&self, i: u64) -> Camera {
        let start = (self.key >> 8) as usize % CAMERAS.len();
        Camera { id: self.draw(0x400 + i).next(), name: CAMERAS[(start + i as usize) % CAMERAS.len()] }
    }

    /// The camera a slot belongs to.
    fn camera_of(&self, s: &Slot) -> u64 {
        s.pick % self.cameras()
    }
}

// ---------------------------------------------------------------------------------------------
// Small writers.

fn earlier(t: i64, by: i64) -> i64 {
    t.saturating_sub(by).max(MIN_MICROS)
}

fn later(t: i64, by: i64) -> i64 {
    t.saturating_add(by).min(MAX_MICROS - 1)
}

/// `"doc": {"documentType": kind, "title": title}`, the Play document of an item.
fn doc(o: &mut Obj<'_>, kind: &str, title: &[&str]) {
    let mut d = Obj::new(o.key("doc"));
    d.str("documentType", kind);
    d.text("title", title);
    d.end();
}

/// A price as Google Play formats it: `"€4.99"`, `"A$4.99"`.
fn formatted(o: &mut Obj<'_>, k: &str, symbol: &str, cents: u64) {
    let b = o.key(k);
    b.push(b'"');
    esc(b, symbol);
    money(b, cents);
    b.push(b'"');
}

/// Writes the year, month, day, hour, minute and second of `micros` (UTC) with the separators.
fn stamp(p: &mut String, micros: i64, date_sep: char, middle: char, time_sep: char) {
    let secs = micros.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        p,
        "{y:04}{date_sep}{m:02}{date_sep}{d:02}{middle}{:02}{time_sep}{:02}{time_sep}{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// RFC 3339 at a UTC offset, without fractions: `2025-01-15T19:30:00-05:00`.
fn local_time(o: &mut Obj<'_>, k: &str, micros: i64, offset_minutes: i64) {
    let b = o.key(k);
    b.push(b'"');
    rfc3339_ms(b, micros + offset_minutes * MINUTE);
    b.truncate(b.len() - 5);
    let sign = if offset_minutes < 0 { b'-' } else { b'+' };
    let off = offset_minutes.unsigned_abs();
    b.extend_from_slice(&[
        sign,
        b'0' + (off / 600) as u8,
        b'0' + (off / 60 % 10) as u8,
        b':',
        b'0' + (off % 60 / 10) as u8,
        b'0' + (off % 10) as u8,
        b'"',
    ]);
}

/// Standard time of the cities of the vocabulary, in minutes east of UTC.
fn utc_offset(city: &City) -> i64 {
    match city.name {
        "New York" | "Toronto" => -300,
        "Chicago" | "Mexico City" => -360,
        "San Francisco" => -480,
        "São Paulo" | "Buenos Aires" => -180,
        "Tokyo" | "Seoul" => 540,
        "Singapore" => 480,
        "Sydney" => 600,
        "Cape Town" => 120,
        "Mumbai" => 330,
        "Nairobi" => 180,
        "London" | "Lisbon" | "Dublin" => 0,
        _ => 60,
    }
}

/// A phone number of the country: `+44 7700 900123`-like.
fn phone_number(b: &mut Vec<u8>, r: &mut Rng, code: &str) {
    let prefix = match code {
        "US" | "CA" => "+1 ",
        "GB" => "+44 7",
        "DE" => "+49 15",
        "FR" => "+33 6",
        "ES" => "+34 6",
        "IT" => "+39 3",
        "NL" => "+31 6",
        "JP" => "+81 90",
        "AU" => "+61 4",
        "IN" => "+91 9",
        "BR" => "+55 11 9",
        "AT" => "+43 66",
        "SE" => "+46 7",
        "PL" => "+48 5",
        "PT" => "+351 9",
        "IE" => "+353 8",
        "CH" => "+41 7",
        "MX" => "+52 55 ",
        "AR" => "+54 9 11 ",
        "KR" => "+82 10 ",
        "SG" => "+65 9",
        "ZA" => "+27 8",
        "KE" => "+254 7",
        _ => "+44 7",
    };
    b.extend_from_slice(prefix.as_bytes());
    uint(b, 100 + r.below(900));
    b.push(b' ');
    uint(b, 100_000 + r.below(900_000));
}

/// A documentation-range IP address (RFC 5737 / RFC 3849).
fn ip_address(b: &mut Vec<u8>, r: &mut Rng) {
    if r.chance(20) {
        b.extend_from_slice(b"2001:db8:");
        hex(b, r.below(0x10000), 4);
        b.extend_from_slice(b"::");
        hex(b, r.below(0x10000), 4);
    } else {
        b.extend_from_slice(r.pick(&["192.0.2.", "198.51.100.", "203.0.113."]).as_bytes());
        uint(b, 1 + r.below(254));
    }
}

/// `v` in decimal with leading zeros to `width` digits.
fn padded(b: &mut Vec<u8>, v: u64, width: usize) {
    let start = b.len();
    uint(b, v);
    while b.len() - start < width {
        b.insert(start, b'0');
    }
}

/// A place whose name ends in one of `kinds` (" Bistro"), so that orders come from restaurants
/// and haircuts from barbers.
fn venue(r: &mut Rng, kinds: &[&'static str]) -> Place {
    let mut pl = place(r);
    pl.name[3] = r.pick(kinds);
    pl
}

const RESTAURANTS: &[&str] =
    &[" Café", " Bistro", " Pizzeria", " Ramen Bar", " Kitchen", " Diner", " Taqueria", " Curry House", " Noodle Bar"];

/// A long decimal identifier.
fn order_number(r: &mut Rng) -> u64 {
    1_000_000_000_000_000_000 + r.below(8_000_000_000_000_000_000)
}

// ---------------------------------------------------------------------------------------------
// Google Play Store.

/// `[{"install": {doc, firstInstallationTime, deviceAttribute, lastUpdateTime}}]`, the order of
/// google_takeout_parser's sample; `deviceAttribute.model` and `.carrier` are optional there.
fn play_install(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (title, _) = r.pick(APPS);
    let phone = a.phone(r.below(3));
    let first = earlier(t, r.range(0, 3 * 365) * DAY + r.range(0, DAY));
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("install"));
    doc(&mut o, "Android Apps", &[title]);
    o.time("firstInstallationTime", first);
    let mut d = Obj::new(o.key("deviceAttribute"));
    d.str("manufacturer", phone.manufacturer);
    d.str("deviceDisplayName", phone.display);
    if r.chance(80) {
        d.str("model", phone.model);
    }
    if phone.cellular && r.chance(70) {
        d.str("carrier", a.carrier());
    }
    d.end();
    o.time("lastUpdateTime", t);
    o.end();
    w.end();
}

const BOOKS: &[&str] = &["Project Hail Mary", "The Midnight Library", "Dune", "Educated", "Piranesi", "Sapiens"];

/// `[{"libraryDoc": {"doc": {...}, "acquisitionTime": ...}}]`.
fn play_library(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("libraryDoc"));
    match r.below(10) {
        0 => doc(&mut o, "Books", &[r.pick(BOOKS)]),
        1 => doc(&mut o, "Movies", &[r.pick(MOVIES)]),
        _ => doc(&mut o, "Android Apps", &[r.pick(APPS).0]),
    }
    o.time("acquisitionTime", t);
    o.end();
    w.end();
}

/// What Google Play sells: title, `documentType`, price in (euro) cents.
const PLAY_ITEMS: &[(&str, &str, u64)] = &[
    ("Stardew Valley", "Android Apps", 499),
    ("Monument Valley 2", "Android Apps", 499),
    ("Terraria", "Android Apps", 499),
    ("Minecraft", "Android Apps", 749),
    ("Komoot: Hike, Bike & Run", "Android Apps", 0),
    ("500 Gems", "In App Item", 499),
    ("Starter Pack", "In App Item", 199),
    ("Remove ads", "In App Item", 299),
    ("Complete Region Bundle", "In App Item", 2999),
    ("1,200 Coins", "In App Item", 999),
    ("Google One 100 GB", "Subscription", 199),
    ("Duolingo Super (1 month)", "Subscription", 1299),
    ("Spotify Premium", "Subscription", 1099),
    ("Headspace Annual", "Subscription", 6999),
];

/// One purchase, drawn the same way for both of Takeout's files.
struct PlayPurchase {
    title: &'static str,
    kind: &'static str,
    cents: u64,
    /// Tax included in `cents`.
    tax: u64,
    refunded: bool,
    preorder: bool,
    /// The renewal's number for a subscription's renewal order, 0 for the first order.
    renewal: u64,
    quantity: u64,
    instrument: u64,
    order: [u64; 4],
}

fn play_purchase(r: &mut Rng, a: &Account) -> PlayPurchase {
    let (title, kind, base) = r.pick(PLAY_ITEMS);
    let quantity = if kind == "In App Item" && r.chance(10) { 2 } else { 1 };
    let cents = base * a.currency().2 * quantity;
    let rate = a.tax_rate();
    PlayPurchase {
        title,
        kind,
        cents,
        tax: cents * rate / (100 + rate),
        refunded: cents > 0 && r.chance(5),
        preorder: kind == "Android Apps" && r.chance(3),
        renewal: if kind == "Subscription" && r.chance(70) { 1 + r.below(24) } else { 0 },
        quantity,
        instrument: r.below(2),
        order: [3300 + r.below(100), r.below(10_000), r.below(10_000), r.below(100_000)],
    }
}

/// `[{"purchaseHistory": {doc, invoicePrice, paymentMethodTitle, userCountry, purchaseTime}}]`.
fn purchase_history(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let p = play_purchase(r, a);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("purchaseHistory"));
    doc(&mut o, p.kind, &[p.title]);
    formatted(&mut o, "invoicePrice", a.currency().1, p.cents);
    if p.cents > 0 {
        let b = o.key("paymentMethodTitle");
        b.push(b'"');
        a.instrument(p.instrument, b);
        b.push(b'"');
    }
    o.str("userCountry", a.country.code);
    o.time("purchaseTime", t);
    o.end();
    w.end();
}

/// `[{"orderHistory": {orderId, creationTime, ipAddress, ipCountry, totalPrice, tax,
/// refundAmount, preorder, renewalOrder, lineItem[{doc, quantity}], billingInstrument,
/// userLocale}}]`. Takeout also has `otherInstruments`, `billingContact` and
/// `associatedContact`, whose content no importer shows; they are left out.
fn order_history(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let p = play_purchase(r, a);
    let symbol = a.currency().1;
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("orderHistory"));
    let b = o.key("orderId");
    b.extend_from_slice(b"\"GPA.");
    let [a0, a1, a2, a3] = p.order;
    for (v, width) in [(a0, 4), (a1, 4), (a2, 4)] {
        padded(b, v, width);
        b.push(b'-');
    }
    padded(b, a3, 5);
    if p.renewal > 0 {
        b.extend_from_slice(b"..");
        uint(b, p.renewal - 1);
    }
    b.push(b'"');
    o.time("creationTime", t);
    let b = o.key("ipAddress");
    b.push(b'"');
    ip_address(b, r);
    b.push(b'"');
    o.str("ipCountry", if r.chance(90) { a.country.code } else { r.pick(CITIES).code });
    formatted(&mut o, "totalPrice", symbol, p.cents);
    formatted(&mut o, "tax", symbol, p.tax);
    formatted(&mut o, "refundAmount", symbol, if p.refunded { p.cents } else { 0 });
    o.boolean("preorder", p.preorder);
    o.boolean("renewalOrder", p.renewal > 0);
    let b = o.key("lineItem");
    b.push(b'[');
    let mut item = Obj::new(b);
    doc(&mut item, p.kind, &[p.title]);
    item.int("quantity", p.quantity as i64);
    item.end();
    b.push(b']');
    if p.cents > 0 {
        let b = o.key("billingInstrument");
        b.extend_from_slice(b"{\"displayName\":\"");
        a.instrument(p.instrument, b);
        b.extend_from_slice(b"\"}");
    }
    o.str("userLocale", a.country.locale);
    o.end();
    w.end();
}

/// Subscriptions: title, (euro) cents per period, period unit and count.
const PLAY_SUBSCRIPTIONS: &[(&str, u64, &str, i64)] = &[
    ("Google One 100 GB", 199, "MONTH", 1),
    ("Google One 2 TB", 9999, "YEAR", 1),
    ("Spotify Premium", 1099, "MONTH", 1),
    ("Duolingo Super", 8399, "YEAR", 1),
    ("Headspace Plus", 1299, "MONTH", 1),
    ("Strava Subscription", 1199, "MONTH", 1),
    ("Komoot Premium", 5999, "YEAR", 1),
    ("Pocket Casts Plus", 399, "MONTH", 1),
    ("Citymapper Club", 299, "WEEK", 1),
    ("Calm Premium", 2499, "MONTH", 3),
];

/// `[{"subscription": {doc, state, renewalDate | expirationDate, pricing[{price, period}]}}]`:
/// the slot is the start of the current period; an active subscription renews at its end, a
/// cancelled or expired one ends there.
fn play_subscription(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (title, base, unit, count) = r.pick(PLAY_SUBSCRIPTIONS);
    let days = count
        * match unit {
            "WEEK" => 7,
            "YEAR" => 365,
            _ => 30,
        };
    let end = later(t, days * DAY);
    let state = r.pick(&["Active", "Active", "Canceled", "Expired"]);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("subscription"));
    doc(&mut o, "Subscription", &[title]);
    if state == "Active" {
        o.time("renewalDate", end);
    } else {
        o.time("expirationDate", end);
    }
    o.str("state", state);
    let b = o.key("pricing");
    b.push(b'[');
    let mut price = Obj::new(b);
    formatted(&mut price, "price", a.currency().1, base * a.currency().2);
    let mut period = Obj::new(price.key("period"));
    period.str("unit", unit);
    period.int("count", count);
    period.end();
    price.end();
    b.push(b']');
    o.end();
    w.end();
}

/// `[{"device": {mostRecentData{…}, deviceRegistrationTime, userAddedOnDeviceTime,
/// lastTimeDeviceActive}}]`, every key present (ALEAPP reads them all); `totalMemoryBytes` is a
/// numeric string, `androidSdkVersion` a number. The slot is the last activity.
fn play_device(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let phone = r.pick(PHONES);
    let registered = earlier(t, r.range(1, 4 * 365) * DAY + r.range(0, DAY));
    let added = registered + r.range(0, 2 * HOUR);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("device"));
    let mut d = Obj::new(o.key("mostRecentData"));
    d.str("carrierName", if phone.cellular { a.carrier() } else { "" });
    d.str("manufacturer", phone.manufacturer);
    d.str("modelName", phone.model);
    d.str("deviceName", phone.device);
    d.str("productName", phone.product);
    let b = d.key("totalMemoryBytes");
    b.push(b'"');
    uint(b, phone.memory_gb * (1 << 30) - r.below(1 << 29));
    b.push(b'"');
    d.str("deviceIpCountry", if r.chance(90) { a.country.code } else { r.pick(CITIES).code });
    d.int("androidSdkVersion", phone.sdk - r.range(0, 2));
    d.end();
    o.time("deviceRegistrationTime", registered);
    o.time("userAddedOnDeviceTime", added.min(t));
    o.time("lastTimeDeviceActive", t);
    o.end();
    w.end();
}

/// `[{"redemptionHistory": {...}}]` with the page's fields: `acquisition` (the document
/// redeemed; absent for money), `device`, `userCountry`, `ipCountry`, `billingCountry` (only with
/// a billing instrument), `status` ("redeemed or failure"), `redemptionChangeTime`, and for money
/// `formattedMoney` ("10.00 USD") and `moneyExpiredTime` (typed string). The wrapper key and
/// the content of `acquisition` and `device` are guesses (Play's `doc` and `deviceAttribute`).
fn play_redemption(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let money_code = r.chance(40);
    let phone = a.phone(r.below(3));
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("redemptionHistory"));
    if !money_code {
        let mut acq = Obj::new(o.key("acquisition"));
        match r.below(4) {
            0 => doc(&mut acq, "In App Item", &[r.pick(&["500 Gems", "Starter Pack", "Season Pass"])]),
            1 => doc(&mut acq, "Movies", &[r.pick(MOVIES)]),
            _ => doc(&mut acq, "Android Apps", &[r.pick(APPS).0]),
        }
        acq.end();
    }
    let mut d = Obj::new(o.key("device"));
    d.str("manufacturer", phone.manufacturer);
    d.str("model", phone.model);
    d.str("deviceDisplayName", phone.display);
    d.end();
    o.str("userCountry", a.country.code);
    o.str("ipCountry", if r.chance(90) { a.country.code } else { r.pick(CITIES).code });
    if r.chance(70) {
        o.str("billingCountry", a.country.code);
    }
    o.str("status", if r.chance(92) { "REDEEMED" } else { "FAILURE" });
    o.time("redemptionChangeTime", t);
    if money_code {
        let (code, _, scale) = a.currency();
        let b = o.key("formattedMoney");
        b.push(b'"');
        money(b, r.pick(&[500, 1000, 1500, 2500, 5000]) * scale);
        b.push(b' ');
        b.extend_from_slice(code.as_bytes());
        b.push(b'"');
        o.time("moneyExpiredTime", later(t, r.range(1, 5) * 365 * DAY));
    }
    o.end();
    w.end();
}

/// A guess: `[{"promotionHistory": {doc, promotionTitle, promotionType, state, acceptedTime,
/// expirationTime}}]`.
fn play_promotion(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (app, _) = r.pick(APPS);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("promotionHistory"));
    doc(&mut o, "Android Apps", &[app]);
    let kind = r.pick(&["FREE_TRIAL", "DISCOUNT", "PLAY_POINTS_BONUS", "IN_APP_OFFER"]);
    let b = o.key("promotionTitle");
    b.push(b'"');
    match kind {
        "FREE_TRIAL" => b.extend_from_slice(b"1 month free"),
        "DISCOUNT" => {
            uint(b, r.pick(&[20, 30, 50, 75]));
            b.extend_from_slice(b"% off");
        }
        "PLAY_POINTS_BONUS" => {
            uint(b, r.pick(&[2, 3, 4]));
            b.extend_from_slice(b"x Play Points");
        }
        _ => {
            let (_, symbol, scale) = a.currency();
            esc(b, symbol);
            money(b, 99 * scale);
            b.extend_from_slice(b" starter pack");
        }
    }
    b.push(b'"');
    o.str("promotionType", kind);
    o.str("state", r.pick(&["ACCEPTED", "REDEEMED", "REDEEMED", "EXPIRED"]));
    o.time("acceptedTime", t);
    o.time("expirationTime", later(t, r.range(7, 90) * DAY));
    o.end();
    w.end();
}

/// A guess: `[{"playPointsHistory": {transactionTime, points, balance, description, tier}}]`.
fn play_points(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("playPointsHistory"));
    o.time("transactionTime", t);
    let (points, what): (i64, Text) = match r.below(6) {
        0 => (-r.range(1, 10) * 100, one("Redeemed for Google Play credit")),
        1 => (r.range(5, 50), one("Weekly prize")),
        2 => (r.range(50, 500), one("Level-up bonus")),
        _ => (r.range(1, 120), ["Purchase: ", r.pick(APPS).0, "", ""]),
    };
    o.int("points", points);
    o.int("balance", r.range(points.abs(), 10_000));
    o.text("description", &what);
    o.str("tier", r.pick(&["Bronze", "Silver", "Gold", "Platinum", "Diamond"]));
    o.end();
    w.end();
}

/// A guess: `[{"groupingTag": {doc, packageName, tag{key, <typed value>}, updateTime}}]`, the
/// tag after the Play Grouping API's `Tag`.
fn play_grouping(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let (title, package) = r.pick(APPS);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("groupingTag"));
    doc(&mut o, "Android Apps", &[title]);
    o.str("packageName", package);
    let mut tag = Obj::new(o.key("tag"));
    match r.below(4) {
        0 => {
            tag.str("key", r.pick(&["premium_user", "newsletter_opt_in", "completed_tutorial"]));
            tag.boolean("booleanValue", r.chance(50));
        }
        1 => {
            tag.str("key", r.pick(&["player_level", "streak_days", "lifetime_purchases"]));
            let b = tag.key("int64Value");
            b.push(b'"');
            uint(b, r.below(500));
            b.push(b'"');
        }
        2 => {
            tag.str("key", "last_active");
            tag.time("timeValue", earlier(t, r.range(0, 30) * DAY));
        }
        _ => {
            tag.str("key", r.pick(&["favourite_team", "guild", "plan"]));
            tag.str("stringValue", r.pick(&["blue", "Northern Lights", "family", "pro", "Harbour FC"]));
        }
    }
    tag.end();
    o.time("updateTime", t);
    o.end();
    w.end();
}

/// Play Store settings and their values (as the Settings screen words them).
const PLAY_SETTINGS: &[(&str, &[&str])] = &[
    ("Auto-update apps", &["Over any network", "Over Wi-Fi only", "Don't auto-update apps"]),
    ("App download preference", &["Over any network", "Over Wi-Fi only", "Ask me every time"]),
    (
        "Require authentication for purchases",
        &["For all purchases through Google Play on this device", "Every 30 minutes", "Never"],
    ),
    ("Theme", &["Light", "Dark", "System default"]),
    ("Parental controls", &["On", "Off"]),
    ("Update notifications", &["On", "Off"]),
    ("Personalization in Google Play", &["On", "Off"]),
    ("Biometric authentication", &["On", "Off"]),
];

/// A guess: `[{"userSetting": {name, value, device, updateTime}}]`, one change per record.
fn play_setting(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (name, values) = r.pick(PLAY_SETTINGS);
    let mut w = Obj::new(b);
    let mut o = Obj::new(w.key("userSetting"));
    o.str("name", name);
    o.str("value", r.pick(values));
    o.str("device", a.phone(r.below(3)).display);
    o.time("updateTime", t);
    o.end();
    w.end();
}

// ---------------------------------------------------------------------------------------------
// Nest.

/// Person, package and motion detection (the page's words), and the other kinds Nest cameras
/// report.
const CAMERA_EVENTS: &[&str] = &[
    "PERSON",
    "PERSON",
    "MOTION",
    "MOTION",
    "MOTION",
    "PACKAGE_DELIVERED",
    "PACKAGE_RETRIEVED",
    "SOUND",
    "ANIMAL",
    "VEHICLE",
];
const ZONES: &[&str] = &["Porch", "Driveway", "Garden gate", "Pavement", "Sofa", "Bins"];

/// A camera event, drawn from a copy of the slot's generator, so that the listing and the media
/// files of the slot agree whichever draws first.
struct CamEvent {
    id: u64,
    session: u64,
    kind: &'static str,
    seconds: i64,
    zone: Option<&'static str>,
    snapshot: bool,
    clip: bool,
}

fn cam_event(s: &Slot) -> CamEvent {
    let mut r = s.rng.clone();
    CamEvent {
        id: r.next(),
        session: r.next(),
        kind: r.pick(CAMERA_EVENTS),
        seconds: r.range(3, 180),
        zone: r.chance(40).then(|| r.pick(ZONES)),
        snapshot: r.chance(60),
        clip: r.chance(30),
    }
}

/// Writes the file name (below the camera's `events/`) of an event's snapshot or clip.
fn event_media_name(p: &mut String, s: &Slot, e: &CamEvent, ext: &str) {
    stamp(p, s.time, '_', '_', '_');
    p.push('_');
    let mut id = Vec::with_capacity(22);
    random_chars(&mut id, &mut Rng::new(e.id), 22, BASE64URL);
    p.push_str(std::str::from_utf8(&id).unwrap_or_default());
    p.push_str(ext);
}

/// Per camera, in one archive part: `camera/<ID>/events/events.json` (a guess: the page gives
/// JSON, MP4 and JPG but no fields), a JPG snapshot for a share of the events and an MP4 clip
/// for a smaller share, both beside the listing and named by it.
fn camera_events(x: &mut Export<'_>, a: &Account) -> Result<(), SourceError> {
    for c in 0..a.cameras() {
        let cam = a.camera(c);
        let dir = format!("camera/{}/events/", cam.id());
        let here = |s: &Slot| a.camera_of(s) == c;
        x.bundle(|x| {
            x.records(&format!("{dir}events.json"), FileLayout::json_array(), here, |s, b| {
                camera_event(s, &cam, b);
            })?;
            x.media(
                |s| here(s) && cam_event(s).snapshot,
                |s, p| {
                    p.push_str(&dir);
                    event_media_name(p, s, &cam_event(s), ".jpg");
                },
                |s, b| jpeg(b, cam_event(s).id),
            )?;
            x.media(
                |s| here(s) && cam_event(s).clip,
                |s, p| {
                    p.push_str(&dir);
                    event_media_name(p, s, &cam_event(s), ".mp4");
                },
                |s, b| mp4(b, cam_event(s).id),
            )
        })?;
    }
    Ok(())
}

/// `{eventId, eventSessionId, eventType, cameraId, cameraName, startTime, endTime, zones?,
/// snapshot?, clip?}`; `snapshot` and `clip` name the files beside the listing.
fn camera_event(s: &Slot, cam: &Camera, b: &mut Vec<u8>) {
    let e = cam_event(s);
    let mut o = Obj::new(b);
    let b = o.key("eventId");
    b.push(b'"');
    random_chars(b, &mut Rng::new(e.id), 22, BASE64URL);
    b.push(b'"');
    let b = o.key("eventSessionId");
    b.push(b'"');
    random_chars(b, &mut Rng::new(e.session), 22, BASE64URL);
    b.push(b'"');
    o.str("eventType", e.kind);
    o.str("cameraId", &cam.id());
    o.str("cameraName", cam.name);
    o.time("startTime", s.time);
    o.time("endTime", later(s.time, e.seconds * 1_000_000));
    if let Some(zone) = e.zone {
        o.strs("zones", &[zone]);
    }
    let mut name = String::new();
    if e.snapshot {
        event_media_name(&mut name, s, &e, ".jpg");
        o.str("snapshot", &name);
    }
    if e.clip {
        name.clear();
        event_media_name(&mut name, s, &e, ".mp4");
        o.str("clip", &name);
    }
    o.end();
}

/// Recorded footage, MP4 only (the page lists no JSON for it), in Takeout's layout
/// `camera/<CAMERA_ID>/video/<YYYY-MM-DD>/<YYYY_MM_DD_HH_MM_SS>.mp4`, in one archive part.
fn camera_videos(x: &mut Export<'_>, a: &Account) -> Result<(), SourceError> {
    x.bundle(|x| {
        x.media(
            all,
            |s, p| {
                let _ = write!(p, "camera/{}/video/", a.camera(a.camera_of(s)).id());
                stamp(p, s.time, '-', '/', '_');
                p.truncate(p.len() - 8);
                stamp(p, s.time, '_', '_', '_');
                p.push_str(".mp4");
            },
            |s, b| mp4(b, s.rng.next()),
        )
    })
}

/// A guess: a snapshot of a camera's settings, as changed at the slot's time: `{cameraId,
/// cameraName, updateTime, maxZoom, mediaQuality, nightVision, …}` (the page names "max
/// zooming, media quality, and night vision").
fn camera_feature(r: &mut Rng, t: i64, cam: &Camera, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.str("cameraId", &cam.id());
    o.str("cameraName", cam.name);
    o.time("updateTime", t);
    o.int("maxZoom", r.pick(&[4, 6, 8, 12]));
    o.str("mediaQuality", r.pick(&["MAX", "HIGH", "HIGH", "MEDIUM", "LOW"]));
    o.str("nightVision", r.pick(&["AUTO", "AUTO", "ALWAYS_ON", "OFF"]));
    o.boolean("hdr", r.chance(70));
    o.boolean("audioRecording", r.chance(60));
    o.boolean("familiarFaceDetection", r.chance(40));
    o.str("statusLight", r.pick(&["ON", "DIM", "OFF"]));
    o.end();
}

/// A postal address object: `{name?, addressLines[], locality, postalCode, regionCode}`.
fn postal_address(o: &mut Obj<'_>, k: &str, r: &mut Rng, a: &Account) {
    let pl = place(r);
    let mut ad = Obj::new(o.key(k));
    ad.text("name", &[a.first, " ", a.last, ""]);
    let b = ad.key("addressLines");
    b.extend_from_slice(b"[\"");
    uint(b, pl.number);
    b.push(b' ');
    esc(b, pl.street);
    b.extend_from_slice(b"\"]");
    ad.str("locality", pl.city.name);
    let b = ad.key("postalCode");
    b.push(b'"');
    uint(b, 10_000 + r.below(90_000));
    b.push(b'"');
    ad.str("regionCode", pl.city.code);
    ad.end();
}

/// What the Google Store sells for Nest: name, price in (euro) cents.
const NEST_PRODUCTS: &[(&str, u64)] = &[
    ("Nest Learning Thermostat (4th gen)", 27_999),
    ("Nest Cam (battery)", 17_999),
    ("Nest Doorbell (wired, 2nd gen)", 17_999),
    ("Nest Wifi Pro", 19_999),
    ("Nest Hub (2nd gen)", 9_999),
    ("Nest Mini", 4_999),
    ("Nest Protect", 11_999),
];

/// A guess: `{orderId, orderTime, status, items[{name, quantity, price}], total, shippingAddress}`.
fn nest_order(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (code, _, scale) = a.currency();
    let mut o = Obj::new(b);
    let b = o.key("orderId");
    b.extend_from_slice(b"\"GS.");
    padded(b, r.below(10_000), 4);
    b.push(b'-');
    padded(b, r.below(10_000_000_000), 10);
    b.push(b'"');
    o.time("orderTime", t);
    o.str("status", r.pick(&["DELIVERED", "DELIVERED", "DELIVERED", "SHIPPED", "CANCELLED", "RETURNED"]));
    let n = 1 + r.below(2);
    let mut total = 0;
    let b = o.key("items");
    b.push(b'[');
    for i in 0..n {
        if i > 0 {
            b.push(b',');
        }
        let (name, cents) = r.pick(NEST_PRODUCTS);
        let quantity = 1 + u64::from(r.chance(15));
        total += cents * scale * quantity;
        let mut item = Obj::new(b);
        item.str("name", name);
        item.int("quantity", quantity as i64);
        amount(&mut item, "price", cents * scale, code);
        item.end();
    }
    b.push(b']');
    amount(&mut o, "total", total, code);
    postal_address(&mut o, "shippingAddress", r, a);
    o.end();
}

/// `{"amount": "129.00", "currencyCode": "EUR"}`.
fn amount(o: &mut Obj<'_>, k: &str, cents: u64, code: &str) {
    let mut m = Obj::new(o.key(k));
    let b = m.key("amount");
    b.push(b'"');
    money(b, cents);
    b.push(b'"');
    m.str("currencyCode", code);
    m.end();
}

/// A guess: `{name, status, startTime, billingPeriod, price}`.
fn nest_subscription(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (code, _, scale) = a.currency();
    let (name, monthly) = r.pick(&[("Nest Aware", 800), ("Nest Aware Plus", 1500), ("Nest Renew Premium", 500)]);
    let yearly = r.chance(30);
    let mut o = Obj::new(b);
    o.str("name", name);
    o.str("status", r.pick(&["ACTIVE", "ACTIVE", "CANCELLED", "EXPIRED"]));
    o.time("startTime", t);
    o.str("billingPeriod", if yearly { "YEARLY" } else { "MONTHLY" });
    amount(&mut o, "price", if yearly { monthly * 10 } else { monthly } * scale, code);
    o.end();
}

/// A guess: `{displayName, type, expiration?, addedTime, billingAddress, contact{name, email,
/// phoneNumber}}`.
fn nest_payment_method(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let i = r.below(2);
    let mut o = Obj::new(b);
    let b = o.key("displayName");
    b.push(b'"');
    let card = a.instrument(i, b);
    b.push(b'"');
    o.str("type", if card { "CARD" } else { "OTHER" });
    if card {
        let b = o.key("expiration");
        b.push(b'"');
        padded(b, 1 + r.below(12), 2);
        b.push(b'/');
        uint(b, 2026 + r.below(6));
        b.push(b'"');
    }
    o.time("addedTime", t);
    postal_address(&mut o, "billingAddress", r, a);
    let mut c = Obj::new(o.key("contact"));
    c.text("name", &[a.first, " ", a.last, ""]);
    let b = c.key("email");
    b.push(b'"');
    a.email(b);
    b.push(b'"');
    let b = c.key("phoneNumber");
    b.push(b'"');
    phone_number(b, r, a.country.code);
    b.push(b'"');
    c.end();
    o.end();
}

const HOMES: &[&str] = &["Home", "Flat", "Beach house", "Cabin", "Parents' house"];
const ROOMS: &[&str] = &["Living Room", "Kitchen", "Hallway", "Bedroom", "Office", "Garage", "Entryway", "Backyard"];
/// Nest devices: type, model.
const NEST_DEVICES: &[(&str, &str)] = &[
    ("THERMOSTAT", "Nest Learning Thermostat (4th gen)"),
    ("CAMERA", "Nest Cam (battery)"),
    ("CAMERA", "Nest Cam with floodlight"),
    ("DOORBELL", "Nest Doorbell (wired, 2nd gen)"),
    ("DISPLAY", "Nest Hub (2nd gen)"),
    ("SPEAKER", "Nest Mini"),
    ("SPEAKER", "Nest Audio"),
    ("ROUTER", "Nest Wifi Pro"),
    ("SMOKE_CO_ALARM", "Nest Protect"),
];

/// 1–2 homes.
fn homes(a: &Account) -> u64 {
    1 + a.key % 2
}

/// The user object up to its `devices` array (a guess): `{"name", "email", "profilePicture",
/// "homes": [{homeId, name, address}], "devices": [`.
fn nest_user_head(a: &Account) -> String {
    let mut buf = Vec::new();
    let mut o = Obj::new(&mut buf);
    o.text("name", &[a.first, " ", a.last, ""]);
    let b = o.key("email");
    b.push(b'"');
    a.email(b);
    b.push(b'"');
    o.random_id("profilePicture", &mut a.draw(0x500), "https://lh3.googleusercontent.com/a/ACg8oc", 60, BASE64URL);
    let b = o.key("homes");
    b.push(b'[');
    for h in 0..homes(a) {
        if h > 0 {
            b.push(b',');
        }
        let mut r = a.draw(0x600 + h);
        let mut home = Obj::new(b);
        let hb = home.key("homeId");
        hb.push(b'"');
        hex(hb, r.next(), 16);
        hb.push(b'"');
        home.str("name", HOMES[(a.key as usize + h as usize) % HOMES.len()]);
        address(&mut home, "address", &place(&mut r));
        home.end();
    }
    b.push(b']');
    o.key("devices").push(b'[');
    String::from_utf8(buf).unwrap_or_default()
}

/// `{deviceId, displayName, type, model, homeId, room, addedTime}`.
fn nest_device(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let (kind, model) = r.pick(NEST_DEVICES);
    let room = r.pick(ROOMS);
    let home = r.below(homes(a));
    let mut o = Obj::new(b);
    let b = o.key("deviceId");
    b.push(b'"');
    let start = b.len();
    hex(b, r.next(), 16);
    b[start..].make_ascii_uppercase();
    b.push(b'"');
    o.text("displayName", &[room, " ", model.split(" (").next().unwrap_or(model), ""]);
    o.str("type", kind);
    o.str("model", model);
    let b = o.key("homeId");
    b.push(b'"');
    hex(b, a.draw(0x600 + home).next(), 16);
    b.push(b'"');
    o.str("room", room);
    o.time("addedTime", t);
    o.end();
}

// ---------------------------------------------------------------------------------------------
// Google Shopping.

/// `creation_time,title,comment,rating`: the page's "Product Reviews data"; `rating` is a string
/// from one to five.
fn product_review(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    rfc3339_ms(b, t);
    b.push(b',');
    let (brand, _) = r.pick(BRANDS);
    let thing = r.pick(THINGS);
    let mut title = String::with_capacity(64);
    title.push_str(brand);
    title.push(' ');
    title.push_str(thing);
    csv_field(b, &title);
    b.push(b',');
    review_comment(b, r, PRODUCT_SENTENCES);
    b.push(b',');
    uint(b, r.range(1, 5) as u64);
}

/// `creation_time,comment,rating`: the page's "Merchant Reviews data" (no title).
fn merchant_review(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    rfc3339_ms(b, t);
    b.push(b',');
    review_comment(b, r, MERCHANT_SENTENCES);
    b.push(b',');
    uint(b, r.range(1, 5) as u64);
}

const PRODUCT_SENTENCES: &[&str] = &[
    "Really good value for money.",
    "Exactly as described.",
    "Would recommend to friends.",
    "The battery could be better.",
    "Feels solid, well made.",
    "Stopped working after three months.",
    "It's \"fine\", nothing special.",
    "Five stars, no notes.",
    "Smaller than it looks in the photos.",
];
const MERCHANT_SENTENCES: &[&str] = &[
    "Fast delivery, well packed.",
    "Took a while to arrive, but worth it.",
    "Easy returns, refund within a week.",
    "Customer service answered the same day.",
    "Order arrived damaged; replaced quickly.",
    "Prices are better than elsewhere.",
    "Tracking never updated.",
];

fn review_comment(b: &mut Vec<u8>, r: &mut Rng, sentences: &[&str]) {
    let first = r.pick(sentences);
    if r.chance(50) {
        csv_field(b, first);
    } else {
        let mut text = String::with_capacity(96);
        text.push_str(first);
        text.push(' ');
        text.push_str(r.pick(sentences));
        csv_field(b, &text);
    }
}

/// `name,street_address,city,postal_code,country_code,phone_number` (a guess).
fn shipping_address(r: &mut Rng, b: &mut Vec<u8>) {
    let first = r.pick(FIRST_NAMES);
    let last = r.pick(LAST_NAMES);
    let pl = place(r);
    let mut text = String::with_capacity(48);
    text.push_str(first);
    text.push(' ');
    text.push_str(last);
    csv_field(b, &text);
    b.push(b',');
    text.clear();
    let _ = write!(text, "{} {}", pl.number, pl.street);
    if r.chance(30) {
        let _ = write!(text, ", Apt {}", 1 + r.below(40));
    }
    csv_field(b, &text);
    b.push(b',');
    csv_field(b, pl.city.name);
    b.push(b',');
    uint(b, 10_000 + r.below(90_000));
    b.push(b',');
    b.extend_from_slice(pl.city.code.as_bytes());
    b.push(b',');
    phone_number(b, r, pl.city.code);
}

// ---------------------------------------------------------------------------------------------
// Purchases & Reservations.

const DISHES: &[(&str, u64)] = &[
    ("Margherita pizza", 1150),
    ("Pad thai", 1290),
    ("Chicken tikka masala", 1390),
    ("Falafel wrap", 850),
    ("Ramen", 1400),
    ("Caesar salad", 990),
    ("Cheeseburger", 1250),
    ("Mushroom risotto", 1450),
    ("Tacos al pastor (3)", 1100),
    ("Carrot cake", 550),
];
const DRINKS: &[&str] = &["Coke", "Sparkling water", "Lemonade", "Iced tea"];
/// Order status, its label, and the line items' purchase status.
const ORDER_STATUSES: &[(&str, &str, &str)] = &[
    ("FULFILLED", "Your order has been fulfilled.", "DELIVERED"),
    ("FULFILLED", "Your order has been fulfilled.", "DELIVERED"),
    ("FULFILLED", "Your order has been fulfilled.", "DELIVERED"),
    ("CONFIRMED", "Your order has been confirmed.", "CONFIRMED"),
    ("CANCELLED", "Your order was cancelled.", "CANCELLED"),
];

/// The documented time object: `{"usecSinceEpochUtc": "<µs>", "granularity": "MICROSECOND"}`,
/// with the offset where the page shows one.
fn usec_time(o: &mut Obj<'_>, k: &str, t: i64, offset: Option<i64>) {
    let mut tm = Obj::new(o.key(k));
    let b = tm.key("usecSinceEpochUtc");
    b.push(b'"');
    int(b, t);
    b.push(b'"');
    tm.str("granularity", "MICROSECOND");
    if let Some(minutes) = offset {
        tm.int("utcTimezoneOffsetMinutes", minutes);
    }
    tm.end();
}

/// `{"type", "amount": {"amountMicros": "<string>", "currencyCode": {"code"}}, "taxIncluded",
/// "state"}`.
fn priceline(b: &mut Vec<u8>, kind: &str, name: Option<&str>, cents: u64, code: &str, state: &str) {
    let mut p = Obj::new(b);
    p.str("type", kind);
    if let Some(name) = name {
        p.str("name", name);
    }
    let mut amount = Obj::new(p.key("amount"));
    let b = amount.key("amountMicros");
    b.push(b'"');
    uint(b, cents * 10_000);
    b.push(b'"');
    let mut cc = Obj::new(amount.key("currencyCode"));
    cc.str("code", code);
    cc.end();
    amount.end();
    p.boolean("taxIncluded", false);
    p.str("state", state);
    p.end();
}

/// One purchase (Order with Google), one JSON object per file, with the page's fields:
/// `customer.email`, `merchantOrderId`, `creationTime`, `orderStatus`, `transactionMerchant.name`
/// and `lineItem[]` (`provider`, `priceline`, `purchase{status, quantity, fulfillment,
/// itemOption, productInfo, userVisibleStatusLabel}`, `statusLabel`), then the Page Summary's
/// price lines, payment info and order updates (key names from Takeout parsers: `priceline[]`,
/// `unitPrice.displayString`; `paymentInfo`, `orderUpdates` are guesses).
fn order_purchase(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    let pl = venue(r, RESTAURANTS);
    let (code, symbol, scale) = currency(pl.city.code);
    let offset = utc_offset(&pl.city);
    let (status, label, item_status) = r.pick(ORDER_STATUSES);
    let pickup = r.chance(60);
    let mut o = Obj::new(b);
    let mut customer = Obj::new(o.key("customer"));
    let b = customer.key("email");
    b.push(b'"');
    a.email(b);
    b.push(b'"');
    customer.end();
    let b = o.key("merchantOrderId");
    b.push(b'"');
    uint(b, 100_000 + r.below(900_000));
    b.push(b'"');
    usec_time(&mut o, "creationTime", t, None);
    let mut st = Obj::new(o.key("orderStatus"));
    st.str("status", status);
    st.str("label", label);
    st.end();
    let mut merchant = Obj::new(o.key("transactionMerchant"));
    merchant.text("name", &pl.name);
    merchant.end();
    let b = o.key("lineItem");
    b.push(b'[');
    let mut subtotal = 0;
    for i in 0..1 + r.below(3) {
        if i > 0 {
            b.push(b',');
        }
        let (dish, base) = r.pick(DISHES);
        let quantity = 1 + u64::from(r.chance(20));
        let unit = base * scale;
        let drink = r.chance(40).then(|| r.pick(DRINKS));
        let drink_cents = if drink.is_some() { 250 * scale } else { 0 };
        subtotal += unit * quantity + drink_cents;
        let mut li = Obj::new(b);
        li.str("name", dish);
        li.text("description", &[dish, if pickup { " (pick-up)" } else { " (delivery)" }, "", ""]);
        let mut provider = Obj::new(li.key("provider"));
        provider.text("name", &pl.name);
        provider.end();
        let pb = li.key("priceline");
        pb.push(b'[');
        priceline(pb, "TOTAL", None, unit * quantity + drink_cents, code, "ESTIMATE");
        pb.push(b']');
        let mut purchase = Obj::new(li.key("purchase"));
        purchase.str("status", item_status);
        purchase.int("quantity", quantity as i64);
        let mut unit_price = Obj::new(purchase.key("unitPrice"));
        let ub = unit_price.key("displayString");
        ub.push(b'"');
        esc(ub, symbol);
        money(ub, unit);
        ub.push(b'"');
        unit_price.end();
        let mut f = Obj::new(purchase.key("fulfillment"));
        f.str("type", if pickup { "PICK_UP" } else { "DELIVERY" });
        let mut loc = Obj::new(f.key("location"));
        loc.text("name", &pl.name);
        address(&mut loc, "address", &pl);
        loc.end();
        let mut rec = Obj::new(f.key("recipient"));
        rec.text("displayName", &[a.first, " ", a.last, ""]);
        let eb = rec.key("email");
        eb.push(b'"');
        a.email(eb);
        eb.push(b'"');
        rec.str("firstName", a.first);
        rec.str("lastName", a.last);
        let pb = rec.key("phoneNumberDetails");
        pb.extend_from_slice(b"[{\"phoneNumber\":\"");
        phone_number(pb, &mut a.draw(0x700), a.country.code);
        pb.extend_from_slice(b"\"}]");
        rec.end();
        let mut window = Obj::new(f.key("timeWindow"));
        usec_time(&mut window, "startTime", later(t, (15 + 5 * r.range(0, 9)) * MINUTE), Some(offset));
        window.end();
        f.end();
        let ib = purchase.key("itemOption");
        ib.push(b'[');
        if let Some(drink) = drink {
            let mut opt = Obj::new(ib);
            opt.str("name", drink);
            opt.int("quantity", 1);
            let pb = opt.key("priceline");
            pb.push(b'[');
            priceline(pb, "TOTAL", None, drink_cents, code, "UNSPECIFIED");
            pb.push(b']');
            opt.end();
        }
        ib.push(b']');
        let mut info = Obj::new(purchase.key("productInfo"));
        info.str("name", dish);
        info.end();
        purchase.str("userVisibleStatusLabel", label);
        purchase.end();
        li.str("statusLabel", label);
        li.end();
    }
    b.push(b']');
    let tax = subtotal / 10;
    let fee = if pickup { 0 } else { 299 * scale };
    let tip = if r.chance(40) { subtotal / 10 } else { 0 };
    let b = o.key("priceline");
    b.push(b'[');
    priceline(b, "SUBTOTAL", Some("Subtotal"), subtotal, code, "ACTUAL");
    b.push(b',');
    priceline(b, "TAX", Some("Tax"), tax, code, "ACTUAL");
    if fee > 0 {
        b.push(b',');
        priceline(b, "FEE", Some("Delivery fee"), fee, code, "ACTUAL");
    }
    if tip > 0 {
        b.push(b',');
        priceline(b, "GRATUITY", Some("Tip"), tip, code, "ACTUAL");
    }
    b.push(b',');
    priceline(b, "TOTAL", Some("Total"), subtotal + tax + fee + tip, code, "ACTUAL");
    b.push(b']');
    let mut pay = Obj::new(o.key("paymentInfo"));
    let b = pay.key("displayName");
    b.push(b'"');
    a.instrument(r.below(2), b);
    b.push(b'"');
    pay.end();
    let b = o.key("orderUpdates");
    b.push(b'[');
    let mut update = Obj::new(b);
    let mut st = Obj::new(update.key("orderStatus"));
    st.str("status", status);
    st.str("label", label);
    st.end();
    usec_time(&mut update, "updateTime", later(t, r.range(5, 90) * MINUTE), None);
    update.end();
    b.push(b']');
    o.end();
}

/// Bookable services: booking name, service, the kinds of merchant.
const BOOKINGS: &[(&str, &str, &[&str])] = &[
    ("Dining Reservation", "Table", RESTAURANTS),
    ("Dining Reservation", "Table", RESTAURANTS),
    ("Dining Reservation", "Terrace table", RESTAURANTS),
    ("Appointment", "Haircut", &[" Barbers", " Hair Studio"]),
    ("Appointment", "Massage (60 min)", &[" Spa", " Wellness"]),
    ("Class", "Yoga class", &[" Yoga Studio"]),
    ("Tickets", "Museum admission", &[" Museum", " Gallery"]),
];
const SPECIAL_REQUESTS: &[&str] =
    &["Window seat, please", "Celebrating a birthday", "One vegetarian guest", "High chair needed", "Quiet table"];

/// One reservation (Reserve with Google), one JSON object per file: Takeout's `uniqueId`,
/// `lastModifiedTime` and `booking{name, merchantName, startTime, endTime, partySize, service,
/// address}` (times RFC 3339 at the merchant's offset), plus the Page Summary's created time,
/// special requests and cancellation status (`createdTime`, `booking.specialRequests`,
/// `booking.cancelled`: names guessed).
fn reservation(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let (name, service, kinds) = r.pick(BOOKINGS);
    let pl = venue(r, kinds);
    let offset = utc_offset(&pl.city);
    // The slot's local day, at a plausible hour on the quarter.
    let local_day = (t + offset * MINUTE).div_euclid(DAY) * DAY - offset * MINUTE;
    let start = (local_day + r.range(10, 21) * HOUR + r.range(0, 3) * 15 * MINUTE).max(MIN_MICROS);
    let length = r.pick(&[60, 90, 120]) * MINUTE;
    let created = earlier(start, r.range(1, 30 * 24) * HOUR + r.range(0, 3_599_999) * 1000);
    let modified = created + r.range(0, (start - created) / MINUTE).max(0) * MINUTE / 2;
    let mut o = Obj::new(b);
    let b = o.key("uniqueId");
    b.push(b'"');
    uint(b, order_number(r));
    b.push(b'"');
    o.time("createdTime", created);
    o.time("lastModifiedTime", modified);
    let mut bk = Obj::new(o.key("booking"));
    bk.str("name", name);
    bk.text("merchantName", &pl.name);
    local_time(&mut bk, "startTime", start, offset);
    local_time(&mut bk, "endTime", later(start, length), offset);
    bk.int("partySize", if name == "Dining Reservation" { r.range(1, 8) } else { 1 });
    bk.str("service", service);
    address(&mut bk, "address", &pl);
    if r.chance(30) {
        bk.str("specialRequests", r.pick(SPECIAL_REQUESTS));
    }
    bk.boolean("cancelled", r.chance(10));
    bk.end();
    o.end();
}

// ---------------------------------------------------------------------------------------------
// Pixel.

/// A guess: one day of a Pixel's usage and diagnostics, `{time, device{model, codeName,
/// androidVersion, buildId}, batteryHealthPercent, batteryCycleCount, screenOnMinutes,
/// unlockCount, appCrashCount, thermalThrottlingMinutes, storageUsedBytes}`.
fn pixel_day(r: &mut Rng, t: i64, a: &Account, b: &mut Vec<u8>) {
    // One or two Pixels per account.
    let (model, code) = a.draw(0x800 + r.below(1 + a.key % 2)).pick(PIXELS);
    let (version, build) = r.pick(PIXEL_BUILDS);
    let mut o = Obj::new(b);
    o.time("time", t);
    let mut d = Obj::new(o.key("device"));
    d.str("model", model);
    d.str("codeName", code);
    d.str("androidVersion", version);
    d.str("buildId", build);
    d.end();
    o.int("batteryHealthPercent", r.range(78, 100));
    o.int("batteryCycleCount", r.range(20, 900));
    o.int("screenOnMinutes", r.range(20, 480));
    o.int("unlockCount", r.range(5, 150));
    o.int("appCrashCount", r.pick(&[0, 0, 0, 1, 2]));
    o.int("thermalThrottlingMinutes", r.pick(&[0, 0, 0, 3, 12]));
    let b = o.key("storageUsedBytes");
    b.push(b'"');
    uint(b, r.range(20, 240) as u64 * 1_000_000_000 + r.below(1_000_000_000));
    b.push(b'"');
    o.end();
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use dataport_types::Timestamp;
    use serde_json::Value;

    use super::super::test_sink::*;
    use super::*;

    fn ts(v: &Value) -> i64 {
        let s = v.as_str().unwrap_or_else(|| panic!("{v} is a string"));
        Timestamp::parse(s).unwrap_or_else(|_| panic!("{s} is RFC 3339")).micros()
    }

    /// The records of a Play file, unwrapped from their one-key wrappers.
    fn unwrapped(file: &File, wrapper: &str) -> Vec<Value> {
        let doc = file.json();
        let records = doc.as_array().expect("a top-level array");
        records
            .iter()
            .map(|r| {
                let obj = r.as_object().expect("object");
                assert_eq!(obj.keys().collect::<Vec<_>>(), [wrapper], "{r}");
                obj[wrapper].clone()
            })
            .collect()
    }

    fn files(name: &str) -> Vec<File> {
        run_all(&emulator(200, 0), name, "alice", None, EXPORT)
    }

    fn names(files: &[File]) -> Vec<&str> {
        files.iter().map(|f| f.name.as_str()).collect()
    }

    fn has_doc(r: &Value) {
        assert!(r["doc"]["documentType"].is_string() && r["doc"]["title"].is_string(), "{r}");
    }

    #[test]
    fn installs_have_the_documented_fields_in_takeouts_wrapper() {
        let file = run(&emulator(200, 0), "play.installs", "alice", None, EXPORT);
        assert_eq!(file.name, "Installs.json");
        let records = unwrapped(&file, "install");
        assert!(records.len() >= 199);
        let (mut models, mut carriers) = (0, 0);
        for r in &records {
            has_doc(r);
            assert_eq!(r["doc"]["documentType"], "Android Apps");
            assert!(ts(&r["firstInstallationTime"]) <= ts(&r["lastUpdateTime"]), "{r}");
            let d = &r["deviceAttribute"];
            assert!(d["manufacturer"].is_string() && d["deviceDisplayName"].is_string(), "{r}");
            models += usize::from(d.get("model").is_some());
            carriers += usize::from(d.get("carrier").is_some());
        }
        assert!(models > 0 && models < records.len() && carriers > 0, "{models} {carriers}");
        let times: Vec<i64> = records.iter().map(|r| ts(&r["lastUpdateTime"])).collect();
        assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    }

    #[test]
    fn library_items_have_a_doc_and_an_acquisition_time() {
        let file = run(&emulator(200, 0), "play.library", "alice", None, EXPORT);
        assert_eq!(file.name, "Library.json");
        for r in unwrapped(&file, "libraryDoc") {
            has_doc(&r);
            ts(&r["acquisitionTime"]);
        }
    }

    #[test]
    fn purchases_are_written_to_both_takeout_files_alike() {
        let files = files("play.purchases");
        assert_eq!(names(&files), ["Purchase History.json", "Order History.json"]);
        let history = unwrapped(&files[0], "purchaseHistory");
        let orders = unwrapped(&files[1], "orderHistory");
        assert_eq!(history.len(), orders.len());
        let (mut renewals, mut refunds) = (0, 0);
        for (h, o) in history.iter().zip(&orders) {
            has_doc(h);
            assert_eq!(h["doc"], o["lineItem"][0]["doc"], "the same purchase");
            assert_eq!(h["invoicePrice"], o["totalPrice"]);
            assert_eq!(ts(&h["purchaseTime"]), ts(&o["creationTime"]));
            assert_eq!(h.get("paymentMethodTitle"), o["billingInstrument"].get("displayName"));
            assert_eq!(h["userCountry"].as_str().expect("country").len(), 2);
            let price = h["invoicePrice"].as_str().expect("price");
            assert!(price.ends_with(|c: char| c.is_ascii_digit()) && price.contains('.'), "{price}");
            let id = o["orderId"].as_str().expect("orderId");
            assert!(id.starts_with("GPA.") && id.len() >= 24, "{id}");
            for k in ["ipAddress", "ipCountry", "totalPrice", "tax", "refundAmount", "userLocale"] {
                assert!(o[k].is_string(), "{k}: {o}");
            }
            assert!(o["preorder"].is_boolean() && o["quantity"].is_null());
            assert!(o["lineItem"][0]["quantity"].is_i64());
            renewals += usize::from(o["renewalOrder"] == true);
            let refund = o["refundAmount"].as_str().expect("refundAmount");
            if refund.trim_start_matches(|c: char| !c.is_ascii_digit()) != "0.00" {
                assert_eq!(refund, o["totalPrice"], "a full refund");
                refunds += 1;
            }
        }
        assert!(renewals > 0 && refunds > 0, "some renewals and refunds");
    }

    #[test]
    fn subscriptions_have_pricing_and_a_renewal_or_an_expiration() {
        let file = run(&emulator(200, 0), "play.subscriptions", "alice", None, EXPORT);
        assert_eq!(file.name, "Subscriptions.json");
        let mut states = HashSet::new();
        for r in unwrapped(&file, "subscription") {
            assert_eq!(r["doc"]["documentType"], "Subscription");
            let state = r["state"].as_str().expect("state");
            states.insert(state.to_owned());
            let date = if state == "Active" { &r["renewalDate"] } else { &r["expirationDate"] };
            ts(date);
            let p = &r["pricing"][0];
            assert!(p["price"].is_string() && p["period"]["unit"].is_string() && p["period"]["count"].is_i64(), "{r}");
        }
        assert!(states.len() >= 3, "{states:?}");
    }

    #[test]
    fn devices_carry_every_key_takeout_readers_index() {
        let file = run(&emulator(200, 0), "play.devices", "alice", None, EXPORT);
        assert_eq!(file.name, "Devices.json");
        for r in unwrapped(&file, "device") {
            let d = &r["mostRecentData"];
            for k in ["carrierName", "manufacturer", "modelName", "deviceName", "productName", "deviceIpCountry"] {
                assert!(d[k].is_string(), "{k}: {r}");
            }
            let memory: u64 = d["totalMemoryBytes"].as_str().expect("numeric string").parse().expect("a number");
            assert!(memory > 1 << 30);
            assert!(d["androidSdkVersion"].is_i64());
            let (registered, added, active) =
                (ts(&r["deviceRegistrationTime"]), ts(&r["userAddedOnDeviceTime"]), ts(&r["lastTimeDeviceActive"]));
            assert!(registered <= added && added <= active, "{r}");
        }
    }

    #[test]
    fn redemptions_have_the_pages_fields() {
        let file = run(&emulator(200, 0), "play.redemptions", "alice", None, EXPORT);
        assert_eq!(file.name, "Redemption History.json");
        let (mut money, mut billing) = (0, 0);
        for r in unwrapped(&file, "redemptionHistory") {
            for k in ["userCountry", "ipCountry", "status"] {
                assert!(r[k].is_string(), "{k}: {r}");
            }
            assert!(r["device"].is_object());
            ts(&r["redemptionChangeTime"]);
            assert!(["REDEEMED", "FAILURE"].contains(&r["status"].as_str().expect("status")));
            billing += usize::from(r.get("billingCountry").is_some());
            // `acquisition` is absent exactly for money.
            if let Some(m) = r.get("formattedMoney") {
                money += 1;
                let m = m.as_str().expect("string");
                let (amount, code) = m.split_once(' ').expect("amount and currency");
                assert!(amount.parse::<f64>().is_ok() && code.len() == 3, "{m}");
                ts(&r["moneyExpiredTime"]);
                assert!(r.get("acquisition").is_none(), "{r}");
            } else {
                has_doc(&r["acquisition"]);
                assert!(r.get("moneyExpiredTime").is_none());
            }
        }
        assert!(money > 0 && billing > 0);
    }

    #[test]
    fn guessed_play_groups_keep_the_play_shape() {
        for (name, file, wrapper, time) in [
            ("play.promotions", "Promotion History.json", "promotionHistory", "acceptedTime"),
            ("play.playpoints", "Play Points History.json", "playPointsHistory", "transactionTime"),
            ("play.grouping", "Grouping Tags.json", "groupingTag", "updateTime"),
            ("play.usersettings", "Play Settings.json", "userSetting", "updateTime"),
        ] {
            let f = run(&emulator(100, 0), name, "alice", None, EXPORT);
            assert_eq!(f.name, file);
            let records = unwrapped(&f, wrapper);
            assert!(records.len() >= 99, "{name}");
            for r in records {
                ts(&r[time]);
                if name == "play.grouping" {
                    assert!(r["tag"]["key"].is_string() && r["tag"].as_object().expect("tag").len() == 2, "{r}");
                }
            }
        }
    }

    #[test]
    fn camera_events_list_their_snapshots_and_clips_beside_them() {
        let files = files("nest.camera_event");
        let listings: Vec<&File> = files.iter().filter(|f| f.name.ends_with("/events.json")).collect();
        let a = Account::of("alice");
        assert_eq!(listings.len() as u64, a.cameras());
        let media: HashSet<&str> =
            files.iter().filter(|f| f.layout == FileLayout::media()).map(|f| f.name.as_str()).collect();
        let mut named = HashSet::new();
        let mut events = 0;
        for listing in listings {
            let dir = listing.name.trim_end_matches("events.json");
            assert!(dir.starts_with("camera/") && dir.ends_with("/events/"), "{dir}");
            for e in listing.json().as_array().expect("array") {
                events += 1;
                for k in ["eventId", "eventSessionId", "eventType", "cameraName"] {
                    assert!(e[k].is_string(), "{k}: {e}");
                }
                assert_eq!(dir, format!("camera/{}/events/", e["cameraId"].as_str().expect("cameraId")));
                assert!(ts(&e["startTime"]) < ts(&e["endTime"]));
                for k in ["snapshot", "clip"] {
                    if let Some(n) = e.get(k) {
                        named.insert(format!("{dir}{}", n.as_str().expect("name")));
                    }
                }
            }
        }
        assert!(events >= 199);
        assert_eq!(named.iter().map(String::as_str).collect::<HashSet<_>>(), media, "every medium is named once");
        for f in files.iter().filter(|f| f.layout == FileLayout::media()) {
            let bytes = &f.records[0];
            if f.name.ends_with(".jpg") {
                assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]), "{}", f.name);
            } else {
                assert!(f.name.ends_with(".mp4") && &bytes[4..8] == b"ftyp", "{}", f.name);
            }
        }
        assert!(media.iter().any(|n| n.ends_with(".jpg")) && media.iter().any(|n| n.ends_with(".mp4")));
    }

    #[test]
    fn camera_video_is_mp4_only_in_takeouts_layout_and_the_accounts_cameras() {
        let files = files("nest.camera_video");
        let a = Account::of("alice");
        let cameras: HashSet<String> = (0..a.cameras()).map(|c| a.camera(c).id()).collect();
        assert!(files.len() >= 199);
        for f in &files {
            assert_eq!(f.layout, FileLayout::media());
            let parts: Vec<&str> = f.name.split('/').collect();
            assert_eq!(parts.len(), 5, "{}", f.name);
            assert!(parts[0] == "camera" && cameras.contains(parts[1]) && parts[2] == "video", "{}", f.name);
            assert_eq!(parts[3].len(), 10);
            assert!(
                parts[4].starts_with(&parts[3].replace('-', "_")) && parts[4].len() == "2024_01_01_12_00_00.mp4".len()
            );
            assert_eq!(&f.records[0][4..8], b"ftyp");
        }
        // The events of the same account use the same cameras.
        let event_dirs: HashSet<String> = run_all(&emulator(20, 0), "nest.camera_event", "alice", None, EXPORT)
            .iter()
            .filter_map(|f| {
                f.name.strip_suffix("/events/events.json").map(|d| d.trim_start_matches("camera/").to_owned())
            })
            .collect();
        assert_eq!(event_dirs, cameras);
    }

    #[test]
    fn nest_json_groups_parse() {
        let features = files("nest.camera_feature");
        assert!(features.iter().all(|f| f.name.starts_with("camera/") && f.name.ends_with("/features.json")));
        for f in &features {
            for r in f.json().as_array().expect("array") {
                assert!(r["maxZoom"].is_i64() && r["mediaQuality"].is_string() && r["nightVision"].is_string(), "{r}");
            }
        }
        let store = files("nest.store");
        assert_eq!(names(&store), ["store/orders.json", "store/subscriptions.json", "store/payment_methods.json"]);
        for f in &store {
            let doc = f.json();
            assert!(!doc.as_array().expect("array").is_empty(), "{}", f.name);
        }
        let user = run(&emulator(50, 0), "nest.user", "alice", None, EXPORT);
        assert_eq!(user.name, "user.json");
        let doc = user.json();
        assert!(doc["email"].as_str().expect("email").ends_with("@gmail.com"));
        assert!(doc["name"].is_string() && doc["profilePicture"].as_str().expect("url").starts_with("https://"));
        let homes: HashSet<&str> =
            doc["homes"].as_array().expect("homes").iter().map(|h| h["homeId"].as_str().expect("id")).collect();
        let devices = doc["devices"].as_array().expect("devices");
        assert_eq!(devices.len(), user.records.len());
        for d in devices {
            assert!(homes.contains(d["homeId"].as_str().expect("homeId")), "{d}");
            ts(&d["addedTime"]);
        }
    }

    #[test]
    fn shopping_reviews_and_addresses_are_csv() {
        let reviews = files("shopping.reviews");
        assert_eq!(names(&reviews), ["Product Reviews/Product Reviews.csv", "Merchant Reviews/Merchant Reviews.csv"]);
        for (f, header) in reviews
            .iter()
            .zip([&["creation_time", "title", "comment", "rating"][..], &["creation_time", "comment", "rating"]])
        {
            let rows = parse_csv(std::str::from_utf8(&f.document()).expect("UTF-8"));
            assert_eq!(rows[0], header);
            assert!(rows.len() > 50, "{}", f.name);
            for row in &rows[1..] {
                assert_eq!(row.len(), header.len(), "{row:?}");
                Timestamp::parse(&row[0]).expect("creation_time");
                assert!(("1"..="5").contains(&row[header.len() - 1].as_str()), "{row:?}");
            }
        }
        let addresses = run(&emulator(100, 0), "shopping.addresses", "alice", None, EXPORT);
        assert_eq!(addresses.name, "Addresses/Addresses.csv");
        let rows = parse_csv(std::str::from_utf8(&addresses.document()).expect("UTF-8"));
        assert_eq!(rows[0], ["name", "street_address", "city", "postal_code", "country_code", "phone_number"]);
        assert!(rows[1..].iter().all(|r| r.len() == 6 && r[5].starts_with('+')));
    }

    #[test]
    fn purchases_and_reservations_are_one_json_object_per_file() {
        let files = files("order_reserve.purchases_reservations");
        let (mut purchases, mut reservations) = (0, 0);
        for f in &files {
            let r = f.json();
            if f.name.starts_with("Purchases/order_") {
                purchases += 1;
                assert!(r["customer"]["email"].as_str().expect("email").contains('@'));
                assert!(r["merchantOrderId"].is_string() && r["transactionMerchant"]["name"].is_string());
                let t: i64 = r["creationTime"]["usecSinceEpochUtc"].as_str().expect("µs").parse().expect("integer");
                assert!((EXPORT - HISTORY_MICROS..EXPORT).contains(&t));
                assert_eq!(r["creationTime"]["granularity"], "MICROSECOND");
                assert!(r["orderStatus"]["status"].is_string() && r["orderStatus"]["label"].is_string());
                let items = r["lineItem"].as_array().expect("lineItem");
                assert!(!items.is_empty());
                for li in items {
                    assert!(li["provider"]["name"].is_string() && li["statusLabel"].is_string());
                    let p = &li["priceline"][0];
                    assert_eq!(p["type"], "TOTAL");
                    assert!(p["amount"]["amountMicros"].as_str().expect("micros").parse::<u64>().is_ok());
                    assert!(p["amount"]["currencyCode"]["code"].is_string() && p["taxIncluded"].is_boolean());
                    let pu = &li["purchase"];
                    assert!(
                        pu["status"].is_string() && pu["quantity"].is_i64() && pu["productInfo"]["name"].is_string()
                    );
                    assert!(pu["fulfillment"]["recipient"]["displayName"].is_string());
                    assert!(pu["fulfillment"]["timeWindow"]["startTime"]["utcTimezoneOffsetMinutes"].is_i64());
                    assert!(pu["itemOption"].is_array() && pu["userVisibleStatusLabel"].is_string());
                    assert!(pu["unitPrice"]["displayString"].is_string());
                }
                let lines = r["priceline"].as_array().expect("priceline");
                assert_eq!(lines.last().expect("total")["type"], "TOTAL");
            } else {
                assert!(f.name.starts_with("Reservations/action_") && f.name.ends_with(".json"), "{}", f.name);
                reservations += 1;
                assert!(r["uniqueId"].is_string());
                ts(&r["lastModifiedTime"]);
                let b = &r["booking"];
                for k in ["name", "merchantName", "service", "address"] {
                    assert!(b[k].is_string(), "{k}: {r}");
                }
                assert!(b["partySize"].is_i64());
                let (start, end) = (b["startTime"].as_str().expect("start"), b["endTime"].as_str().expect("end"));
                assert!(start.len() == 25 && !start.ends_with('Z'), "{start}");
                assert!(ts(&b["startTime"]) < ts(&b["endTime"]), "{start} {end}");
                assert!(ts(&r["createdTime"]) <= ts(&r["lastModifiedTime"]));
            }
            assert_eq!(f.records.len(), 1);
        }
        assert!(purchases > 80 && reservations > 50, "{purchases} {reservations}");
    }

    #[test]
    fn pixel_device_data_is_a_json_array() {
        let f = run(&emulator(100, 0), "pixel.device_data", "alice", None, EXPORT);
        assert_eq!(f.name, "device_data.json");
        for r in f.json().as_array().expect("array") {
            ts(&r["time"]);
            assert!(r["device"]["model"].as_str().expect("model").starts_with("Pixel"));
        }
    }

    #[test]
    fn every_group_is_deterministic_and_valid_for_an_empty_window() {
        for name in [
            "play.devices",
            "play.grouping",
            "play.installs",
            "play.library",
            "play.playpoints",
            "play.promotions",
            "play.purchases",
            "play.redemptions",
            "play.subscriptions",
            "play.usersettings",
            "nest.camera_event",
            "nest.camera_feature",
            "nest.camera_video",
            "nest.store",
            "nest.user",
            "shopping.addresses",
            "shopping.reviews",
            "order_reserve.purchases_reservations",
            "pixel.device_data",
        ] {
            let a = run_all(&emulator(30, 5), name, "alice", None, EXPORT);
            assert_eq!(a, run_all(&emulator(30, 5), name, "alice", None, EXPORT), "{name}");
            assert_ne!(a, run_all(&emulator(30, 6), name, "alice", None, EXPORT), "{name}");
            for f in &a {
                assert!(crate::catalogue::safe_relative_path(&f.name), "{name}: {}", f.name);
            }
            for f in run_all(&emulator(30, 5), name, "alice", Some(EXPORT), EXPORT) {
                assert!(f.records.is_empty(), "{name}");
                if f.name.ends_with(".json") {
                    f.json();
                } else {
                    let rows = parse_csv(std::str::from_utf8(&f.document()).expect("UTF-8"));
                    assert_eq!(rows.len(), 1, "{name}: the header");
                }
            }
        }
    }
}
