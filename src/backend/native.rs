//! The project's own reference schema (`migrations/`, schema `jobtop`).
// TEMPORARY stub until the schema branch lands.
pub struct NativeBackend;
impl NativeBackend {
    pub fn new(_p: sqlx::PgPool) -> Self {
        NativeBackend
    }
}
pub async fn migrate(_p: &sqlx::PgPool) -> anyhow::Result<()> {
    Ok(())
}
#[async_trait::async_trait]
impl super::Backend for NativeBackend {
    fn name(&self) -> &'static str {
        "native"
    }
    fn capabilities(&self) -> super::Capabilities {
        todo!()
    }
    async fn snapshot(&self, _o: &super::SnapshotOptions) -> anyhow::Result<super::Snapshot> {
        todo!()
    }
}
