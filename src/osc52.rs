//! Copying to the user's clipboard with OSC 52, which travels through ssh to the terminal
//! on the user's desk. Inside tmux the sequence is also sent wrapped for passthrough, since
//! tmux keeps applications' clipboard writes to itself unless `set-clipboard on`.

/// The escape sequence that puts `text` on the clipboard. The text is base64-encoded, so
/// nothing in it can end the sequence early.
pub fn sequence(text: &str, in_tmux: bool) -> String {
    let plain = format!("\x1b]52;c;{}\x07", base64(text.as_bytes()));
    if in_tmux {
        // tmux passthrough: DCS tmux; <sequence with ESC doubled> ST
        format!(
            "{plain}\x1bPtmux;{}\x1b\\",
            plain.replace('\x1b', "\x1b\x1b")
        )
    } else {
        plain
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"48213"), "NDgyMTM=");
    }

    #[test]
    fn sequences() {
        assert_eq!(sequence("48213", false), "\x1b]52;c;NDgyMTM=\x07");
        let wrapped = sequence("48213", true);
        assert!(wrapped.starts_with("\x1b]52;c;NDgyMTM=\x07\x1bPtmux;\x1b\x1b]52;c;"));
        assert!(wrapped.ends_with("\x07\x1b\\"));
    }
}
