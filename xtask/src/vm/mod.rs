// SPDX-License-Identifier: GPL-2.0

//! The VM: QEMU booting or resuming a guest, capturing its console, and stopping it.

pub mod accel;
mod boot;
pub mod snapshot;

pub use boot::*;
