//! My Activity (`myactivity.*`), after Google's schema reference
//! <https://developers.google.com/data-portability/schema-reference/my_activity>: per product
//! `My Activity/<Product>/MyActivity.json`, a JSON array of activity records
//! `{header, title, titleUrl?, subtitles?, description?, time, products, details?, locationInfos?,
//! activityControls}`. `subtitles`, `details` and `locationInfos` are arrays of objects and
//! `products` and `activityControls` arrays of strings, as in real exports (the page types them
//! all as strings). `time` has milliseconds only when they are not zero.

use super::*;

/// The products of My Activity: folder, header, `products` and default activity controls.
#[derive(Clone, Copy, Debug)]
pub(super) enum Product<'a> {
    /// `Search/`, with a share of the records in `Image Search/` and `Video Search/`.
    Search(SearchKind),
    YouTube,
    Maps,
    Play,
    Shopping,
    AdCenter,
    /// A `myactivity.*` group this module does not know: named after its folder.
    Other(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SearchKind {
    Web,
    Image,
    Video,
}

impl SearchKind {
    /// Which search a slot belongs to: 80 % web, 10 % image, 10 % video.
    fn of(slot: &Slot) -> Self {
        match slot.pick {
            0..80 => Self::Web,
            80..90 => Self::Image,
            _ => Self::Video,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Web => "Search",
            Self::Image => "Image Search",
            Self::Video => "Video Search",
        }
    }
}

/// Writes `<Product>/MyActivity.json` below the group's folder (`My Activity`): for
/// `myactivity.search` one file per search kind, each present even when empty.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    let product = match group.name.as_str() {
        "myactivity.search" => {
            for kind in [SearchKind::Web, SearchKind::Image, SearchKind::Video] {
                let file = format!("{}/MyActivity.json", kind.name());
                let p = Product::Search(kind);
                x.records(
                    &file,
                    FileLayout::json_array(),
                    |s| SearchKind::of(s) == kind,
                    |s, b| my_activity(p, &mut s.rng, s.time, b),
                )?;
            }
            return Ok(());
        }
        "myactivity.youtube" => Product::YouTube,
        "myactivity.maps" => Product::Maps,
        "myactivity.play" => Product::Play,
        "myactivity.shopping" => Product::Shopping,
        "myactivity.myadcenter" => Product::AdCenter,
        // An operator's `myactivity.gemini` in `My Activity/Gemini Apps` is "Gemini Apps".
        _ => {
            let p = Product::Other(group.folder.rsplit('/').next().unwrap_or(&group.folder));
            return x.records("MyActivity.json", FileLayout::json_array(), all, |s, b| {
                my_activity(p, &mut s.rng, s.time, b)
            });
        }
    };
    let file = format!("{}/MyActivity.json", product.folder());
    x.records(&file, FileLayout::json_array(), all, |s, b| my_activity(product, &mut s.rng, s.time, b))
}

impl Product<'_> {
    /// The product's folder below `My Activity/`.
    pub(super) fn folder(&self) -> &str {
        match self {
            Self::Search(kind) => kind.name(),
            Self::YouTube => "YouTube",
            Self::Maps => "Maps",
            Self::Play => "Google Play Store",
            Self::Shopping => "Shopping",
            Self::AdCenter => "My Ad Center",
            Self::Other(h) => h,
        }
    }

    /// `header`, and the one entry of `products`.
    fn header_and_product(&self) -> (&str, &str) {
        match self {
            Self::Play => ("Google Play", "Google Play Store"),
            Self::AdCenter => ("My Ad Center", "Ads"),
            other => (other.folder(), other.folder()),
        }
    }

    /// How often a record carries `locationInfos` (percent).
    fn located(&self) -> u64 {
        match self {
            Self::Maps => 60,
            Self::Search(_) => 35,
            Self::Shopping | Self::Play => 10,
            _ => 0,
        }
    }
}

pub(super) const WEB_AND_APP: &[&str] = &["Web & App Activity"];

