//! `jobtop migrate [URL]`: apply the reference schema.

use anyhow::Result;

use crate::backend::native;
use crate::backend::pg::connect::{self, SessionSettings};

pub async fn run(url: Option<&str>) -> Result<()> {
    let opts = super::target(url)?;
    let pool = connect::connect(opts.clone(), &SessionSettings::default()).await?;
    native::migrate(&pool).await?;
    println!(
        "jobtop: reference schema applied to {}",
        connect::describe(&opts)
    );
    Ok(())
}
