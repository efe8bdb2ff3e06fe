//! YouTube and YouTube Music (`youtube.*`), after Google's schema reference
//! <https://developers.google.com/data-portability/schema-reference/youtube>.
//!
//! Only the page's first part (the objects "video media" and "videos") could be read; the other
//! shapes are Takeout's, as open-source importers read real exports (the product's Data
//! Portability archive and Takeout hold the same files): CSV files with Title-Case headers in
//! sub-folders of `YouTube and YouTube Music/`, times as `2023-07-17T17:52:49.123+00:00`, user
//! text (comments, live chat, posts) in Google's JSON-segment encoding
//! (`{"text":"at "},{"text":"5:02","videoLink":{…}}`), and media named after their titles
//! (`\ ; | : ?` dropped, `' / % * "` made `_`, cut to a number of UTF-16 code units).

use super::*;

/// Writes the group's files.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    let me = own_channel(x.request.subject);
    match group.name.as_str() {
        "youtube.channel" => channel(x),
        // Not documented: the page's section could not be read and no importer reads clips.
        // `clips/clips.csv` with plausible columns.
        "youtube.clips" => {
            x.records("clips/clips.csv", FileLayout::csv(CLIPS), all, |s, b| clip(&mut s.rng, s.time, b))
        }
        // Takeout, as several importers read it (the 9-column form of today's exports).
        "youtube.comments" => x.records("comments/comments.csv", FileLayout::csv(COMMENTS), all, |s, b| {
            comment(&mut s.rng, s.time, &me, b)
        }),
        // Not documented: the scope is new and no importer reads it. One CSV of messages.
        "youtube.conversations" => {
            x.records("conversations/conversations.csv", FileLayout::csv(CONVERSATIONS), all, |s, b| {
                message(&mut s.rng, s.time, s.key, &me, b)
            })
        }
        // Takeout, as importers read it: the 7-column form with `Currency code`.
        "youtube.live_chat" => x.records("live chats/live chats.csv", FileLayout::csv(LIVE_CHATS), all, |s, b| {
            live_chat(&mut s.rng, s.time, &me, b)
        }),
        "youtube.music" => music(x),
        // Not documented: a playable's save is one string per game (Playables SDK `saveData`).
        "youtube.playable" => x.records("playables/playable saves.csv", FileLayout::csv(PLAYABLES), all, |s, b| {
            playable(&mut s.rng, s.time, b)
        }),
        "youtube.posts" => posts(x),
        "youtube.private_playlists" => playlists(x, "Private"),
        "youtube.public_playlists" => playlists(x, "Public"),
        "youtube.unlisted_playlists" => playlists(x, "Unlisted"),
        "youtube.private_videos" => videos(x, "Private", &me),
        "youtube.public_videos" => videos(x, "Public", &me),
        "youtube.unlisted_videos" => videos(x, "Unlisted", &me),
        "youtube.shopping" => shopping(x),
        // Takeout, as nearly every importer reads it: `subscriptions/subscriptions.csv`, header
        // `Channel Id,Channel Url,Channel Title` (sic), `http://www.youtube.com/channel/<id>`.
        "youtube.subscriptions" => {
            x.records("subscriptions/subscriptions.csv", FileLayout::csv(SUBSCRIPTIONS), all, |s, b| {
                subscription(&mut s.rng, b)
            })
        }
        _ => generic::export(group, x),
    }
}

// ---------------------------------------------------------------------------------------------
// Headers

pub(super) const SUBSCRIPTIONS: &str = "Channel Id,Channel Url,Channel Title";
pub(super) const COMMENTS: &str = "Comment ID,Channel ID,Comment Create Timestamp,Price,Parent Comment ID,Post ID,\
Video ID,Comment Text,Top-Level Comment ID";
pub(super) const LIVE_CHATS: &str =
    "Live Chat ID,Channel ID,Live Chat Create Timestamp,Price,Currency code,Video ID,Live Chat Text";
/// The "videos" object in Takeout's column order (the page's fields minus the three it alone has).
pub(super) const VIDEOS: &str = "Video ID,Approx Duration (ms),Video Audio Language,Video Category,\
Video Description (Original),Channel ID,Tag 1,Tag 2,Tag 3,Video Title (Original),Privacy,Video State,\
Video Create Timestamp,Video Publish Timestamp";
pub(super) const PLAYLISTS: &str = "Playlist ID,Add new videos to top,Playlist Title (Original),\
Playlist Title (Original) Language,Playlist Create Timestamp,Playlist Update Timestamp,Playlist Video Order,\
Playlist Visibility";
pub(super) const PLAYLIST_VIDEOS: &str = "Video ID,Playlist Video Creation Timestamp";
pub(super) const CHANNEL: &str = "Channel ID,Channel Country,Channel Description (Original),Channel Tag 1,\
Channel Tag 2,Channel Title (Original),Channel Visibility";
pub(super) const CHANNEL_URLS: &str = "Channel ID,Channel Vanity URL 1 Name,Channel Vanity URL 2 Name";
pub(super) const CHANNEL_FEATURES: &str = "Channel ID,Channel Auto Moderation in Live Chat,\
Video Default Allowed Comments Type,Video Default Targeted Audience,Video Default License,\
Video Default Location Latitude,Video Default Location Longitude";
/// A guess: only a Portuguese export's two localized columns are known, beside the channel.
pub(super) const CHANNEL_IMAGES: &str = "Channel ID,Create Timestamp,Channel Image Full Content URL";
pub(super) const LIBRARY_SONGS: &str = "Video ID,Song Title,Album Title,Artist Name 1,Artist Name 2";
pub(super) const MUSIC_UPLOADS: &str = "Song Title,Album Title,Artist Name 1,Duration";
pub(super) const POSTS: &str = "Post ID,Post text,Image name 1";
pub(super) const SHOPPING_COLLECTIONS: &str =
    "Shopping Collection ID,Shopping Collection Title,Shopping Collection Description";
pub(super) const SHOPPING_ITEMS: &str = "Shopping Collection ID,Product ID,Product Title,Item Create Timestamp";
pub(super) const CLIPS: &str =
    "Clip ID,Video ID,Clip Title,Clip Start Time (ms),Clip End Time (ms),Clip Create Timestamp";
pub(super) const CONVERSATIONS: &str =
    "Conversation ID,Message ID,Sender Channel ID,Message Create Timestamp,Video ID,Message Text";
pub(super) const PLAYABLES: &str = "Playable ID,Playable Title,Save Data Update Timestamp,Save Data";

// ---------------------------------------------------------------------------------------------
// Vocabulary

