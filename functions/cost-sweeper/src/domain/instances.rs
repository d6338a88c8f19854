//! What kind of machine an instance type is, from its name alone.

/// True for CPU instances serverless can replace: not GPU/accelerator
/// (ml.g*, ml.p*, ml.inf*, ml.trn*, ml.dl*) and not Graviton (`g` after the
/// generation digit: ml.c6g, ml.m7g, ml.t4g, ...).
pub fn is_cpu_x86(instance_type: &str) -> bool {
    !is_accelerated(instance_type) && !is_arm(instance_type)
}

fn family(instance_type: &str) -> &str {
    let rest = instance_type.strip_prefix("ml.").unwrap_or(instance_type);
    rest.split('.').next().unwrap_or(rest)
}

pub fn is_accelerated(instance_type: &str) -> bool {
    let family = family(instance_type);
    ["g", "p", "inf", "trn", "dl"].iter().any(|prefix| {
        family
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

pub fn is_arm(instance_type: &str) -> bool {
    let family = family(instance_type);
    let letters = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let after_generation = letters.trim_start_matches(|c: char| c.is_ascii_digit());
    after_generation.starts_with('g')
}
