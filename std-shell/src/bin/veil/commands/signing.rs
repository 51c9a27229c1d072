//! `veil address|sign|verify`: hotkeys and sr25519 signatures.

use anyhow::{Context as _, Result};
use veil::{Error, args, keys};
use veil_core::sign::Signature;

use super::Ctx;
use crate::cli::{KeyArgs, MessageArgs};

#[derive(clap::Args)]
pub(crate) struct AddressArgs {
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(clap::Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    message: MessageArgs,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The signer's SS58 address.
    #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
    address: String,
    #[command(flatten)]
    message: MessageArgs,
    /// 128 hex characters (0x allowed).
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    signature: String,
}

pub(crate) fn address(a: AddressArgs, ctx: &mut Ctx) -> Result<()> {
    let kp = a.key.keypair()?;
    ctx.line(keys::address_of(&kp.public()))
}

pub(crate) fn sign(a: SignArgs, ctx: &mut Ctx) -> Result<()> {
    let kp = a.key.keypair()?;
    let sig = kp.sign(&a.message.bytes()?, &mut rand_core::OsRng);
    ctx.line(sig.to_hex())
}

pub(crate) fn verify(a: VerifyArgs) -> Result<()> {
    let pk = args::parse_hotkey("--address", &a.address)?;
    let sig =
        Signature::from_hex(a.signature.trim()).map_err(|e| Error::value("--signature", e))?;
    pk.verify(&a.message.bytes()?, &sig)
        .map_err(veil_core::Error::from)
        .with_context(|| format!("signature by {}", a.address.trim()))?;
    Ok(())
}
