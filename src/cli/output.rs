//! Standard output for scripts: written at once, and a reader that went away (`| head`)
//! ends the output quietly instead of a panic.

use std::io::Write;

pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