pub(super) const VIDEO_CATEGORIES: &[&str] = &[
    "People & Blogs",
    "Education",
    "Howto & Style",
    "Travel & Events",
    "Gaming",
    "Science & Technology",
    "Film & Animation",
    "Music",
    "Entertainment",
];
pub(super) const LANGUAGES: &[&str] = &["en", "en", "en", "de", "fr", "es", "pt", "ja", ""];
pub(super) const VIDEO_DESCRIPTIONS: &[&str] = &[
    "",
    "Filmed on a phone, edited on a laptop.",
    "Everything I used is linked below.\nMusic: \"Morning Walk\" (royalty free)",
    "Part of a series, see the playlist.",
    "Questions? Ask in the comments, I read them all.",
    "Chapters:\n0:00 Intro\n1:12 The setup\n4:30 Results",
    "No sponsor, no affiliate links, just notes.",
];
pub(super) const TAGS: &[&str] = &[
    "tutorial", "vlog", "diy", "travel", "cooking", "review", "how to", "beginner", "gameplay", "shorts", "2024",
    "rust",
];
pub(super) const PLAYLIST_TITLES: &[&str] = &[
    "Cooking",
    "Workout mix",
    "Rust talks",
    "Road trip",
    "Kids' songs",
    "Favourites",
    "Lo-fi for focus",
    "Bike repair",
    "Watch again",
    "Science: the good stuff",
    "Gaming / speedruns",
    "Jazz piano",
    "Study music",
    "Travel ideas",
    "DIY \"someday\"",
    "Sourdough 100%",
];
pub(super) const PLAYLIST_ORDERS: &[&str] =
    &["Manual", "Manual", "Manual", "Manual", "Date added (newest)", "Date published (newest)", "Popularity"];
pub(super) const ALBUMS: &[&str] = &[
    "",
    "Demos",
    "Live at the Old Mill",
    "Night Drive",
    "Spring Sessions",
    "Greatest Hits",
    "Unplugged, Vol. 2",
    "Field Recordings",
];
pub(super) const TRACKS: &[&str] = &[
    "Harbour Lights",
    "Slow Morning",
    "Paper Boats",
    "Northern Line",
    "Summer Rain (Live)",
    "Interlude",
    "Track 7",
    "Home: Again",
    "Lullaby for Sam",
    "The Long Way Round",
];
pub(super) const CHANNEL_SUFFIXES: &[&str] =
    &[" Cooks", " Makes Things", "'s Travel Diary", " Plays", " Explains", " Music", " Outdoors"];
pub(super) const ALLOWED_COMMENTS: &[&str] =
    &["All", "All", "Hold potentially inappropriate", "Hold all for review", "Disabled"];
pub(super) const AUDIENCES: &[&str] = &["Not made for kids", "Not made for kids", "Made for kids", "Not set"];
pub(super) const LICENSES: &[&str] =
    &["Standard YouTube License", "Standard YouTube License", "Creative Commons - Attribution"];
pub(super) const COLLECTION_TITLES: &[&str] =
    &["Wishlist", "Gift ideas", "Desk setup", "Camping gear", "Kitchen", "Birthday", "Merch I want", "Shop "];
pub(super) const COLLECTION_DESCRIPTIONS: &[&str] =
    &["", "", "Things to buy later", "For the new flat", "Saved from creators' stores", "Ideas, \"maybe\" list"];
pub(super) const PLAYABLE_GAMES: &[&str] = &[
    "Cut the Rope",
    "Angry Birds Showdown",
    "Tomb of the Mask",
    "Words of Wonders",
    "Daily Crossword",
    "2048",
    "Bubble Shooter",
    "Sudoku Classic",
];
pub(super) const CLIP_TITLES: &[&str] = &[
    "the best part",
    "this trick!",
    "wait for it",
    "perfect explanation",
    "that ending",
    "for later",
    "funniest moment",
    "the key step",
];

// ---------------------------------------------------------------------------------------------
// Ids, times, text

/// The exporting user's channel: `UC` + 22 characters, a constant of the subject, so that every
/// group of one user names the same channel.
pub(super) fn own_channel(subject: &str) -> [u8; 24] {
    let mut b = Vec::with_capacity(24);
    b.extend_from_slice(b"UC");
    random_chars(&mut b, &mut Rng::new(timeline_key(0, subject, "youtube.own_channel")), 22, BASE64URL);
    let mut id = [0u8; 24];
    id.copy_from_slice(&b);
    id
}

fn video_id(b: &mut Vec<u8>, r: &mut Rng) {
    random_chars(b, r, 11, BASE64URL);
}

fn random_channel(b: &mut Vec<u8>, r: &mut Rng) {
    b.extend_from_slice(b"UC");
    random_chars(b, r, 22, BASE64URL);
}

/// A top-level comment's id: `Ug` + `z`/`w`/`x`/`y` + 21 characters + `4AaABAg`.
fn comment_id(b: &mut Vec<u8>, r: &mut Rng) {
    b.extend_from_slice(b"Ug");
    b.push(r.pick(b"zwxy"));
    random_chars(b, r, 21, BASE64URL);
    b.extend_from_slice(b"4AaABAg");
}

/// A post's (and a clip's, a playable's) id: `Ugkx` + 32 characters.
fn post_id(b: &mut Vec<u8>, r: &mut Rng) {
    b.extend_from_slice(b"Ugkx");
    random_chars(b, r, 32, BASE64URL);
}

/// A time as YouTube's CSV files write it: `2023-07-17T17:52:49.5+00:00` (fraction only when
/// there is one, trailing zeros dropped).
pub(super) fn yt_time(b: &mut Vec<u8>, micros: i64) {
    rfc3339_ms(b, micros.clamp(MIN_MICROS, MAX_MICROS - 1));
    b.pop(); // `Z`
    while b.last() == Some(&b'0') {
        b.pop();
    }
    if b.last() == Some(&b'.') {
        b.pop();
    }
    b.extend_from_slice(b"+00:00");
}

/// Quotes the CSV field written since `start` if it holds a separator, a quote or a line break
/// (RFC 4180), in place.
pub(super) fn csv_close(b: &mut Vec<u8>, start: usize) {
    let field = &b[start..];
    if !field.iter().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        return;
    }
    let quotes = field.iter().filter(|&&c| c == b'"').count();
    let old = b.len();
    b.resize(old + quotes + 2, 0);
    let mut w = b.len() - 1;
    b[w] = b'"';
    for i in (start..old).rev() {
        let c = b[i];
        w -= 1;
        b[w] = c;
        if c == b'"' {
            w -= 1;
            b[w] = b'"';
        }
    }
    w -= 1;
    b[w] = b'"';
    debug_assert_eq!(w, start);
}

/// One CSV field made of `parts`.
pub(super) fn csv_text(b: &mut Vec<u8>, parts: &[&str]) {
    let start = b.len();
    for p in parts {
        b.extend_from_slice(p.as_bytes());
    }
    csv_close(b, start);
}