pub(super) fn my_activity(p: Product<'_>, r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let (header, product) = p.header_and_product();
    let mut o = Obj::new(b);
    o.str("header", header);
    let mut details: Option<&str> = None;
    let mut controls = WEB_AND_APP;
    match p {
        Product::Search(_) => {
            if r.chance(70) {
                let q = search_query(r);
                o.prefixed("title", "Searched for ", &q);
                o.url_q("titleUrl", "https://www.google.com/search?q=", &q, "");
            } else {
                let pg = page(r);
                let b = o.key("title");
                b.extend_from_slice(b"\"Visited ");
                esc_text(b, &pg.title);
                b.push(b'"');
                let b = o.key("titleUrl");
                b.extend_from_slice(b"\"https://www.google.com/url?q=");
                page_href(b, &pg);
                b.extend_from_slice(b"&usg=AOvVaw");
                random_chars(b, r, 22, BASE64URL);
                b.push(b'"');
            }
        }
        Product::YouTube => {
            if r.chance(80) {
                let title = video_title(r);
                let b = o.key("title");
                b.extend_from_slice(b"\"Watched ");
                esc_text(b, &title);
                b.push(b'"');
                watch_url(&mut o, "titleUrl", r, "www.youtube.com");
                let ch = r.below(CHANNELS.len() as u64) as usize;
                let b = o.key("subtitles");
                b.extend_from_slice(b"[{\"name\":\"");
                esc(b, CHANNELS[ch]);
                b.extend_from_slice(b"\",\"url\":\"https://www.youtube.com/channel/");
                channel_id(b, ch);
                b.extend_from_slice(b"\"}]");
                if r.chance(5) {
                    details = Some("From Google Ads");
                }
                controls = &["YouTube watch history"];
            } else {
                let q = search_query(r);
                o.prefixed("title", "Searched for ", &q);
                o.url_q("titleUrl", "https://www.youtube.com/results?search_query=", &q, "");
                controls = &["YouTube search history"];
            }
        }
        Product::Maps => {
            let pl = place(r);
            match r.below(4) {
                0 => {
                    o.prefixed("title", "Searched for ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/search/", &pl.name, "");
                }
                1 => {
                    o.text("title", &["Viewed area around ", pl.city.name, "", ""]);
                    let b = o.key("titleUrl");
                    b.extend_from_slice(b"\"https://www.google.com/maps/@");
                    fixed7(b, pl.lat);
                    b.push(b',');
                    fixed7(b, pl.lng);
                    b.extend_from_slice(b",13z\"");
                }
                2 => {
                    o.prefixed("title", "Directions to ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/dir//", &pl.name, "");
                    address(&mut o, "description", &pl);
                }
                _ => {
                    o.prefixed("title", "Viewed ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/place/", &pl.name, "");
                    address(&mut o, "description", &pl);
                }
            }
        }
        Product::Play => {
            let (app, package) = r.pick(APPS);
            let verb = r.pick(&["Used ", "Installed ", "Visited ", "Updated "]);
            o.text("title", &[verb, app, "", ""]);
            o.url_q("titleUrl", "https://play.google.com/store/apps/details?id=", &one(package), "");
        }
        Product::Shopping => {
            let thing = r.pick(THINGS);
            if r.chance(60) {
                o.text("title", &["Viewed ", r.pick(&["", "Pro ", "Compact ", "Classic "]), thing, ""]);
                let b = o.key("titleUrl");
                b.extend_from_slice(b"\"https://www.google.com/shopping/product/");
                uint(b, 1_000_000_000_000_000 + r.below(8_000_000_000_000_000));
                b.push(b'"');
                let b = o.key("description");
                b.extend_from_slice(b"\"Price: ");
                money(b, 999 + r.below(60_000));
                b.push(b' ');
                esc(b, r.pick(CURRENCIES));
                b.push(b'"');
            } else {
                o.text("title", &["Searched for ", thing, "", ""]);
                o.url_q("titleUrl", "https://www.google.com/search?tbm=shop&q=", &one(thing), "");
            }
        }
        Product::AdCenter => {
            // The page's titles: "Chose to see more ads from", "… fewer …", "Blocked an ad from",
            // "Liked an ad from"; `titleUrl` is the topic.
            let (brand, domain) = r.pick(BRANDS);
            let verb = r.pick(&[
                "Chose to see more ads from ",
                "Chose to see fewer ads from ",
                "Blocked an ad from ",
                "Liked an ad from ",
            ]);
            o.text("title", &[verb, brand, "", ""]);
            o.url_q("titleUrl", "https://myadcenter.google.com/customize?topic=", &one(domain), "");
            if r.chance(30) {
                details = Some("From Google Ads");
            }
        }
        Product::Other(h) => {
            o.prefixed("title", "Used ", &[h]);
        }
    }
    o.time_ms_if_any("time", t);
    o.strs("products", &[product]);
    if let Some(d) = details {
        let b = o.key("details");
        b.extend_from_slice(b"[{\"name\":\"");
        esc(b, d);
        b.extend_from_slice(b"\"}]");
    }
    if r.chance(p.located()) {
        location_infos(&mut o, r);
    }
    o.strs("activityControls", controls);
    o.end();
}

/// Where Google thinks the activity happened: `[{name, url, source, sourceUrl?}]`.
fn location_infos(o: &mut Obj<'_>, r: &mut Rng) {
    let city = r.pick(CITIES);
    let b = o.key("locationInfos");
    b.extend_from_slice(
        b"[{\"name\":\"At this general area\",\"url\":\"https://www.google.com/maps/@?api=1&map_action=map&center=",
    );
    fixed7(b, city.lat + r.range(-20_000, 20_000));
    b.push(b',');
    fixed7(b, city.lng + r.range(-20_000, 20_000));
    b.extend_from_slice(b"&zoom=12\",\"source\":\"");
    if r.chance(50) {
        b.extend_from_slice(
            b"From your device\",\"sourceUrl\":\"https://support.google.com/websearch/answer/1696509\"}]",
        );
    } else {
        b.extend_from_slice(b"Based on your past activity\"}]");
    }
}
