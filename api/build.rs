//! Embeds the web console (`web/dist`, built by `npm run build` in `web/`) into the binary:
//! writes `$OUT_DIR/console_assets.rs`, a table of every file under `web/dist` with its media
//! type, each file's bytes taken by `include_bytes!`. Without a built console the table is
//! empty and `/` answers a page that says how to build it, so `cargo build` and the tests never
//! need Node.js.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("../web");
    let dist = web.join("dist");
    // Cargo scans a watched directory for changes, so a build of the console that rewrites
    // `dist` re-embeds it. Without `dist` the folder that will hold it is watched instead: a
    // watched path that does not exist would re-run this script (and rebuild the crate) on
    // every build.
    println!("cargo:rerun-if-changed=build.rs");
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else if web.is_dir() {
        println!("cargo:rerun-if-changed={}", web.display());
    }
    let mut files = Vec::new();
    if dist.is_dir() {
        walk(&dist, &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// Every file of the built console: its URL path, media type and bytes.\n\
         pub static ASSETS: &[Asset] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(&dist).expect("walked under dist");
        let url: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let abs = f.canonicalize().expect("walked files exist");
        writeln!(
            out,
            "    Asset {{ path: {:?}, media_type: {:?}, etag: {:?}, bytes: include_bytes!({:?}) }},",
            format!("/{}", url.join("/")),
            media_type(f),
            etag(&std::fs::read(f).expect("walked files are readable")),
            abs.display().to_string(),
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(dest.join("console_assets.rs"), out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        // Dot files are the build's own notes (`.source-hash`), not the console's.
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A weak entity tag of a file's bytes (FNV-1a, 64 bits): weak, since the gzipped and the
/// plain answer share it. It only has to change when the file does, not resist forgery.
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("W/\"{hash:016x}\"")
}

/// The media types a Vite build emits; anything else is served as bytes.
fn media_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}
