//! Parsing QEMU-style CPU model strings:
//! `MODEL[,+feat][,-feat][,feat=on|off][,vendor=GenuineIntel|AuthenticAMD][,phys-bits=N]`
//! plus QEMU's `family=`, `model=`, `stepping=`, `level=`, `xlevel=` and
//! `model-id=` properties.

use super::presets::{PRESET_NAMES, preset};
use super::{CpuModel, Feature, Vendor};

/// A CPU model string that cannot be honoured; the message names the culprit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

fn err<T>(msg: String) -> Result<T, ModelError> {
    Err(ModelError(msg))
}

fn parse_num(key: &str, v: &str) -> Result<u64, ModelError> {
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| ModelError(format!("CPU property `{key}` needs a number, got `{v}`")))
}

fn feature(name: &str) -> Result<Feature, ModelError> {
    Feature::from_name(name).ok_or_else(|| {
        ModelError(format!(
            "unknown CPU feature `{name}` (see `nestor cpu --list-features`)"
        ))
    })
}

/// Parses a model string into a model, applying modifiers left to right.
pub fn parse_model(spec: &str) -> Result<CpuModel, ModelError> {
    let mut parts = spec.split(',');
    let name = parts.next().unwrap_or("").trim();
    if name.is_empty() {
        return err("empty CPU model string".into());
    }
    if name == "host" {
        return err(
            "CPU model `host` depends on the host; name a model instead (e.g. `max`)".into(),
        );
    }
    let Some(mut m) = preset(name) else {
        return err(format!(
            "unknown CPU model `{name}` (known: {})",
            PRESET_NAMES.join(", ")
        ));
    };
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(f) = part.strip_prefix('+') {
            m.features.insert(feature(f)?);
            continue;
        }
        if let Some(f) = part.strip_prefix('-') {
            m.features.remove(feature(f)?);
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            // QEMU also accepts a bare feature name as "on".
            m.features.insert(feature(part)?);
            continue;
        };
        match key {
            "vendor" => {
                m.vendor = Vendor::from_id_string(value).ok_or_else(|| {
                    ModelError(format!(
                        "unknown vendor `{value}` (GenuineIntel or AuthenticAMD)"
                    ))
                })?;
            }
            "phys-bits" | "phys_bits" => {
                let n = parse_num(key, value)?;
                if !(32..=52).contains(&n) {
                    return err(format!("phys-bits must be between 32 and 52, got {n}"));
                }
                m.phys_bits = n as u8;
            }
            "family" => m.family = parse_num(key, value)?.min(0xFF + 0xF) as u32,
            "model" => m.model = parse_num(key, value)?.min(0xFF) as u32,
            "stepping" => m.stepping = parse_num(key, value)?.min(0xF) as u32,
            "level" => m.max_leaf = parse_num(key, value)?.min(0x1F) as u32,
            "xlevel" => {
                m.max_ext_leaf = (parse_num(key, value)? as u32).clamp(0x8000_0000, 0x8000_0021)
            }
            "model-id" => m.brand = value.chars().take(47).collect(),
            _ => {
                let f = feature(key)?;
                match value {
                    "on" | "true" | "yes" => m.features.insert(f),
                    "off" | "false" | "no" => m.features.remove(f),
                    _ => return err(format!("feature `{key}` takes on or off, got `{value}`")),
                }
            }
        }
    }
    raise_levels(&mut m);
    Ok(m)
}

/// Raises the maximum CPUID leaves so that every enabled feature is
/// reachable (QEMU's automatic `level`/`xlevel`).
pub fn raise_levels(m: &mut CpuModel) {
    for f in m.features.iter() {
        let leaf = f.info().cpuid.leaf;
        if leaf >= 0x8000_0000 {
            m.max_ext_leaf = m.max_ext_leaf.max(leaf);
        } else {
            m.max_leaf = m.max_leaf.max(leaf);
        }
    }
    if m.has(Feature::Xsave) {
        m.max_leaf = m.max_leaf.max(0xD);
    }
    if m.has(Feature::Svm) {
        m.max_ext_leaf = m.max_ext_leaf.max(0x8000_000A);
    }
    m.max_ext_leaf = m.max_ext_leaf.max(0x8000_0008);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_minus_and_properties() {
        let m = parse_model("max,+vmx,-la57,vendor=AuthenticAMD,phys-bits=40").expect("parse");
        assert!(m.has(Feature::Vmx));
        assert!(!m.has(Feature::La57));
        assert_eq!(m.vendor, Vendor::Amd);
        assert_eq!(m.phys_bits, 40);
    }

    #[test]
    fn feature_on_off_syntax() {
        let m = parse_model("qemu64,x2apic=on,tsc-deadline,sse4_1=on,svm=off").expect("parse");
        assert!(m.has(Feature::X2apic));
        assert!(m.has(Feature::TscDeadline));
        assert!(m.has(Feature::Sse4_1));
        assert!(!m.has(Feature::Svm));
    }

    #[test]
    fn errors_are_clear() {
        let e = parse_model("max,+warp-drive").unwrap_err();
        assert!(e.0.contains("unknown CPU feature `warp-drive`"), "{e}");
        let e = parse_model("pentium9").unwrap_err();
        assert!(e.0.contains("unknown CPU model `pentium9`"), "{e}");
        assert!(parse_model("max,vendor=Cyrix").is_err());
        assert!(parse_model("max,phys-bits=99").is_err());
        assert!(parse_model("max,phys-bits=abc").is_err());
        assert!(parse_model("").is_err());
        assert!(parse_model("host").is_err());
    }

    #[test]
    fn svm_raises_xlevel() {
        let m = parse_model("max,+svm").expect("parse");
        assert!(m.max_ext_leaf >= 0x8000_000A);
    }
}
