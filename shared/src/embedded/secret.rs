//! The local signing secret: random bytes made once in the data directory,
//! readable by the owner only, so tokens stay valid across restarts.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_trait::async_trait;

use crate::config::MIN_JWT_SECRET_BYTES;
use crate::error::Result;
use crate::ports::SigningSecret;

pub struct DataDirSecret {
    path: PathBuf,
}

impl DataDirSecret {
    pub fn new(path: PathBuf) -> Self {
        DataDirSecret { path }
    }
}

#[async_trait]
impl SigningSecret for DataDirSecret {
    async fn load(&self) -> Result<Vec<u8>> {
        Ok(load_or_create(&self.path)?)
    }
}

fn load_or_create(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read(path) {
        anyhow::ensure!(
            existing.len() >= MIN_JWT_SECRET_BYTES,
            "{} is shorter than {MIN_JWT_SECRET_BYTES} bytes; delete it to have a new one made",
            path.display()
        );
        return Ok(existing);
    }
    if let Some(parent) = path.parent() {
        super::private_dir(parent)?;
    }
    let secret: String = (0..2)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(secret.into_bytes())
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let secret = DataDirSecret::new(dir.path().join("jwt-secret"));
        let first = secret.load().await.unwrap();
        assert!(first.len() >= 32);
        assert_eq!(secret.load().await.unwrap(), first);
    }
}
