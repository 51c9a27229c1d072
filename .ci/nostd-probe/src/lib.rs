//! no_std proof for veil-core: see Cargo.toml.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use veil_core::{Beacon, Chain, Round};

/// An allocator that never allocates: the probe only has to link.
struct NoAlloc;

// SAFETY: returning null is a valid "allocation failed" answer.
unsafe impl GlobalAlloc for NoAlloc {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAlloc = NoAlloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Uses the whole public surface so that all of it is linked.
#[unsafe(no_mangle)]
pub extern "C" fn veil_probe(round: u64, sig: *const u8, len: usize) -> u64 {
    let sig = if sig.is_null() {
        &[][..]
    } else {
        // SAFETY: the caller passes a valid buffer; the probe is never run.
        unsafe { core::slice::from_raw_parts(sig, len) }
    };
    let Ok(chain) = Chain::builtin("quicknet") else { return 0 };
    let Ok(round) = Round::new(round) else { return 0 };
    let ok = chain
        .verify_beacon(&Beacon { round, signature: sig, previous_signature: None })
        .is_ok();
    let info = Chain::from_info_json(sig).is_ok();
    // The timelock formats, addresses, signatures, records and commitments.
    let formats = veil_core::format::detect_whole(sig).is_some();
    let address = core::str::from_utf8(sig)
        .ok()
        .and_then(|s| veil_core::ss58::decode(s).ok())
        .and_then(|(_, pk)| veil_core::sign::PublicKey::from_bytes(&pk).ok())
        .is_some_and(|pk| {
            pk.verify(b"m", &veil_core::sign::Signature::from_bytes([0; 64]))
                .is_ok()
        });
    let record = veil_core::miid::S3Submission::decode(sig).is_ok();
    let commitment = core::str::from_utf8(sig)
        .ok()
        .is_some_and(|s| veil_core::commitment::ReadCommitment::parse(s).is_ok());
    chain.time().time_of(round).unwrap_or(0)
        + [ok, info, formats, address, record, commitment]
            .into_iter()
            .map(u64::from)
            .sum::<u64>()
}
