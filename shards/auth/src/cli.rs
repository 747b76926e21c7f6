//! `switchboard token`: mints a token for tests and demos and prints it on stdout.
//!
//! The key is given as hex on the command line (`--key-hex`) or read from a file (`--key-file`)
//! holding the secret as hex text, or as base64 text prefixed with `base64:`; surrounding whitespace
//! is ignored. The key must be at least 32 bytes, as in the server's keyring.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use super::key::{decode_base64, decode_hex, Keyring};
use super::role::Role;

/// Arguments of `switchboard token`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Tenant id the token is for.
    #[arg(long)]
    pub tenant: u64,
    /// User id (the `sender_id` of this user's messages).
    #[arg(long)]
    pub user: u64,
    /// Role: customer, agent, bot or admin.
    #[arg(long)]
    pub role: Role,
    /// Lifetime in seconds from now.
    #[arg(long, default_value_t = 3_600)]
    pub ttl_secs: u64,
    /// Signing secret as hex (at least 32 bytes).
    #[arg(
        long,
        conflicts_with = "key_file",
        required_unless_present = "key_file"
    )]
    pub key_hex: Option<String>,
    /// File holding the signing secret as hex, or as `base64:` followed by base64.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Key id written into the token; must match the id of this key in the server's `[auth]` keys.
    #[arg(long, default_value = "default")]
    pub key_id: String,
    /// Agent groups (comma-separated group ids); only for `--role agent`.
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<u32>,
    /// The customer's value to the tenant in percent (0-100: tier, spend, history); only for
    /// `--role customer`. It weighs 0.6 when the routing shard picks their agent; unrated customers
    /// count as 50.
    #[arg(long)]
    pub value: Option<u8>,
}

/// Mints the token described by `args` with the current time and prints it on stdout.
///
/// # Errors
///
/// An unreadable or invalid key, an invalid key id, or arguments the token cannot carry.
pub fn run(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let secret = read_secret(args)?;
    let keyring = Keyring::new(vec![(args.key_id.clone(), secret)], &args.key_id, 0)
        .context("invalid signing key")?;
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs();
    let token = keyring
        .mint_rated(
            args.tenant,
            args.user,
            args.role,
            &args.groups,
            args.value,
            now_s,
            args.ttl_secs,
        )
        .context("cannot mint this token")?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn read_secret(args: &TokenArgs) -> anyhow::Result<Vec<u8>> {
    match (&args.key_hex, &args.key_file) {
        (Some(hex), None) => decode_hex(hex.trim()).context("--key-hex is not hex"),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading key file {}", path.display()))?;
            let text = text.trim();
            match text.strip_prefix("base64:") {
                Some(base64) => decode_base64(base64.trim()).context("key file: bad base64"),
                None => {
                    decode_hex(text).context("key file: not hex (prefix base64 with `base64:`)")
                }
            }
        }
        _ => bail!("give exactly one of --key-hex and --key-file"),
    }
}
