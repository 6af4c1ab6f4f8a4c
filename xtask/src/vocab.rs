// SPDX-License-Identifier: GPL-2.0

//! The module's named parameters and the names each accepts, as `rust/config.rs` declares
//! them. The harness checks names against these before it builds or boots anything; a test
//! keeps this list equal to the module's.

/// One named module parameter.
pub struct Param {
    pub name: &'static str,
    /// Accepted values; the first is the module's default.
    pub values: &'static [&'static str],
}

pub const LOCK: Param = Param {
    name: "lock",
    values: &[
        "spinlock_irqsave",
        "mutex",
        "spinlock",
        "mutex_contended",
        "mutex_trylock",
        "raw_spinlock_irqsave",
    ],
};
pub const SOURCE: Param =
    Param { name: "source", values: &["hrtimer", "hrtimer_hard", "hrtimer_soft", "edu"] };
pub const HANDLER: Param = Param { name: "handler", values: &["hard", "threaded", "workqueue"] };
pub const IRQ: Param = Param { name: "irq", values: &["intx", "msi"] };

pub const ALL: [&Param; 4] = [&LOCK, &SOURCE, &HANDLER, &IRQ];

/// The module's numeric parameters (`module!`'s `params:` block in `rust/irqlock.rs`); the
/// module range-checks their values itself and refuses a bad one with `EINVAL`.
pub const NUMERIC: [&str; 4] = ["count", "period_us", "cpus", "defer_us"];

impl Param {
    /// `Ok` when `value` is accepted, else a message that names the accepted values.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if self.values.contains(&value) {
            Ok(())
        } else {
            Err(format!("unknown {}={value}; accepted: {}", self.name, self.values.join(", ")))
        }
    }
}

/// The insmod parameters: the named ones given, in this order, then `extra` (`name=value`).
pub fn insmod_params<const N: usize>(named: [(&str, Option<String>); N], extra: Vec<String>) -> Vec<String> {
    let mut params: Vec<String> =
        named.into_iter().filter_map(|(key, value)| value.map(|v| format!("{key}={v}"))).collect();
    params.extend(extra);
    params
}

/// The value given for `name`, if any.
pub fn value_of<'a>(params: &'a [String], name: &str) -> Option<&'a str> {
    params.iter().rev().find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

/// Checks that every parameter is `name=value` with a name the module has, and that a named
/// parameter's value is one it accepts. The kernel itself only warns about an unknown name
/// and loads the module anyway (`unknown_module_param_cb`, kernel/module/main.c), so a typo
/// would otherwise run the default silently.
pub fn check_params(params: &[String]) -> Result<(), String> {
    let names = || ALL.iter().map(|p| p.name).chain(NUMERIC).collect::<Vec<_>>().join(", ");
    for param in params {
        let Some((name, value)) = param.split_once('=') else {
            return Err(format!("{param:?} is not name=value; the module's parameters: {}", names()));
        };
        if let Some(known) = ALL.iter().find(|p| p.name == name) {
            known.check(value)?;
        } else if !NUMERIC.contains(&name) {
            return Err(format!("the module has no parameter {name:?}; its parameters: {}", names()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::project_dir;

    /// The names in `choice_enum!(... Enum, "param", { Variant = "name", ... })` blocks, and
    /// the default of each `choice_param!(param: Enum = Enum::Variant, ...)`.
    fn module_vocabulary(source: &str) -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        for block in source.split("choice_enum!(").skip(1) {
            let body = &block[..block.find("\n);").expect("choice_enum! ends with );")];
            let param = body.split('"').nth(1).expect("a parameter name").to_string();
            let values = body
                .lines()
                .filter_map(|l| l.split_once("= \"").map(|(_, rest)| rest.split('"').next().unwrap_or("")))
                .map(str::to_string)
                .collect();
            found.push((param, values));
        }
        found
    }

    #[test]
    fn the_harness_knows_the_modules_names_in_its_order() {
        let config = std::fs::read_to_string(project_dir().join("rust/config.rs")).unwrap();
        let module = module_vocabulary(&config);
        let ours: Vec<(String, Vec<String>)> = ALL
            .iter()
            .map(|p| (p.name.to_string(), p.values.iter().map(|v| v.to_string()).collect()))
            .collect();
        assert_eq!(ours, module, "xtask/src/vocab.rs must list rust/config.rs's names");
        // The first value is the default: `choice_param!(lock: LockMode = LockMode::X, ...)`.
        for param in ALL {
            let decl = config
                .split("choice_param!(")
                .skip(1)
                .find(|d| d.trim_start().starts_with(&format!("{}:", param.name)))
                .unwrap_or_else(|| panic!("no choice_param! for {}", param.name));
            let description = decl.split('"').nth(1).unwrap();
            assert!(
                description.contains(&format!("{} (default)", param.values[0])),
                "{}: the module's description must name {} as the default: {description:?}",
                param.name,
                param.values[0]
            );
            let all_named = param.values.iter().all(|v| description.contains(v));
            assert!(all_named, "{}: the description must list every name: {description:?}", param.name);
        }
    }

    /// `NUMERIC` is exactly the `params:` block of `module!` (the named ones live in `rust/config.rs`).
    #[test]
    fn the_harness_knows_every_module_parameter() {
        let module = std::fs::read_to_string(project_dir().join("rust/irqlock.rs")).unwrap();
        let block = module.split("params: {").nth(1).expect("module! has a params: block");
        let block = &block[..block.find("\n    },").expect("the params: block ends")];
        let mut declared: Vec<&str> = block
            .lines()
            .filter(|l| l.starts_with("        ") && !l.starts_with("         ") && l.contains(": "))
            .filter_map(|l| l.trim().split(':').next())
            .collect();
        declared.sort_unstable();
        let mut ours: Vec<&str> = NUMERIC.to_vec();
        ours.sort_unstable();
        assert!(!declared.is_empty(), "no parameters found in rust/irqlock.rs");
        assert_eq!(ours, declared, "vocab::NUMERIC must list rust/irqlock.rs's numeric parameters");
    }

    /// The README's parameter table lists the same names, in order, and the default.
    #[test]
    fn the_readme_lists_the_same_names() {
        let readme = std::fs::read_to_string(project_dir().join("README.md")).unwrap();
        for param in ALL {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", param.name)))
                .unwrap_or_else(|| panic!("README.md has no table row for `{}`", param.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let values: Vec<String> = param.values.iter().map(|v| format!("`{v}`")).collect();
            assert_eq!(cells[2], values.join(", "), "README.md's row for {}", param.name);
            assert_eq!(cells[3], format!("`{}`", param.values[0]), "README.md's default for {}", param.name);
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_accepted_ones() {
        assert_eq!(check_params(&["lock=mutex".into(), "count=3".into()]), Ok(()));
        assert_eq!(
            check_params(&["irq=msix".into()]),
            Err("unknown irq=msix; accepted: intx, msi".to_string())
        );
        let typo = check_params(&["perod_us=10".into()]).unwrap_err();
        assert!(typo.contains("no parameter \"perod_us\"") && typo.contains("period_us"), "{typo}");
        assert!(check_params(&["mutex".into()]).unwrap_err().contains("not name=value"));
    }
}
