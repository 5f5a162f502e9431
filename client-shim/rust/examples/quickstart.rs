//! The README's example: a ConnectionManager that re-AUTHs on every rotation.
//!
//!   TOKENWELL_DIR=/run/tokenwell cargo run --example quickstart -- redis://my-cache:6379/

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokenwell::redis::CredentialsProvider;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let provider = CredentialsProvider::new("redis")?; // $TOKENWELL_DIR, else /run/tokenwell
    let config = ConnectionManagerConfig::new().set_credentials_provider(provider);
    let mut conn = ConnectionManager::new_with_config(redis::Client::open(url)?, config).await?;
    let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
    println!("{pong}");
    Ok(())
}
