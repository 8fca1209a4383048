//! `jobtop config`: the configuration in effect, every default written out, passwords
//! masked. The output is itself a valid config file.

use anyhow::Result;

use super::{GlobalArgs, output};
use crate::config::{self, Loaded};

pub fn run(global: &GlobalArgs) -> Result<()> {
    let loaded = config::load(global.config.as_deref())?;
    output::print(&render(&loaded, std::env::var("NO_COLOR").ok().as_deref()))?;
    Ok(())
}

pub fn render(loaded: &Loaded, no_color: Option<&str>) -> String {
    let mut out = String::from("# jobtop: the configuration in effect (defaults included)\n");
    match (&loaded.path, config::default_path()) {
        (Some(path), _) => out.push_str(&format!("# read from {}\n", path.display())),
        (None, Some(default)) => out.push_str(&format!(
            "# no config file ({} does not exist): all defaults\n",
            default.display()
        )),
        (None, None) => out.push_str("# no config directory: all defaults\n"),
    }
    if loaded.config.theme.is_none() {
        out.push_str("# theme unset: \"default\", \"high-contrast\" with --kiosk\n");
    }
    if no_color.is_some_and(|v| !v.is_empty()) {
        out.push_str("# NO_COLOR is set: the theme is \"monochrome\" whatever is configured\n");
    }
    if loaded.config.bell.is_none() {
        out.push_str("# bell unset: rings only with --kiosk\n");
    }
    out.push('\n');
    out.push_str(&loaded.config.to_toml_masked());
    out
}
