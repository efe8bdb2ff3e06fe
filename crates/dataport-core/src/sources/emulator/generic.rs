//! Groups the schema reference does not document (and groups of an operator's catalogue bound to
//! the emulator): `<last name segment>.json` in the group's folder, a JSON array of plausible
//! records `{id, time, …}` (SPEC §8.1), or NDJSON when the catalogue asks for it.

use super::*;

/// Writes the group's one file.
pub(super) fn export(group: &ResourceGroup, x: &mut Export<'_>) -> Result<(), SourceError> {
    let name = group.name.as_str();
    let last = name.rsplit('.').next().unwrap_or(name);
    let (file, layout) = if group.format == Format::Ndjson {
        (format!("{last}.ndjson"), FileLayout::ndjson())
    } else {
        (format!("{last}.json"), FileLayout::json_array())
    };
    x.records(&file, layout, all, |s, b| record(&mut s.rng, s.time, b))
}

/// `{id, time, title, url, source}`: a page, the most general thing a product keeps.
fn record(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.id(r);
    o.time("time", t);
    let pg = page(r);
    o.text("title", &pg.title);
    page_url(&mut o, "url", &pg);
    o.str("source", "dataport emulator");
    o.end();
}