/// A user's text in Google's JSON-segment encoding (one CSV field): comma-separated
/// `{"text":…}` objects, a mention carrying `mention.externalChannelId` and a time link
/// `videoLink.{externalVideoId,startTimeSeconds}` (linking into `video`, a range of `b`).
fn segments(b: &mut Vec<u8>, r: &mut Rng, video: Option<(usize, usize)>) {
    let start = b.len();
    let message = r.pick(MESSAGES);
    match (r.below(10), video) {
        (0 | 1, _) => {
            let ch = r.below(CHANNELS.len() as u64) as usize;
            b.extend_from_slice(b"{\"text\":\"@");
            b.extend(CHANNELS[ch].bytes().filter(u8::is_ascii_alphanumeric));
            b.extend_from_slice(b"\",\"mention\":{\"externalChannelId\":\"");
            channel_id(b, ch);
            b.extend_from_slice(b"\"}},{\"text\":\" ");
        }
        (2 | 3, Some((from, to))) => {
            let seconds = r.below(1200);
            b.extend_from_slice(b"{\"text\":\"");
            uint(b, seconds / 60);
            b.push(b':');
            b.push(b'0' + (seconds % 60 / 10) as u8);
            b.push(b'0' + (seconds % 10) as u8);
            b.extend_from_slice(b"\",\"videoLink\":{\"externalVideoId\":\"");
            b.extend_from_within(from..to);
            b.extend_from_slice(b"\",\"startTimeSeconds\":");
            uint(b, seconds);
            b.extend_from_slice(b"}},{\"text\":\" ");
        }
        _ => b.extend_from_slice(b"{\"text\":\""),
    }
    esc(b, message);
    b.extend_from_slice(b"\"}");
    csv_close(b, start);
}

/// Google's file name for a title, below `dir`: `\ ; | : ?` dropped, `' / % * "` made `_`,
/// `suffix` added, all cut to `max` UTF-16 code units (never inside a character), then `ext`
/// (as immich-go reverse-engineered it from real exports).
pub(super) fn file_name(out: &mut String, dir: &str, title: &[&str], suffix: &str, max: usize, ext: &str) {
    out.push_str(dir);
    let mut units = 0;
    for c in title.iter().flat_map(|p| p.chars()).chain(suffix.chars()) {
        let c = match c {
            '\\' | ';' | '|' | ':' | '?' => continue,
            '\'' | '/' | '%' | '*' | '"' => '_',
            c => c,
        };
        units += c.len_utf16();
        if units > max {
            break;
        }
        out.push(c);
    }
    out.push_str(ext);
}

/// The rows of one file written by [`file_per_slot`]: each ends with [`Rows::end`].
struct Rows {
    b: Vec<u8>,
    ends: Vec<usize>,
}

impl Rows {
    /// Ends the row written since the last one.
    fn end(&mut self) {
        self.b.push(b'\n');
        self.ends.push(self.b.len());
    }
}

