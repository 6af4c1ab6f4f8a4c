// SPDX-License-Identifier: GPL-2.0

//! Source lines for the module's frames in a call trace, from `irqlock.ko`'s debug info,
//! with binutils' `readelf` and `addr2line`.

use crate::cmd;
use std::path::Path;
use std::process::Command;

/// The section and section-relative address of `symbol` in a relocatable object.
fn locate(ko: &Path, symbol: &str) -> Option<(String, u64)> {
    let symbols = cmd::output(Command::new("readelf").arg("-sW").arg(ko))?;
    // Num: Value Size Type Bind Vis Ndx Name
    let (value, index) = symbols.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() >= 8 && fields[7] == symbol).then(|| (fields[1].to_string(), fields[6].to_string()))
    })?;
    let value = u64::from_str_radix(&value, 16).ok()?;
    let sections = cmd::output(Command::new("readelf").arg("-SW").arg(ko))?;
    let section = sections.lines().find_map(|line| {
        let line = line.trim_start().strip_prefix('[')?;
        let (number, rest) = line.split_once(']')?;
        (number.trim() == index).then(|| rest.split_whitespace().next().map(str::to_string)).flatten()
    })?;
    Some((section, value))
}

/// `file:line` of the call at `symbol+offset` (a return address), relative to `root` when
/// the file is under it; the outermost function when the call was inlined.
pub fn source_line(ko: &Path, symbol: &str, offset: u64, root: &Path) -> Option<String> {
    let (section, value) = locate(ko, symbol)?;
    // A return address points after the call; the call itself is one byte earlier.
    let address = value + offset.saturating_sub(1);
    let out = cmd::output(
        Command::new(crate::arch::Arch::binutil_for(ko, "addr2line"))
            .arg("-i")
            .arg("-e")
            .arg(ko)
            .arg("-j")
            .arg(&section)
            .arg(format!("{address:#x}")),
    )?;
    let location = out.lines().rev().find(|l| !l.starts_with("??"))?;
    let (file, line) = location.split_once(':')?;
    let line = line.split_whitespace().next()?;
    let file = Path::new(file);
    let shown = file.strip_prefix(root).unwrap_or(file);
    Some(format!("{}:{line}", shown.display()))
}

/// Splits a frame such as `_RNv...+0x13/0x96` into the symbol and the offset.
pub fn split_frame(frame: &str) -> Option<(&str, u64)> {
    let (symbol, rest) = frame.split_once('+')?;
    let offset = rest.split('/').next()?.strip_prefix("0x")?;
    Some((symbol, u64::from_str_radix(offset, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames() {
        assert_eq!(split_frame("_RNvX+0x13/0x96"), Some(("_RNvX", 0x13)));
        assert_eq!(split_frame("f+0x1a/0x20"), Some(("f", 0x1a)));
        assert_eq!(split_frame("no offset"), None);
    }
}
