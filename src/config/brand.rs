//! What the customer pages show about who is asking, beyond the name: the
//! brand logo (`KEYDROP_BRAND_LOGO`) and the addresses keydrop calls
//! Greenhouse from (`KEYDROP_EGRESS_IPS`). Both are read and checked once at
//! start; a bad value stops start-up with a one-line reason.

use crate::domain::net::IpNet;
use std::path::Path;
use std::sync::Arc;

/// Largest logo file accepted.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The brand logo, loaded at start and served from [`BrandLogo::path`].
#[derive(Clone)]
pub struct BrandLogo {
    /// `logo.png` or `logo.svg`.
    file_name: &'static str,
    content_type: &'static str,
    bytes: Arc<[u8]>,
}

impl BrandLogo {
    /// Reads and checks the file at `path`: a PNG (by its signature) or an SVG
    /// (`.svg`, with an `<svg` element), at most [`MAX_LOGO_BYTES`].
    pub fn load(path: &Path) -> Result<Self, String> {
        const VAR: &str = "KEYDROP_BRAND_LOGO";
        let bytes = std::fs::read(path)
            .map_err(|e| format!("{VAR}: cannot read {}: {e}", path.display()))?;
        Self::from_bytes(path, bytes).map_err(|e| format!("{VAR}: {}: {e}", path.display()))
    }

    fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(format!("larger than {} KiB", MAX_LOGO_BYTES / 1024));
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let (file_name, content_type) = match ext.as_deref() {
            Some("png") if bytes.starts_with(b"\x89PNG\r\n\x1a\n") => ("logo.png", "image/png"),
            Some("svg") if std::str::from_utf8(&bytes).is_ok_and(|s| s.contains("<svg")) => {
                ("logo.svg", "image/svg+xml")
            }
            Some("png" | "svg") => return Err("not a valid PNG or SVG file".into()),
            _ => return Err("must be a .png or .svg file".into()),
        };
        Ok(Self {
            file_name,
            content_type,
            bytes: bytes.into(),
        })
    }

    /// Where the pages load it from.
    pub fn path(&self) -> String {
        format!("/static/brand/{}", self.file_name)
    }

    pub fn file_name(&self) -> &str {
        self.file_name
    }

    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    pub fn bytes(&self) -> Arc<[u8]> {
        self.bytes.clone()
    }
}

impl std::fmt::Debug for BrandLogo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BrandLogo({}, {} bytes)",
            self.file_name,
            self.bytes.len()
        )
    }
}

/// An egress address as customers should type it into an allow-list: a single
/// address without its `/32` or `/128`.
pub fn shown(net: &IpNet) -> String {
    let s = net.to_string();
    match s.split_once('/') {
        Some((addr, "32")) if !addr.contains(':') => addr.to_owned(),
        Some((addr, "128")) => addr.to_owned(),
        _ => s,
    }
}

/// `KEYDROP_EGRESS_IPS`: comma-separated addresses or CIDR ranges.
pub fn egress_ips(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| IpNet::parse(s).map_err(|e| format!("KEYDROP_EGRESS_IPS: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_png_or_svg_and_small() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let l = BrandLogo::from_bytes(Path::new("a/Logo.PNG"), png).unwrap();
        assert_eq!(
            (l.path().as_str(), l.content_type()),
            ("/static/brand/logo.png", "image/png")
        );
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#.to_vec();
        let l = BrandLogo::from_bytes(Path::new("logo.svg"), svg).unwrap();
        assert_eq!(l.path(), "/static/brand/logo.svg");
        assert!(format!("{l:?}").contains("bytes"));
        for (name, bytes) in [
            ("logo.png", b"GIF89a".to_vec()),
            ("logo.svg", b"<html></html>".to_vec()),
            ("logo.gif", b"GIF89a".to_vec()),
            ("logo", b"x".to_vec()),
            ("logo.png", vec![0u8; MAX_LOGO_BYTES + 1]),
        ] {
            assert!(
                BrandLogo::from_bytes(Path::new(name), bytes).is_err(),
                "{name}"
            );
        }
        let e = BrandLogo::load(Path::new("/nonexistent/logo.png")).unwrap_err();
        assert!(e.starts_with("KEYDROP_BRAND_LOGO: cannot read"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn egress_ips_are_addresses_or_ranges() {
        let ips =
            egress_ips(&["203.0.113.7".into(), " 198.51.100.0/24 ".into(), "".into()]).unwrap();
        let shown: Vec<String> = ips.iter().map(shown).collect();
        assert_eq!(shown, ["203.0.113.7", "198.51.100.0/24"]);
        let e = egress_ips(&["nope".into()]).unwrap_err();
        assert!(e.starts_with("KEYDROP_EGRESS_IPS: "), "{e}");
    }
}
