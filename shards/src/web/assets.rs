//! The files the WebSocket port serves, embedded in the binary (`shards/web/`), gzip-compressed once at
//! start-up and identified by an entity tag, so browsers revalidate pages cheaply (`304`) and keep
//! scripts and styles for a day.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write as _;

use switchboard_protocol::ws::handshake::PlainRequest;

use super::response::Response;

/// `Cache-Control` of pages: always revalidated with the entity tag (a new binary serves new pages).
const CACHE_PAGE: &str = "no-cache";
/// `Cache-Control` of scripts, styles and images.
const CACHE_ASSET: &str = "public, max-age=86400";

/// Every embedded file: the paths it answers, its type, its bytes.
const FILES: &[(&[&str], &str, &[u8])] = &[
    (
        &["/", "/index.html"],
        "text/html; charset=utf-8",
        include_bytes!("../../web/index.html"),
    ),
    (
        &["/widget", "/widget.html"],
        "text/html; charset=utf-8",
        include_bytes!("../../web/widget.html"),
    ),
    (
        &["/console", "/console.html"],
        "text/html; charset=utf-8",
        include_bytes!("../../web/console.html"),
    ),
    (
        &["/loader.js"],
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/loader.js"),
    ),
    (
        &["/switchboard.js"],
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/switchboard.js"),
    ),
    (
        &["/widget.js"],
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/widget.js"),
    ),
    (
        &["/console.js"],
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/console.js"),
    ),
    (
        &["/app.css"],
        "text/css; charset=utf-8",
        include_bytes!("../../web/app.css"),
    ),
];

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    content_type: &'static str,
    raw: &'static [u8],
    /// The gzip encoding, when it is smaller.
    gzip: Option<Vec<u8>>,
    /// Quoted entity tag of the content.
    etag: String,
    cache_control: &'static str,
}

impl Asset {
    fn new(content_type: &'static str, raw: &'static [u8]) -> Asset {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        raw.hash(&mut hasher);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = encoder
            .write_all(raw)
            .and_then(|()| encoder.finish())
            .ok()
            .filter(|gzip| gzip.len() < raw.len());
        let page = content_type.starts_with("text/html");
        Asset {
            content_type,
            raw,
            gzip,
            etag: format!("\"{:016x}\"", hasher.finish()),
            cache_control: if page { CACHE_PAGE } else { CACHE_ASSET },
        }
    }

    /// The response to `request`: `304` when its cached copy is current, gzip when accepted.
    pub fn respond(&self, request: &PlainRequest) -> Response<'_> {
        let current = request
            .if_none_match
            .as_deref()
            .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == self.etag));
        let (body, gzip) = match (&self.gzip, request.accepts_gzip) {
            _ if current => (&[][..], false),
            (Some(gzip), true) => (gzip.as_slice(), true),
            _ => (self.raw, false),
        };
        Response {
            status: if current { 304 } else { 200 },
            content_type: self.content_type,
            body: body.into(),
            gzip,
            etag: Some(&self.etag),
            cache_control: self.cache_control,
        }
    }

    /// The uncompressed bytes.
    pub fn raw(&self) -> &'static [u8] {
        self.raw
    }

    /// The gzip-compressed size, if compressing made it smaller.
    pub fn gzip_len(&self) -> Option<usize> {
        self.gzip.as_ref().map(Vec::len)
    }
}

/// The embedded files by path.
#[derive(Debug)]
pub struct Assets {
    by_path: HashMap<&'static str, std::sync::Arc<Asset>>,
}

impl Assets {
    /// Every file of `shards/web/`, compressed.
    pub fn embedded() -> Assets {
        let mut by_path = HashMap::new();
        for (paths, content_type, raw) in FILES {
            let asset = std::sync::Arc::new(Asset::new(content_type, raw));
            for path in *paths {
                by_path.insert(*path, std::sync::Arc::clone(&asset));
            }
        }
        Assets { by_path }
    }

    /// The file served at `path`.
    pub fn get(&self, path: &str) -> Option<&Asset> {
        self.by_path.get(path).map(|asset| &**asset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, gzip: bool, etag: Option<&str>) -> PlainRequest {
        PlainRequest {
            path: path.into(),
            query: None,
            accepts_gzip: gzip,
            if_none_match: etag.map(str::to_owned),
        }
    }

    #[test]
    fn pages_are_served_compressed_and_revalidated() {
        let assets = Assets::embedded();
        let page = assets.get("/").expect("the start page");
        let plain = page.respond(&get("/", false, None));
        assert_eq!((plain.status, plain.gzip), (200, false));
        assert_eq!(&*plain.body, page.raw());
        let compressed = page.respond(&get("/", true, None));
        assert_eq!(compressed.gzip, page.gzip_len().is_some());
        let etag = plain.etag.unwrap().to_owned();
        let again = page.respond(&get("/", true, Some(&etag)));
        assert_eq!((again.status, again.body.len()), (304, 0));
        assert_eq!(page.cache_control, CACHE_PAGE);
        assert!(assets.get("/nope").is_none());
    }
}
