//! The REDCap image's build context, embedded in the operator at compile time (step:
//! plan; pure, no I/O).
//!
//! `operator/build.rs` walks `containers/redcap/` (without `tests/`) and compiles every
//! file into the binary. From that set this module derives the *container revision*
//! (sha256 over the sorted `(path, mode, bytes)` triples: equal checkouts give equal
//! revisions) and a deterministic zip of it (fixed timestamps, sorted entries, stored),
//! which the operator uploads under a key that contains the revision. CodeBuild's S3
//! source takes the zip as the build's working directory.

use std::io::{Cursor, Write};
use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/redcap_context.rs"));
}

/// Length of the container revision as used in names and tags (hex characters).
pub const REVISION_LEN: usize = 12;

/// One file of the build context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextFile<'a> {
    /// Path relative to the context directory, with `/` separators.
    pub path: &'a str,
    /// 0o755 or 0o644.
    pub mode: u32,
    pub content: &'a [u8],
}

/// The embedded container definition: its files, revision and zip.
#[derive(Debug)]
pub struct BuildContext {
    pub files: Vec<ContextFile<'static>>,
    /// Full sha256 (hex) of the file set.
    pub revision: String,
    pub zip: Vec<u8>,
}

impl BuildContext {
    /// The first [`REVISION_LEN`] characters of the revision.
    pub fn short_revision(&self) -> &str {
        &self.revision[..REVISION_LEN]
    }
}

/// The context compiled into this operator (computed once).
pub static EMBEDDED: LazyLock<BuildContext> = LazyLock::new(|| {
    let files: Vec<ContextFile<'static>> = embedded::FILES
        .iter()
        .map(|(path, mode, content)| ContextFile { path, mode: *mode, content })
        .collect();
    BuildContext {
        revision: revision(&files),
        // Writing a zip into memory fails only on a bug (entry names are unique paths).
        zip: zip_of(&files).expect("the embedded build context zips"),
        files,
    }
});

/// sha256 over the files, sorted by path: each contributes its path, its mode and its
/// length-prefixed bytes, so no two different sets hash alike by concatenation.
pub fn revision(files: &[ContextFile<'_>]) -> String {
    let mut sorted: Vec<&ContextFile<'_>> = files.iter().collect();
    sorted.sort_by_key(|f| f.path);
    let mut h = Sha256::new();
    h.update(b"redcap-context-v1\0");
    for f in sorted {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(format!("{:o}", f.mode).as_bytes());
        h.update([0]);
        h.update((f.content.len() as u64).to_be_bytes());
        h.update(f.content);
    }
    hex::encode(h.finalize())
}

/// A zip of the files, byte-for-byte reproducible: sorted entries, stored (no
/// compression), the DOS epoch as every timestamp, unix modes kept (entrypoint scripts
/// stay executable).
pub fn zip_of(files: &[ContextFile<'_>]) -> zip::result::ZipResult<Vec<u8>> {
    let mut sorted: Vec<&ContextFile<'_>> = files.iter().collect();
    sorted.sort_by_key(|f| f.path);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for f in sorted {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .unix_permissions(f.mode);
        writer.start_file(f.path, options)?;
        writer.write_all(f.content)?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn file<'a>(path: &'a str, mode: u32, content: &'a [u8]) -> ContextFile<'a> {
        ContextFile { path, mode, content }
    }

    #[test]
    fn the_embedded_context_has_the_contract_readme_and_no_tests() {
        let ctx = &*EMBEDDED;
        assert!(
            ctx.files.iter().any(|f| f.path == "README.md"),
            "{:?}",
            ctx.files.iter().map(|f| f.path).collect::<Vec<_>>()
        );
        assert!(ctx.files.iter().all(|f| !f.path.starts_with("tests/")));
        assert_eq!(ctx.revision, revision(&ctx.files));
        assert_eq!(ctx.revision.len(), 64);
        assert_eq!(ctx.short_revision().len(), REVISION_LEN);
        assert!(!ctx.zip.is_empty());
    }

    #[test]
    fn revision_ignores_order_and_sees_paths_modes_and_bytes() {
        let a = [file("a", 0o644, b"1"), file("b/c", 0o755, b"2")];
        let b = [file("b/c", 0o755, b"2"), file("a", 0o644, b"1")];
        assert_eq!(revision(&a), revision(&b));
        for changed in [
            [file("a", 0o644, b"1"), file("b/d", 0o755, b"2")],
            [file("a", 0o644, b"1"), file("b/c", 0o644, b"2")],
            [file("a", 0o644, b"1"), file("b/c", 0o755, b"3")],
            // Moving a byte from one file to the next is a change too.
            [file("a", 0o644, b"12"), file("b/c", 0o755, b"")],
        ] {
            assert_ne!(revision(&a), revision(&changed), "{changed:?}");
        }
    }

    #[test]
    fn the_zip_is_reproducible_and_holds_every_file_with_its_mode() {
        let files = [
            file("entrypoint.sh", 0o755, b"#!/bin/sh\necho hi\n"),
            file("Dockerfile", 0o644, b"FROM scratch\n"),
            file("conf/a.conf", 0o644, b""),
        ];
        let one = zip_of(&files).expect("zip");
        let mut reversed = files;
        reversed.reverse();
        assert_eq!(one, zip_of(&reversed).expect("zip"), "byte-for-byte reproducible");

        let mut archive = zip::ZipArchive::new(Cursor::new(one)).expect("readable zip");
        assert_eq!(archive.len(), 3);
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).expect("entry").name().expect("name").to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "conf/a.conf", "entrypoint.sh"]);
        for f in &files {
            let mut entry = archive.by_name(f.path).expect("entry");
            assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(f.mode), "{}", f.path);
            let mut content = Vec::new();
            entry.read_to_end(&mut content).expect("read");
            assert_eq!(content, f.content);
        }
    }
}
