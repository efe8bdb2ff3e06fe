//! What a group's writer works with: the request's window on the group's timeline, the sink, and
//! the few kinds of file Google's exports hold (records framed as JSON, CSV or HTML; media).
//!
//! A group's writer calls [`Export::records`] once per data file and [`Export::media`] once per
//! kind of media file. Every call walks the same slots of the window, newest first, and every slot
//! starts each walk with the same generator, so a media file and the listing row that names it
//! draw the same title. A slot's [`Slot::pick`] (drawn before any content) says which of several
//! files it belongs to, e.g. `Search/` or `Image Search/` for `myactivity.search`.

use std::io::Write as _;

use super::*;

/// One slot of the window: its time and its content generator.
pub(super) struct Slot {
    pub(super) rng: Rng,
    /// Microseconds since the epoch, on the group's resolution.
    pub(super) time: i64,
    /// Identifies the (seed, user, group) timeline: per-user constants are drawn from it.
    pub(super) key: u64,
    /// Uniform in `0..100`, drawn before the content: which file of a split group the slot is in.
    pub(super) pick: u64,
}

/// The export of one group in progress.
pub(super) struct Export<'a> {
    pub(super) timeline: Timeline,
    pub(super) lower: i64,
    pub(super) upper: i64,
    pub(super) request: &'a ExportRequest<'a>,
    pub(super) sink: &'a mut dyn FileSink,
    buf: Vec<u8>,
    name: String,
}

impl<'a> Export<'a> {
    pub(super) fn new(
        timeline: Timeline,
        (lower, upper): (i64, i64),
        request: &'a ExportRequest<'a>,
        sink: &'a mut dyn FileSink,
    ) -> Self {
        Self { timeline, lower, upper, request, sink, buf: Vec::with_capacity(4096), name: String::new() }
    }

    /// One data file holding a record for every slot that `keep` selects, newest first; an empty
    /// window still gives a valid (empty) document. The cancellation flag is read before every
    /// 1024th record and once more before the file is ended.
    pub(super) fn records(
        &mut self,
        name: &str,
        layout: FileLayout,
        keep: impl Fn(&Slot) -> bool,
        mut write: impl FnMut(&mut Slot, &mut Vec<u8>),
    ) -> Result<(), SourceError> {
        let line_end = layout.separator.is_empty();
        self.sink.begin_file(name, layout)?;
        let mut buf = std::mem::take(&mut self.buf);
        let mut written = 0u64;
        for mut slot in slots(&self.timeline, self.lower, self.upper) {
            if !keep(&slot) {
                continue;
            }
            if written.is_multiple_of(CANCEL_CHECK_EVERY) {
                self.request.check()?;
            }
            written += 1;
            buf.clear();
            write(&mut slot, &mut buf);
            if line_end {
                buf.push(b'\n');
            }
            self.sink.record(&buf)?;
        }
        self.buf = buf;
        self.request.check()?;
        self.sink.end_file()?;
        Ok(())
    }

    /// A file of its own for every slot that `keep` selects: a photo, a map, or one small JSON
    /// document per item, as Google writes some folders. `name` writes its path (relative to the
    /// group's folder) and `write`, given that path, its bytes: stored as they are for
    /// [`FileLayout::media`], otherwise framed by `layout` as a data file of one record.
    pub(super) fn files(
        &mut self,
        layout: FileLayout,
        keep: impl Fn(&Slot) -> bool,
        mut name: impl FnMut(&mut Slot, &mut String),
        mut write: impl FnMut(&mut Slot, &str, &mut Vec<u8>),
    ) -> Result<(), SourceError> {
        let media = layout == FileLayout::media();
        let mut buf = std::mem::take(&mut self.buf);
        let mut path = std::mem::take(&mut self.name);
        for mut slot in slots(&self.timeline, self.lower, self.upper) {
            if !keep(&slot) {
                continue;
            }
            self.request.check()?;
            path.clear();
            name(&mut slot, &mut path);
            buf.clear();
            write(&mut slot, &path, &mut buf);
            self.sink.begin_file(&path, layout.clone())?;
            if media {
                self.sink.write(&buf)?;
            } else {
                self.sink.record(&buf)?;
            }
            self.sink.end_file()?;
        }
        self.buf = buf;
        self.name = path;
        Ok(())
    }

    /// [`Export::files`] of media: `bytes` writes a slot's file.
    pub(super) fn media(
        &mut self,
        keep: impl Fn(&Slot) -> bool,
        name: impl FnMut(&mut Slot, &mut String),
        mut bytes: impl FnMut(&mut Slot, &mut Vec<u8>),
    ) -> Result<(), SourceError> {
        self.files(FileLayout::media(), keep, name, |slot, _, b| bytes(slot, b))
    }

    /// The files written by `files` go into one archive part: a listing and the media it names.
    pub(super) fn bundle(
        &mut self,
        files: impl FnOnce(&mut Self) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        self.sink.begin_bundle()?;
        files(self)?;
        self.sink.end_bundle()?;
        Ok(())
    }
}

/// The slots of `timeline` in `[lower, upper)`, newest first.
pub(super) fn slots(timeline: &Timeline, lower: i64, upper: i64) -> impl Iterator<Item = Slot> + '_ {
    timeline.slots(lower, upper).map(|(mut rng, time)| {
        let pick = rng.below(100);
        Slot { rng, time, key: timeline.key, pick }
    })
}

/// Every slot.
pub(super) fn all(_: &Slot) -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// Media: small valid files, distinct per slot, in the formats Google exports.

/// A 64×48 baseline JPEG (made with libjpeg's `cjpeg`).
const PHOTO: &[u8] = include_bytes!("media/photo.jpg");
/// A one-second 64×36 H.264 MP4 with its `moov` first (made with ffmpeg and x264).
const VIDEO: &[u8] = include_bytes!("media/video.mp4");

/// A valid JPEG that differs per `id`: a comment segment (`COM`, JPEG's own metadata) after the
/// JFIF header carries it.
pub(super) fn jpeg(b: &mut Vec<u8>, id: u64) {
    // SOI (2 bytes) and the APP0/JFIF segment (2 + 16 bytes) come first in `PHOTO`.
    let (head, rest) = PHOTO.split_at(20);
    b.extend_from_slice(head);
    let mut comment = Vec::with_capacity(32);
    let _ = write!(comment, "dataport emulator {id:016x}");
    b.extend_from_slice(&[0xFF, 0xFE]);
    b.extend_from_slice(&(comment.len() as u16 + 2).to_be_bytes());
    b.extend_from_slice(&comment);
    b.extend_from_slice(rest);
}

/// A valid MP4 that differs per `id`: a trailing `free` box (ISO 14496-12 §8.1.2) carries it.
pub(super) fn mp4(b: &mut Vec<u8>, id: u64) {
    b.extend_from_slice(VIDEO);
    let payload = format!("dataport emulator {id:016x}");
    b.extend_from_slice(&(payload.len() as u32 + 8).to_be_bytes());
    b.extend_from_slice(b"free");
    b.extend_from_slice(payload.as_bytes());
}

/// A KMZ: a ZIP holding `doc.kml` (Google's KML 2.2), as My Maps exports a map.
pub(super) fn kmz(b: &mut Vec<u8>, kml: &[u8]) {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(std::mem::take(b)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    // Writing into memory cannot fail.
    let _ = zip.start_file("doc.kml", options).and_then(|()| zip.write_all(kml).map_err(Into::into));
    if let Ok(cursor) = zip.finish() {
        *b = cursor.into_inner();
    }
}