/// One CSV file for every slot that `keep` selects (a playlist's videos, a collection's items):
/// `file` writes its path and its rows, each a record.
fn file_per_slot(
    x: &mut Export<'_>,
    header: &str,
    keep: impl Fn(&Slot) -> bool,
    mut file: impl FnMut(&mut Slot, &mut String, &mut Rows),
) -> Result<(), SourceError> {
    let mut path = String::new();
    let mut rows = Rows { b: Vec::with_capacity(1024), ends: Vec::with_capacity(16) };
    for mut slot in slots(&x.timeline, x.lower, x.upper) {
        if !keep(&slot) {
            continue;
        }
        x.request.check()?;
        path.clear();
        rows.b.clear();
        rows.ends.clear();
        file(&mut slot, &mut path, &mut rows);
        x.sink.begin_file(&path, FileLayout::csv(header))?;
        let mut start = 0;
        for &end in &rows.ends {
            x.sink.record(&rows.b[start..end])?;
            start = end;
        }
        x.sink.end_file()?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Groups

pub(super) fn subscription(r: &mut Rng, b: &mut Vec<u8>) {
    let ch = r.below(CHANNELS.len() as u64) as usize;
    // A user is subscribed to many channels beyond the named ones: vary the id per slot.
    let id_start = b.len();
    b.extend_from_slice(b"UC");
    random_chars(b, r, 22, BASE64URL);
    let id_end = b.len();
    b.extend_from_slice(b",http://www.youtube.com/channel/");
    b.extend_from_within(id_start..id_end);
    b.push(b',');
    csv_field(b, CHANNELS[ch]);
}

/// `comments/comments.csv`: one comment per slot, on a video (or, for a share, a post); a
/// quarter are replies, whose id is `<parent>.<22 characters>` and whose parent is the thread's
/// top-level comment. `Price` is a Super Thanks amount, `0` when unpaid.
fn comment(r: &mut Rng, t: i64, me: &[u8; 24], b: &mut Vec<u8>) {
    let reply = r.chance(25);
    let on_post = r.chance(15);
    let id_start = b.len();
    comment_id(b, r);
    let parent = (id_start, b.len());
    if reply {
        b.push(b'.');
        random_chars(b, r, 22, BASE64URL);
    }
    b.push(b',');
    b.extend_from_slice(me);
    b.push(b',');
    yt_time(b, t);
    b.push(b',');
    if r.chance(3) {
        money(b, r.pick(&[199, 499, 999, 4999]));
    } else {
        b.push(b'0');
    }
    b.push(b',');
    if reply {
        b.extend_from_within(parent.0..parent.1);
    }
    b.push(b',');
    if on_post {
        post_id(b, r);
    }
    b.push(b',');
    let video = (!on_post).then(|| {
        let from = b.len();
        video_id(b, r);
        (from, b.len())
    });
    b.push(b',');
    segments(b, r, video);
    b.push(b',');
    if reply {
        b.extend_from_within(parent.0..parent.1);
    }
}

/// `live chats/live chats.csv`: a message in a live stream's chat; a few are Super Chats
/// (`Price` in micros of `Currency code`).
fn live_chat(r: &mut Rng, t: i64, me: &[u8; 24], b: &mut Vec<u8>) {
    b.extend_from_slice(b"ChwKGkNJ");
    random_chars(b, r, 18, BASE64URL);
    b.push(b',');
    b.extend_from_slice(me);
    b.push(b',');
    yt_time(b, t);
    b.push(b',');
    if r.chance(4) {
        uint(b, r.pick(&[990_000, 1_990_000, 4_990_000, 19_990_000]));
        b.push(b',');
        b.extend_from_slice(r.pick(CURRENCIES).as_bytes());
    } else {
        b.extend_from_slice(b"0,");
    }
    b.push(b',');
    let from = b.len();
    video_id(b, r);
    let to = b.len();
    b.push(b',');
    segments(b, r, Some((from, to)));
}

/// `videos/<title>.mp4` (the page's "video media", original format or MP4) and the page's
/// "videos" object as Takeout's `video metadata/videos.csv`, in one archive part. The file is
/// linked to its row by the title alone; `Privacy` is the group's visibility.
fn videos(x: &mut Export<'_>, privacy: &'static str, me: &[u8; 24]) -> Result<(), SourceError> {
    x.bundle(|x| {
        x.records("video metadata/videos.csv", FileLayout::csv(VIDEOS), all, |s, b| {
            video(&mut s.rng, s.time, privacy, me, b)
        })?;
        x.media(
            all,
            |s, name| file_name(name, "videos/", &video_title(&mut s.rng), "", 43, ".mp4"),
            |s, b| mp4(b, s.rng.next()),
        )
    })
}

fn video(r: &mut Rng, t: i64, privacy: &str, me: &[u8; 24], b: &mut Vec<u8>) {
    // The title first: the media file's name draws it too.
    let title = video_title(r);
    video_id(b, r);
    b.push(b',');
    uint(b, r.range(15_000, 3_600_000) as u64);
    b.push(b',');
    b.extend_from_slice(r.pick(LANGUAGES).as_bytes());
    b.push(b',');
    csv_field(b, r.pick(VIDEO_CATEGORIES));
    b.push(b',');
    csv_field(b, r.pick(VIDEO_DESCRIPTIONS));
    b.push(b',');
    b.extend_from_slice(me);
    let tags = r.below(4);
    for i in 0..3 {
        b.push(b',');
        if i < tags {
            csv_field(b, r.pick(TAGS));
        }
    }
    b.push(b',');
    csv_text(b, &title);
    b.push(b',');
    b.extend_from_slice(privacy.as_bytes());
    b.push(b',');
    b.extend_from_slice(if r.chance(92) { b"Processed" } else { b"Uploaded" });
    // Uploaded a little before it was published (the slot's time).
    b.push(b',');
    yt_time(b, t - r.range(60, 7200) * 1_000_000);
    b.push(b',');
    yt_time(b, t);
}

/// A playlist as both of its files draw it: the title first, then the generator of its videos.
struct Playlist {
    title: Text,
    videos: u64,
    created: i64,
    updated: i64,
}

fn playlist(s: &mut Slot, titles: &[&'static str]) -> Playlist {
    let r = &mut s.rng;
    let title = match r.below(3) {
        0 => [r.pick(titles), " ", r.pick(YEARS), ""],
        _ => one(r.pick(titles)),
    };
    let videos = r.next();
    let created = s.time - r.range(3600, 3 * 365 * 86_400) * 1_000_000;
    Playlist { title, videos, created, updated: s.time }
}

/// `playlists/playlists.csv` (this group's visibility only) and one `<title>-videos.csv` per
/// playlist: Takeout, as immich-go and donation parsers read it (and their name rule).
fn playlists(x: &mut Export<'_>, visibility: &'static str) -> Result<(), SourceError> {
    x.records("playlists/playlists.csv", FileLayout::csv(PLAYLISTS), all, |s, b| {
        let p = playlist(s, PLAYLIST_TITLES);
        let r = &mut s.rng;
        b.extend_from_slice(b"PL");
        random_chars(b, r, 32, BASE64URL);
        b.extend_from_slice(if r.chance(20) { b",True," } else { b",False," });
        csv_text(b, &p.title);
        b.push(b',');
        if r.chance(70) {
            b.extend_from_slice(b"en");
        }
        b.push(b',');
        yt_time(b, p.created);
        b.push(b',');
        yt_time(b, p.updated);
        b.push(b',');
        csv_field(b, r.pick(PLAYLIST_ORDERS));
        b.push(b',');
        b.extend_from_slice(visibility.as_bytes());
    })?;
    file_per_slot(x, PLAYLIST_VIDEOS, all, |s, path, rows| {
        let p = playlist(s, PLAYLIST_TITLES);
        file_name(path, "playlists/", &p.title, "-videos", 47, ".csv");
        // 1–8 videos, added between the playlist's creation and its last update.
        let mut r = Rng::new(p.videos);
        let n = r.range(1, 8);
        let step = (p.updated - p.created) / n;
        for i in 0..n {
            video_id(&mut rows.b, &mut r);
            rows.b.push(b',');
            yt_time(&mut rows.b, p.created + step * i + r.below(step.max(1) as u64) as i64);
            rows.end();
        }
    })
}

/// A channel as every file of `channels/` draws it: id and title first.
struct Channel {
    id: [u8; 24],
    title: Text,
}

fn own(r: &mut Rng) -> Channel {
    let mut b = Vec::with_capacity(24);
    random_channel(&mut b, r);
    let mut id = [0u8; 24];
    id.copy_from_slice(&b);
    let first = r.pick(FIRST_NAMES);
    let title =
        if r.chance(50) { [first, " ", r.pick(LAST_NAMES), ""] } else { [first, r.pick(CHANNEL_SUFFIXES), "", ""] };
    Channel { id, title }
}

/// `channels/*.csv`, one row per channel the user owns (Takeout, as donation parsers and a
/// Takeout manager read it). Page settings and community moderation settings are known to have
/// `Channel ID` only; the English header of `channel images.csv` is a guess.
fn channel(x: &mut Export<'_>) -> Result<(), SourceError> {
    x.records("channels/channel.csv", FileLayout::csv(CHANNEL), all, |s, b| {
        let c = own(&mut s.rng);
        let r = &mut s.rng;
        b.extend_from_slice(&c.id);
        b.push(b',');
        b.extend_from_slice(r.pick(CITIES).code.as_bytes());
        b.push(b',');
        if r.chance(70) {
            csv_field(b, r.pick(CHANNEL_DESCRIPTIONS));
        }
        let tags = r.below(3);
        for i in 0..2 {
            b.push(b',');
            if i < tags {
                csv_field(b, r.pick(TAGS));
            }
        }
        b.push(b',');
        csv_text(b, &c.title);
        b.extend_from_slice(if r.chance(85) { b",Public" } else { b",Private" });
    })?;
    x.records("channels/channel URL configs.csv", FileLayout::csv(CHANNEL_URLS), all, |s, b| {
        let c = own(&mut s.rng);
        let r = &mut s.rng;
        b.extend_from_slice(&c.id);
        b.push(b',');
        let handle = b.len();
        for part in c.title {
            email_part(b, part);
        }
        b.push(b',');
        if r.chance(15) {
            b.extend_from_within(handle..b.len() - 1);
            uint(b, r.range(1, 999) as u64);
        }
    })?;
    x.records("channels/channel feature data.csv", FileLayout::csv(CHANNEL_FEATURES), all, |s, b| {
        let c = own(&mut s.rng);
        let r = &mut s.rng;
        b.extend_from_slice(&c.id);
        b.extend_from_slice(if r.chance(60) { b",true," } else { b",false," });
        csv_field(b, r.pick(ALLOWED_COMMENTS));
        b.push(b',');
        csv_field(b, r.pick(AUDIENCES));
        b.push(b',');
        csv_field(b, r.pick(LICENSES));
        b.push(b',');
        if r.chance(25) {
            let pl = place(r);
            fixed7(b, pl.lat);
            b.push(b',');
            fixed7(b, pl.lng);
        } else {
            b.push(b',');
        }
    })?;
    for file in ["channels/channel page settings.csv", "channels/channel community moderation settings.csv"] {
        x.records(file, FileLayout::csv("Channel ID"), all, |s, b| b.extend_from_slice(&own(&mut s.rng).id))?;
    }
    x.records("channels/channel images.csv", FileLayout::csv(CHANNEL_IMAGES), all, |s, b| {
        let c = own(&mut s.rng);
        let r = &mut s.rng;
        b.extend_from_slice(&c.id);
        b.push(b',');
        yt_time(b, s.time);
        b.extend_from_slice(b",https://yt3.googleusercontent.com/");
        random_chars(b, r, 64, BASE64URL);
    })
}

/// `music (library and uploads)/`: `music library songs.csv` (70 % of the slots) and, in one
/// archive part, `music uploads metadata.csv` with the uploaded tracks beside it as
/// `<Song Title>.mp3` (Takeout, as the youtube-music-takeout-organizer scripts read it; their
/// `Duration` is `3m40s`; the column order of the uploads file is not known).
fn music(x: &mut Export<'_>) -> Result<(), SourceError> {
    const DIR: &str = "music (library and uploads)/";
    let library = |s: &Slot| s.pick < 70;
    let upload = |s: &Slot| s.pick >= 70;
    x.records(
        "music (library and uploads)/music library songs.csv",
        FileLayout::csv(LIBRARY_SONGS),
        library,
        |s, b| {
            let r = &mut s.rng;
            video_id(b, r);
            b.push(b',');
            csv_field(b, r.pick(SONGS));
            b.push(b',');
            csv_field(b, r.pick(ALBUMS));
            b.push(b',');
            csv_field(b, r.pick(ARTISTS));
            b.push(b',');
            if r.chance(15) {
                csv_field(b, r.pick(ARTISTS));
            }
        },
    )?;
    x.bundle(|x| {
        x.records(
            "music (library and uploads)/music uploads metadata.csv",
            FileLayout::csv(MUSIC_UPLOADS),
            upload,
            |s, b| {
                let r = &mut s.rng;
                // The title first: the audio file's name draws it too.
                csv_field(b, r.pick(TRACKS));
                b.push(b',');
                csv_field(b, r.pick(ALBUMS));
                b.push(b',');
                csv_field(b, r.pick(ARTISTS));
                b.push(b',');
                let seconds = r.range(95, 420) as u64;
                uint(b, seconds / 60);
                b.push(b'm');
                uint(b, seconds % 60);
                b.push(b's');
            },
        )?;
        x.media(
            upload,
            |s, name| file_name(name, DIR, &[s.rng.pick(TRACKS)], "", 43, ".mp3"),
            |s, b| {
                let _album = s.rng.pick(ALBUMS);
                let artist = s.rng.pick(ARTISTS);
                mp3(b, artist, s.rng.next());
            },
        )
    })
}

/// `posts/posts.csv` and, for 60 % of the posts, `posts/<Post ID>_image.jpg` beside it, in one
/// archive part (Takeout, as an importer's fixtures show it: only these columns are known in
/// English; `Post text` is JSON segments).
fn posts(x: &mut Export<'_>) -> Result<(), SourceError> {
    let with_image = |s: &Slot| s.pick < 60;
    x.bundle(|x| {
        x.records("posts/posts.csv", FileLayout::csv(POSTS), all, |s, b| {
            let r = &mut s.rng;
            // The id first: the image's name draws it too.
            let id = b.len();
            post_id(b, r);
            let id_end = b.len();
            b.push(b',');
            segments(b, r, None);
            b.push(b',');
            if with_image(s) {
                b.extend_from_within(id..id_end);
                b.extend_from_slice(b"_image.jpg");
            }
        })?;
        x.media(
            with_image,
            |s, name| {
                let mut id = Vec::with_capacity(36);
                post_id(&mut id, &mut s.rng);
                name.push_str("posts/");
                name.push_str(std::str::from_utf8(&id).unwrap_or_default());
                name.push_str("_image.jpg");
            },
            |s, b| jpeg(b, s.rng.next()),
        )
    })
}

/// A shopping collection as its files draw it: title first.
struct Collection {
    title: Text,
    seed: u64,
}

fn collection(r: &mut Rng) -> Collection {
    let title = one(r.pick(COLLECTION_TITLES));
    Collection { title, seed: r.next() }
}

fn collection_id(b: &mut Vec<u8>, seed: u64) {
    b.extend_from_slice(b"SC");
    random_chars(b, &mut Rng::new(seed), 20, BASE64URL);
}

/// Not documented on the page. One importer's fixture shows
/// `shopping-collections/shopping-collections.csv` (`Shopping Collection ID`, `…Title`,
/// `…Description`), `<title>-items.csv` and `<title>-thumbnail.jpg`; the items' other columns
/// are a guess. All in one archive part.
fn shopping(x: &mut Export<'_>) -> Result<(), SourceError> {
    x.bundle(|x| {
        x.records(
            "shopping-collections/shopping-collections.csv",
            FileLayout::csv(SHOPPING_COLLECTIONS),
            all,
            |s, b| {
                let c = collection(&mut s.rng);
                collection_id(b, c.seed);
                b.push(b',');
                csv_text(b, &c.title);
                b.push(b',');
                csv_field(b, s.rng.pick(COLLECTION_DESCRIPTIONS));
            },
        )?;
        file_per_slot(x, SHOPPING_ITEMS, all, |s, path, rows| {
            let c = collection(&mut s.rng);
            file_name(path, "shopping-collections/", &c.title, "-items", 47, ".csv");
            let mut r = Rng::new(c.seed ^ GOLDEN);
            for i in 0..r.range(1, 6) {
                let b = &mut rows.b;
                collection_id(b, c.seed);
                b.push(b',');
                uint(b, 1_000_000_000_000 + r.below(9_000_000_000_000));
                b.push(b',');
                let (brand, _) = r.pick(BRANDS);
                csv_text(b, &[brand, " ", r.pick(YOUTUBE_ITEMS)]);
                b.push(b',');
                yt_time(b, s.time - i * 86_400_000_000 - r.below(86_400_000_000) as i64);
                rows.end();
            }
        })?;
        x.media(
            all,
            |s, name| file_name(name, "shopping-collections/", &collection(&mut s.rng).title, "-thumbnail", 47, ".jpg"),
            |s, b| jpeg(b, s.rng.next()),
        )
    })
}

/// Not documented: a clip of a video (5–60 s), with the title its maker gave it.
fn clip(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    post_id(b, r);
    b.push(b',');
    video_id(b, r);
    b.push(b',');
    csv_field(b, r.pick(CLIP_TITLES));
    b.push(b',');
    let start = r.below(1_800_000);
    uint(b, start);
    b.push(b',');
    uint(b, start + 5000 + r.below(55_000));
    b.push(b',');
    yt_time(b, t);
}

/// Not documented: a message in one of a few conversations of the user (ids constant per user),
/// sent by the user or the other participant, sometimes sharing a video.
fn message(r: &mut Rng, t: i64, key: u64, me: &[u8; 24], b: &mut Vec<u8>) {
    let conversation = r.below(5);
    let mut c = Rng::new(mix(key ^ (conversation + 1).wrapping_mul(GOLDEN)));
    b.extend_from_slice(b"Ugw");
    random_chars(b, &mut c, 21, BASE64URL);
    b.push(b',');
    b.extend_from_slice(b"Ugx");
    random_chars(b, r, 21, BASE64URL);
    b.push(b',');
    if r.chance(50) {
        b.extend_from_slice(me);
    } else {
        random_channel(b, &mut c);
    }
    b.push(b',');
    yt_time(b, t);
    b.push(b',');
    let video = r.chance(30).then(|| {
        let from = b.len();
        video_id(b, r);
        (from, b.len())
    });
    b.push(b',');
    segments(b, r, video);
}

/// Not documented: a playable's saved progress, the game's own string (here JSON).
fn playable(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let game = r.below(PLAYABLE_GAMES.len() as u64);
    // A game's id is the same for everyone.
    post_id(b, &mut Rng::new(mix(game ^ 0x504C_4159_4142_4C45)));
    b.push(b',');
    csv_field(b, PLAYABLE_GAMES[game as usize]);
    b.push(b',');
    yt_time(b, t);
    b.push(b',');
    let start = b.len();
    b.extend_from_slice(b"{\"level\":");
    uint(b, r.range(1, 250) as u64);
    b.extend_from_slice(b",\"score\":");
    uint(b, r.below(1_000_000));
    b.extend_from_slice(b",\"sound\":");
    b.extend_from_slice(if r.chance(70) { b"true" } else { b"false" });
    b.push(b'}');
    csv_close(b, start);
}

// ---------------------------------------------------------------------------------------------
// Audio

/// A valid MP3 that differs per `id`: an ID3v2.4 tag (`TPE1` artist, `TXXX` id) and a quarter
/// second of silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono; zeroed side information
/// decodes to silence).
pub(super) fn mp3(b: &mut Vec<u8>, artist: &str, id: u64) {
    fn synchsafe(v: usize) -> [u8; 4] {
        [((v >> 21) & 0x7F) as u8, ((v >> 14) & 0x7F) as u8, ((v >> 7) & 0x7F) as u8, (v & 0x7F) as u8]
    }
    fn frame(b: &mut Vec<u8>, name: &[u8; 4], body: &[u8]) {
        b.extend_from_slice(name);
        b.extend_from_slice(&synchsafe(body.len()));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(body);
    }
    let mut frames = Vec::with_capacity(96);
    let mut text = vec![3]; // UTF-8
    text.extend_from_slice(artist.as_bytes());
    frame(&mut frames, b"TPE1", &text);
    text.truncate(1);
    text.extend_from_slice(b"dataport\0");
    hex(&mut text, id, 16);
    frame(&mut frames, b"TXXX", &text);
    b.extend_from_slice(b"ID3\x04\x00\x00");
    b.extend_from_slice(&synchsafe(frames.len()));
    b.extend_from_slice(&frames);
    // 144 · 128000 / 44100 = 417 bytes a frame, without padding.
    for _ in 0..10 {
        b.extend_from_slice(&[0xFF, 0xFB, 0x90, 0xC4]);
        b.resize(b.len() + 413, 0);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::super::test_sink::*;
    use super::*;

    /// CSV files by path, parsed (header row first).
    type Tables = Vec<(String, Vec<Vec<String>>)>;

    /// Every file of a group: CSV files parsed, media as bytes.
    fn files(name: &str, records: u64) -> (Tables, Vec<(String, Vec<u8>)>) {
        let mut csv = Vec::new();
        let mut media = Vec::new();
        for f in run_all(&emulator(records, 0), name, "alice", None, EXPORT) {
            if f.layout == FileLayout::media() {
                media.push((f.name.clone(), f.document()));
            } else {
                assert!(f.name.ends_with(".csv"), "{name}: {}", f.name);
                assert!(f.records.iter().all(|r| r.ends_with(b"\n")), "{name}: {}", f.name);
                let rows = parse_csv(&String::from_utf8(f.document()).expect("UTF-8"));
                assert_eq!(f.layout, FileLayout::csv(&rows[0].join(",")), "{name}: {}", f.name);
                for row in &rows {
                    assert_eq!(row.len(), rows[0].len(), "{name}: {}: {row:?}", f.name);
                }
                assert_eq!(rows.len(), f.records.len() + 1, "{name}: {}: a row per record", f.name);
                csv.push((f.name.clone(), rows));
            }
        }
        (csv, media)
    }

    fn header(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    fn column<'a>(rows: &'a [Vec<String>], name: &str) -> impl Iterator<Item = &'a str> {
        let i = rows[0].iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
        rows[1..].iter().map(move |r| r[i].as_str())
    }

    fn is_time(s: &str) -> bool {
        s.ends_with("+00:00") && dataport_types::Timestamp::parse(&s.replace("+00:00", "Z")).is_ok()
    }

    fn segments_of(s: &str) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&format!("[{s}]")).unwrap_or_else(|_| panic!("segments: {s}"));
        let segs = v.as_array().expect("array").clone();
        assert!(!segs.is_empty() && segs.iter().all(|g| g["text"].is_string()), "{s}");
        segs
    }

    #[test]
    fn subscriptions_keep_their_takeout_header_and_quoting() {
        let (csv, media) = files("youtube.subscriptions", 200);
        assert!(media.is_empty());
        let [(path, rows)] = &csv[..] else { panic!("one file") };
        assert_eq!(path, "subscriptions/subscriptions.csv");
        assert_eq!(rows[0], header(SUBSCRIPTIONS));
        for row in &rows[1..] {
            assert!(row[0].starts_with("UC") && row[0].len() == 24, "{row:?}");
            assert_eq!(row[1], format!("http://www.youtube.com/channel/{}", row[0]));
        }
        assert!(column(rows, "Channel Title").any(|t| t.contains(',')));
        assert!(column(rows, "Channel Title").any(|t| t.contains('"')));
    }

    #[test]
    fn comments_and_live_chats_hold_json_segments() {
        let me = String::from_utf8(own_channel("alice").to_vec()).expect("ASCII");
        let (csv, _) = files("youtube.comments", 300);
        let [(path, rows)] = &csv[..] else { panic!("one file") };
        assert_eq!(path, "comments/comments.csv");
        assert_eq!(rows[0], header(COMMENTS));
        let (mut replies, mut links, mut mentions, mut posts) = (0, 0, 0, 0);
        for row in &rows[1..] {
            let [id, channel, time, price, parent, post, video, text, top] = &row[..] else { panic!("{row:?}") };
            assert_eq!(channel, &me);
            assert!(is_time(time) && price.parse::<f64>().is_ok(), "{row:?}");
            assert!(post.is_empty() != video.is_empty(), "a video or a post: {row:?}");
            assert_eq!(parent, top);
            if !parent.is_empty() {
                assert!(id.starts_with(&format!("{parent}.")), "{row:?}");
                replies += 1;
            }
            posts += usize::from(!post.is_empty());
            for s in segments_of(text) {
                if let Some(l) = s.get("videoLink") {
                    assert_eq!(l["externalVideoId"], video.as_str());
                    assert!(l["startTimeSeconds"].is_u64());
                    links += 1;
                }
                if let Some(m) = s.get("mention") {
                    assert!(m["externalChannelId"].as_str().expect("id").starts_with("UC"));
                    mentions += 1;
                }
            }
        }
        assert!(replies > 0 && links > 0 && mentions > 0 && posts > 0);

        let (csv, _) = files("youtube.live_chat", 300);
        let [(path, rows)] = &csv[..] else { panic!("one file") };
        assert_eq!(path, "live chats/live chats.csv");
        assert_eq!(rows[0], header(LIVE_CHATS));
        let mut paid = 0;
        for row in &rows[1..] {
            let [_, channel, time, price, currency, video, text] = &row[..] else { panic!("{row:?}") };
            assert!(channel == &me && is_time(time) && video.len() == 11, "{row:?}");
            assert_eq!(price == "0", currency.is_empty(), "{row:?}");
            paid += usize::from(price != "0");
            segments_of(text);
        }
        assert!(paid > 0);
    }

    #[test]
    fn video_groups_bundle_titled_mp4s_with_their_metadata() {
        for (name, privacy) in [
            ("youtube.private_videos", "Private"),
            ("youtube.public_videos", "Public"),
            ("youtube.unlisted_videos", "Unlisted"),
        ] {
            let (csv, media) = files(name, 60);
            let [(path, rows)] = &csv[..] else { panic!("one listing") };
            assert_eq!(path, "video metadata/videos.csv");
            assert_eq!(rows[0], header(VIDEOS));
            assert_eq!(media.len(), rows.len() - 1, "{name}");
            assert!(column(rows, "Privacy").all(|p| p == privacy));
            assert!(column(rows, "Video ID").all(|v| v.len() == 11));
            assert!(column(rows, "Approx Duration (ms)").all(|d| d.parse::<u64>().is_ok()));
            assert!(column(rows, "Video Create Timestamp").chain(column(rows, "Video Publish Timestamp")).all(is_time));
            assert!(column(rows, "Video Description (Original)").any(|d| d.contains('\n')));
            assert!(column(rows, "Tag 1").any(|t| !t.is_empty()) && column(rows, "Tag 3").any(|t| t.is_empty()));
            // The file is linked to its row by the title.
            for ((file, bytes), title) in media.iter().zip(column(rows, "Video Title (Original)")) {
                let mut expected = String::new();
                file_name(&mut expected, "videos/", &[title], "", 43, ".mp4");
                assert_eq!(file, &expected);
                assert_eq!(&bytes[4..8], b"ftyp");
            }
            let distinct: HashSet<&Vec<u8>> = media.iter().map(|(_, b)| b).collect();
            assert_eq!(distinct.len(), media.len(), "{name}: distinct files");
        }
    }

    #[test]
    fn file_names_follow_googles_rules() {
        let mut s = String::new();
        file_name(&mut s, "videos/", &["Demo: part 1? \"yes\" / 50% * 'x' \\ a;b|c"], "", 43, ".mp4");
        assert_eq!(s, "videos/Demo part 1 _yes_ _ 50_ _ _x_  abc.mp4");
        s.clear();
        file_name(&mut s, "", &["Kids' songs"], "-videos", 47, ".csv");
        assert_eq!(s, "Kids_ songs-videos.csv");
        s.clear();
        // Cut to 47 UTF-16 code units, never inside a character (😀 is two units).
        file_name(&mut s, "", &["a".repeat(46).as_str(), "😀"], "-videos", 47, ".csv");
        assert_eq!(s, format!("{}.csv", "a".repeat(46)));
        s.clear();
        file_name(&mut s, "", &["a".repeat(45).as_str(), "😀"], "-videos", 47, ".csv");
        assert_eq!(s, format!("{}😀.csv", "a".repeat(45)));
        s.clear();
        file_name(&mut s, "", &["a".repeat(40).as_str()], "-videos", 47, ".csv");
        assert_eq!(s, format!("{}-videos.csv", "a".repeat(40)));
    }

    #[test]
    fn playlists_list_their_videos_in_one_file_each() {
        for (name, visibility) in [
            ("youtube.private_playlists", "Private"),
            ("youtube.public_playlists", "Public"),
            ("youtube.unlisted_playlists", "Unlisted"),
        ] {
            let (csv, media) = files(name, 40);
            assert!(media.is_empty());
            let (listing, rows) = &csv[0];
            assert_eq!(listing, "playlists/playlists.csv");
            assert_eq!(rows[0], header(PLAYLISTS));
            assert!(column(rows, "Playlist Visibility").all(|v| v == visibility));
            assert!(column(rows, "Add new videos to top").all(|v| v == "True" || v == "False"));
            assert!(column(rows, "Playlist ID").all(|v| v.starts_with("PL") && v.len() == 34));
            let times = column(rows, "Playlist Create Timestamp").zip(column(rows, "Playlist Update Timestamp"));
            assert!(times.into_iter().all(|(c, u)| is_time(c) && is_time(u)));
            // One `<title>-videos.csv` per row, in the same order, with 1–8 videos.
            assert_eq!(csv.len(), rows.len());
            for ((file, videos), title) in csv[1..].iter().zip(column(rows, "Playlist Title (Original)")) {
                let mut expected = String::new();
                file_name(&mut expected, "playlists/", &[title], "-videos", 47, ".csv");
                assert_eq!(file, &expected);
                assert_eq!(videos[0], header(PLAYLIST_VIDEOS));
                assert!((2..=9).contains(&videos.len()), "{file}: {}", videos.len());
                assert!(videos[1..].iter().all(|v| v[0].len() == 11 && is_time(&v[1])));
            }
        }
        // An empty window: the listing alone, a header.
        let files = run_all(&emulator(40, 0), "youtube.public_playlists", "alice", Some(EXPORT), EXPORT);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].document(), format!("{PLAYLISTS}\n").into_bytes());
    }

    #[test]
    fn channel_files_describe_the_same_channels() {
        let (csv, media) = files("youtube.channel", 40);
        assert!(media.is_empty());
        let names: Vec<&str> = csv.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "channels/channel.csv",
                "channels/channel URL configs.csv",
                "channels/channel feature data.csv",
                "channels/channel page settings.csv",
                "channels/channel community moderation settings.csv",
                "channels/channel images.csv",
            ]
        );
        let headers = [CHANNEL, CHANNEL_URLS, CHANNEL_FEATURES, "Channel ID", "Channel ID", CHANNEL_IMAGES];
        let ids: Vec<&str> = column(&csv[0].1, "Channel ID").collect();
        assert!(ids.iter().all(|i| i.starts_with("UC") && i.len() == 24));
        for ((_, rows), h) in csv.iter().zip(headers) {
            assert_eq!(rows[0], header(h));
            assert_eq!(column(rows, "Channel ID").collect::<Vec<_>>(), ids);
        }
        let channel = &csv[0].1;
        assert!(column(channel, "Channel Visibility").all(|v| v == "Public" || v == "Private"));
        assert!(column(channel, "Channel Title (Original)").all(|v| !v.is_empty()));
        assert!(column(&csv[1].1, "Channel Vanity URL 1 Name").all(|v| !v.is_empty()));
        let features = &csv[2].1;
        assert!(column(features, "Channel Auto Moderation in Live Chat").all(|v| v == "true" || v == "false"));
        assert!(column(features, "Video Default Location Latitude").any(|v| v.parse::<f64>().is_ok()));
        assert!(column(&csv[5].1, "Create Timestamp").all(is_time));
    }

    #[test]
    fn music_splits_library_and_uploads_with_mp3s_beside_their_metadata() {
        let (csv, media) = files("youtube.music", 100);
        let [(library, songs), (uploads, meta)] = &csv[..] else { panic!("two listings") };
        assert_eq!(library, "music (library and uploads)/music library songs.csv");
        assert_eq!(uploads, "music (library and uploads)/music uploads metadata.csv");
        assert_eq!(songs[0], header(LIBRARY_SONGS));
        assert_eq!(meta[0], header(MUSIC_UPLOADS));
        assert!(songs.len() > meta.len() && meta.len() > 1);
        assert!(column(songs, "Video ID").all(|v| v.len() == 11));
        assert!(column(meta, "Duration").all(|d| d.ends_with('s') && d.contains('m')));
        assert_eq!(media.len(), meta.len() - 1);
        for ((file, bytes), title) in media.iter().zip(column(meta, "Song Title")) {
            let mut expected = String::new();
            file_name(&mut expected, "music (library and uploads)/", &[title], "", 43, ".mp3");
            assert_eq!(file, &expected);
            assert!(bytes.starts_with(b"ID3\x04"));
            let audio = 10 + usize::from(bytes[9]) + (usize::from(bytes[8]) << 7);
            assert_eq!(&bytes[audio..audio + 2], [0xFF, 0xFB], "{file}: a frame after the tag");
            assert_eq!(bytes.len(), audio + 10 * 417);
        }
    }

    #[test]
    fn posts_name_their_images() {
        let (csv, media) = files("youtube.posts", 60);
        let [(path, rows)] = &csv[..] else { panic!("one listing") };
        assert_eq!(path, "posts/posts.csv");
        assert_eq!(rows[0], header(POSTS));
        let named: Vec<String> = rows[1..]
            .iter()
            .filter(|r| !r[2].is_empty())
            .map(|r| {
                assert_eq!(r[2], format!("{}_image.jpg", r[0]));
                format!("posts/{}", r[2])
            })
            .collect();
        assert!(!named.is_empty() && named.len() < rows.len() - 1, "a share has an image");
        assert_eq!(media.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), named);
        assert!(media.iter().all(|(_, b)| b.starts_with(&[0xFF, 0xD8, 0xFF])));
        assert!(column(rows, "Post ID").all(|p| p.starts_with("Ugkx") && p.len() == 36));
        for t in column(rows, "Post text") {
            segments_of(t);
        }
    }

    #[test]
    fn shopping_collections_name_their_items_and_thumbnails() {
        let (csv, media) = files("youtube.shopping", 30);
        let (listing, rows) = &csv[0];
        assert_eq!(listing, "shopping-collections/shopping-collections.csv");
        assert_eq!(rows[0], header(SHOPPING_COLLECTIONS));
        assert_eq!(csv.len(), rows.len());
        assert_eq!(media.len(), rows.len() - 1);
        for (((file, items), row), (thumb, _)) in csv[1..].iter().zip(&rows[1..]).zip(&media) {
            let mut expected = String::new();
            file_name(&mut expected, "shopping-collections/", &[row[1].as_str()], "-items", 47, ".csv");
            assert_eq!(file, &expected);
            expected.clear();
            file_name(&mut expected, "shopping-collections/", &[row[1].as_str()], "-thumbnail", 47, ".jpg");
            assert_eq!(thumb, &expected);
            assert_eq!(items[0], header(SHOPPING_ITEMS));
            assert!(items.len() > 1 && items[1..].iter().all(|i| i[0] == row[0] && is_time(&i[3])));
        }
    }

    #[test]
    fn undocumented_groups_write_one_plausible_csv() {
        for (name, path, head) in [
            ("youtube.clips", "clips/clips.csv", CLIPS),
            ("youtube.conversations", "conversations/conversations.csv", CONVERSATIONS),
            ("youtube.playable", "playables/playable saves.csv", PLAYABLES),
        ] {
            let (csv, media) = files(name, 50);
            assert!(media.is_empty());
            let [(p, rows)] = &csv[..] else { panic!("{name}: one file") };
            assert_eq!(p, path);
            assert_eq!(rows[0], header(head));
            assert!((50..=52).contains(&rows.len()), "{name}: {}", rows.len());
        }
        let (csv, _) = files("youtube.conversations", 200);
        let conversations: HashSet<&str> = column(&csv[0].1, "Conversation ID").collect();
        assert!((2..=5).contains(&conversations.len()), "a few conversations: {}", conversations.len());
        for t in column(&csv[0].1, "Message Text") {
            segments_of(t);
        }
        let (csv, _) = files("youtube.playable", 50);
        let mut games = HashMap::new();
        for row in &csv[0].1[1..] {
            assert_eq!(games.entry(row[1].clone()).or_insert_with(|| row[0].clone()), &row[0], "one id a game");
            serde_json::from_str::<serde_json::Value>(&row[3]).expect("the save is the game's JSON");
        }
    }

    #[test]
    fn csv_close_quotes_only_when_needed() {
        for s in ["plain", "a,b", "say \"hi\"", "line\nbreak", "", "\"", "{\"text\":\"x\"}"] {
            let mut b = b"x,".to_vec();
            b.extend_from_slice(s.as_bytes());
            csv_close(&mut b, 2);
            let mut expected = b"x,".to_vec();
            csv_field(&mut expected, s);
            assert_eq!(b, expected, "{s}");
        }
        let mut b = Vec::new();
        yt_time(&mut b, 1_689_616_369_000_000);
        assert_eq!(b, b"2023-07-17T17:52:49+00:00");
        b.clear();
        yt_time(&mut b, 1_689_616_369_500_000);
        assert_eq!(b, b"2023-07-17T17:52:49.5+00:00");
    }

    #[test]
    fn every_group_is_deterministic_and_valid_for_an_empty_window() {
        for name in [
            "youtube.channel",
            "youtube.clips",
            "youtube.comments",
            "youtube.conversations",
            "youtube.live_chat",
            "youtube.music",
            "youtube.playable",
            "youtube.posts",
            "youtube.private_playlists",
            "youtube.private_videos",
            "youtube.public_playlists",
            "youtube.public_videos",
            "youtube.shopping",
            "youtube.subscriptions",
            "youtube.unlisted_playlists",
            "youtube.unlisted_videos",
        ] {
            let a = run_all(&emulator(30, 1), name, "alice", None, EXPORT);
            assert_eq!(a, run_all(&emulator(30, 1), name, "alice", None, EXPORT), "{name}");
            assert_ne!(a, run_all(&emulator(30, 1), name, "bob", None, EXPORT), "{name}");
            for f in run_all(&emulator(30, 1), name, "alice", Some(EXPORT), EXPORT) {
                assert!(f.records.is_empty(), "{name}: {}", f.name);
                let text = String::from_utf8(f.document()).expect("UTF-8");
                assert_eq!(parse_csv(&text).len(), 1, "{name}: {} is a header", f.name);
            }
        }
    }
}
